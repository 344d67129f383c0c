/**
 * `distill`: layer-wise reconstruction of a compressed student (ctx.model) from its teacher (the model
 * before the preceding passes, ctx.teacher) without autograd. For every Gemm/MatMul with a constant
 * 2-D weight and every 2-D Conv (im2col rows), in topological order, layer after layer:
 *
 *   X = the CURRENT student's input activations to the layer (so earlier refits are accounted for),
 *   Y = the teacher's output of the layer with the same node name, restricted to the output channels
 *       the student kept when channels were removed (see teacher.ts for how they are identified),
 *   [W'; b'] = argmin ‖[X 1]·[W; b] − Y‖² + λ‖[W; b] − [W₀; b₀]‖², λ = ridge · trace(XᵀX)/K,
 *
 * solved in Float64 by Cholesky (src/linalg), the bias jointly (bias correction). Weights that are
 * exactly zero in the student (unstructured or N:M masks) stay exactly zero: masked least squares per
 * output column, SparseGPT-style for big layers. A refit is kept only if it lowers the layer's own
 * output error on held-out rows (samples with other seeds, or the last quarter of --data); the
 * end-to-end fidelity on the held-out samples is reported before and after, and if it got worse every
 * original weight is restored.
 *
 * `width=<0..1>` first narrows every prunable channel group with prune-channels (ratio 1 − width) and
 * then fits the narrowed student: distillation into a smaller network.
 *
 * Cost: every wave of independent layers is one worker job (the current student's inputs, run with
 * onnxruntime at optimization 'disabled' so tensor names survive); teacher targets are captured ahead
 * for as many waves as fit 192 MiB. Rows per layer are subsampled to max_rows (fewer for very wide
 * layers, never below 4 per unknown), held-out rows to a quarter of that.
 */
import { UserError } from '../../core/errors';
import { encodeModel } from '../../onnx/encode';
import { decodeBuffer } from '../../onnx/io';
import type { ModelProto } from '../../onnx/types';
import { emptyReport, type PassContext, type PassDefinition, type PassReport } from '../pass';
import { pruneChannelsPass } from '../prune/channels';
import { modelScopes } from '../quant/weights';
import { comparableOutputs, describeFidelity, type EndToEnd } from './endToEnd';
import { parseDistillOptions, PASS, type DistillOptions } from './options';
import { planWaves } from './plan';
import { DistillRun, type TeacherContext } from './run';
import { selectLayers } from './select';
import { teacherGraph } from './teacher';

export type { DistillOptions } from './options';

/**
 * The teacher as bytes and as its own decoded object, taken before anything changes the student: a
 * pipeline that hands the working model itself, or a copy sharing its tensors, cannot alias it.
 */
function snapshotTeacher(teacher: TeacherContext): { bytes: Uint8Array; model: ModelProto } {
  const bytes = encodeModel(teacher.model);
  return { bytes, model: decodeBuffer(bytes, 'teacher') };
}

async function narrow(ctx: PassContext, width: number, report: PassReport): Promise<void> {
  const pruned = await pruneChannelsPass.run(ctx, pruneChannelsPass.parseOptions({ ratio: String(1 - width) }));
  for (const c of pruned.changed) report.changed.push({ ...c, action: `width ${width}: ${c.action}` });
  for (const s of pruned.skipped) report.skipped.push({ ...s, reason: `width ${width}: ${s.reason}` });
  report.warnings.push(...pruned.warnings.map((w) => `prune-channels: ${w}`));
  for (const [k, v] of Object.entries(pruned.stats)) report.stats[`width.${k}`] = v;
}

function recordFidelity(report: PassReport, session: DistillRun, after: EndToEnd | undefined, reverted: boolean): void {
  const before = session.before;
  const finite = (key: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) report.stats[key] = v;
  };
  finite('cosineBefore', before?.cosine);
  finite('sqnrDbBefore', before?.sqnrDb);
  const final = reverted ? before : after;
  finite('cosineAfter', final?.cosine);
  finite('sqnrDbAfter', final?.sqnrDb);
  if (!before || !after || reverted || session.exact || !session.outputs.length) return;
  if (!session.changes.length) report.warnings.push(`no layer was refitted (see the skipped list): end-to-end fidelity stays at ${describeFidelity(before)}`);
  else if (!(after.sqnrDb > before.sqnrDb)) report.warnings.push(`end-to-end fidelity on held-out samples did not improve (${describeFidelity(before)} -> ${describeFidelity(after)})`);
}

async function run(ctx: PassContext, options: DistillOptions): Promise<PassReport> {
  const report = emptyReport(PASS, { ...options });
  const teacher = ctx.teacher;
  if (!teacher) throw new UserError(`${PASS} needs the teacher (the model before the preceding passes), which this front end does not provide`);
  const started = performance.now();
  const snapshot = snapshotTeacher(teacher);
  const teacherModel = snapshot.model;
  const teacherSource = teacher.path ?? snapshot.bytes;
  if (options.width !== undefined && options.width < 1) await narrow(ctx, options.width, report);
  const student = modelScopes(ctx.model)[0];
  const candidates = selectLayers(ctx, student, teacherGraph(teacherModel), options, report);
  const outputs = comparableOutputs(student.graph, teacherModel.graph as NonNullable<ModelProto['graph']>);
  if (!outputs.length) report.warnings.push('student and teacher share no float output: end-to-end fidelity is not measured');
  const session = new DistillRun(ctx, teacher, teacherSource, teacherModel, student, options, report, outputs);
  const waves = planWaves(student, candidates);
  for (let i = 0; i < waves.length; i++) {
    await session.pause();
    await session.runWave(waves, i, `distill: layers ${i + 1}/${waves.length}`);
    if (session.exact) {
      report.warnings.push('the student already reproduces the teacher exactly on the held-out samples: nothing to fit');
      break;
    }
  }
  if (!candidates.length) report.warnings.push('no layer to refit: see the skipped list');
  const refitted = session.changes.length;
  const after = await session.finish();
  recordFidelity(report, session, after, refitted > 0 && session.changes.length === 0);
  Object.assign(report.stats, {
    layersRefit: session.changes.length,
    layersKept: report.stats.layersKept ?? 0,
    waves: waves.length,
    samplesFit: session.split?.fit.length ?? 0,
    samplesHeldOut: session.split?.held.length ?? 0,
    captures: session.timings.captures,
    teacherCaptures: session.timings.teacherRuns,
    captureMs: Math.round(session.timings.capture),
    fitMs: Math.round(session.timings.fit),
    totalMs: Math.round(performance.now() - started),
  });
  return report;
}

export const distillPass: PassDefinition<DistillOptions> = {
  name: PASS,
  description: 'Refit compressed layers to the original model (teacher) by least squares on calibration activations, layer after layer; keeps pruning masks; optionally narrows the network first (width=)',
  parseOptions: parseDistillOptions,
  run,
};
