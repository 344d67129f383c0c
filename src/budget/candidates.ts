/**
 * The planner's search order: configurations from the least to the most lossy, so that the first one
 * meeting every limit is also (as far as can be known before measuring) the most faithful.
 *
 * 1. the model as it is;
 * 2. graph: cleanup + onnxruntime's offline graph optimization at level extended (lossless; only
 *    when the budget limits latency, the one thing it can improve);
 * 3. fp16 (near lossless; smaller, no faster on CPU);
 * 4. int8: static QDQ first when convolutions carry most of the work and the pass exists, dynamic
 *    first otherwise (ORT fuses each for its family; see presets.ts);
 * 5. int4 weights (MatMulNBits);
 * 6. structured pruning passes in the registry ("prune-*" whose description says structured), removing
 *    25 % then 50 %, each followed by the `distill` pass (layer-wise reconstruction) when it exists.
 * Lossy candidates whose only failure is fidelity are followed by greedy fp32 fallback (planner.ts).
 */
import type { InspectReport } from '../core/reports';
import type { PassDefinition, RawOptions } from '../passes/pass';
import type { PassStep } from '../pipeline/presets';

export interface Candidate {
  label: string;
  steps: PassStep[];
  /** Layer names kept in fp32. */
  exclude: string[];
  /** The pass whose changes define the candidate: if it changed nothing, the candidate is skipped. */
  main?: string;
  /** Whether greedy fp32 fallback applies (quantization passes). */
  fallback: boolean;
  /** Why the candidate cannot be built, when known up front. */
  skip?: string;
}

const PRUNE_LEVELS = [0.25, 0.5];
const FALLBACK_PASSES = new Set(['int8-dynamic', 'int8-static', 'int4-weights', 'fp16']);

const step = (name: string, options: RawOptions = {}): PassStep => ({ name, options });

export function describeStep(s: PassStep): string {
  const options = Object.entries(s.options).map(([k, v]) => `${k}=${v}`);
  return options.length ? `${s.name}:${options.join(',')}` : s.name;
}

function work(report: InspectReport): { conv: number; matmul: number } {
  let [conv, matmul] = [0, 0];
  for (const l of report.layers) {
    const w = l.macs ?? l.params;
    if (l.opType === 'Conv' || l.opType === 'ConvTranspose') conv += w;
    else if (l.opType === 'MatMul' || l.opType === 'Gemm') matmul += w;
  }
  return { conv, matmul };
}

function single(passes: ReadonlyMap<string, PassDefinition>, name: string, label = name, options: RawOptions = {}): Candidate[] {
  if (!passes.has(name)) return [];
  const steps = passes.has('cleanup') && name !== 'cleanup' ? [step('cleanup'), step(name, options)] : [step(name, options)];
  return [{ label, steps, exclude: [], main: name, fallback: FALLBACK_PASSES.has(name) }];
}

/** Structured pruning removes channels or heads, so the model gets smaller and faster in onnxruntime;
 * unstructured and N:M sparsity keep dense tensors (no smaller file, no CPU speed-up) and are left out. */
export function isStructuredPruning(pass: PassDefinition): boolean {
  return pass.name.startsWith('prune-') && /\bstructured\b/i.test(pass.description) && !/unstructured|semi-structured/i.test(pass.description);
}

/** The first level option the pass accepts ("ratio" for channel pruning, else "sparsity"), or why none. */
function levelOptions(pass: PassDefinition, level: number): RawOptions | string {
  let lastError = '';
  for (const key of ['ratio', 'sparsity']) {
    const options = { [key]: String(level) };
    try {
      pass.parseOptions(options);
      return options;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
  }
  return lastError;
}

function pruneCandidates(passes: ReadonlyMap<string, PassDefinition>): Candidate[] {
  const structured = [...passes.values()].filter(isStructuredPruning).sort((a, b) => a.name.localeCompare(b.name));
  const distill = passes.has('distill');
  return structured.flatMap((pass) =>
    PRUNE_LEVELS.map((level): Candidate => {
      const label = `${pass.name} ${level * 100} %${distill ? ' + distill' : ''}`;
      const options = levelOptions(pass, level);
      if (typeof options === 'string') return { label, steps: [], exclude: [], fallback: false, skip: `options not understood: ${options}` };
      const steps = [...single(passes, pass.name, label, options)[0].steps, ...(distill ? [step('distill')] : [])];
      return { label, steps, exclude: [], main: pass.name, fallback: false };
    }),
  );
}

/**
 * Candidates in search order for the model `report` describes, from the passes that exist now. The
 * graph candidate only helps latency, so it is left out when the budget limits none.
 */
export function searchOrder(report: InspectReport, passes: ReadonlyMap<string, PassDefinition>, limits: { latency: boolean }): Candidate[] {
  const { conv, matmul } = work(report);
  const graph: Candidate[] =
    limits.latency && passes.has('ort-optimize') && passes.has('cleanup')
      ? [{ label: 'graph (ORT extended)', steps: [step('cleanup'), step('ort-optimize', { level: 'extended' })], exclude: [], main: 'ort-optimize', fallback: false }]
      : [];
  const dynamic = matmul > 0 ? single(passes, 'int8-dynamic') : [];
  const staticQdq = single(passes, 'int8-static');
  const int8 = conv > matmul ? [...staticQdq, ...dynamic] : [...dynamic, ...staticQdq];
  return [
    { label: 'as is', steps: [], exclude: [], fallback: false },
    ...graph,
    ...single(passes, 'fp16'),
    ...int8,
    ...(matmul > 0 ? single(passes, 'int4-weights') : []),
    ...pruneCandidates(passes),
  ];
}
