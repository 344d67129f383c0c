/** End-to-end fidelity of student vs teacher on held-out samples, from captured graph outputs. */
import { compareSamples, type OutputFidelity, type SampleOutputs } from '../../analysis/fidelity';
import type { Activations } from '../../runtime/activations';
import type { GraphProto } from '../../onnx/types';
import { DataType } from '../../onnx/dtypes';

export interface EndToEnd {
  /** Mean over outputs of the mean per-sample cosine. */
  cosine: number;
  /** Mean over outputs of the SQNR in dB (Infinity when identical). */
  sqnrDb: number;
  outputs: OutputFidelity[];
}

/** Graph outputs both models have that can be compared as float tensors. */
export function comparableOutputs(student: GraphProto, teacher: GraphProto): string[] {
  const inTeacher = new Set(teacher.output.map((v) => v.name));
  return student.output
    .filter((v) => v.name && inTeacher.has(v.name))
    .filter((v) => {
      const t = v.type?.tensor_type?.elem_type;
      return t === undefined || t === DataType.FLOAT;
    })
    .map((v) => v.name as string);
}

function samplesOf(acts: Activations, outputs: string[], indices: readonly number[]): SampleOutputs[] {
  return indices.map((s) => Object.fromEntries(outputs.map((name) => {
    const t = acts.get(name);
    if (!t) throw new Error(`output ${name} was not captured`);
    return [name, { data: t.data[s], dims: t.sampleDims[s] }];
  })));
}

/** Compares the student's outputs (at `studentIdx`) with the teacher's (at `teacherIdx`). */
export function endToEnd(teacher: Activations, teacherIdx: readonly number[], student: Activations, studentIdx: readonly number[], outputs: string[]): EndToEnd {
  const per = compareSamples(samplesOf(teacher, outputs, teacherIdx), samplesOf(student, outputs, studentIdx));
  const mean = (f: (o: OutputFidelity) => number) => (per.length ? per.reduce((s, o) => s + f(o), 0) / per.length : NaN);
  return { cosine: mean((o) => o.cosineMean), sqnrDb: mean((o) => o.sqnrDb), outputs: per };
}

/** "cos 0.9812, SQNR 14.2 dB" */
export function describeFidelity(f: EndToEnd): string {
  const sqnr = Number.isFinite(f.sqnrDb) ? `${f.sqnrDb.toFixed(2)} dB` : f.sqnrDb > 0 ? 'exact' : `${f.sqnrDb} dB`;
  return `cos ${f.cosine.toFixed(5)}, SQNR ${sqnr}`;
}
