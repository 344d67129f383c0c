/**
 * `prune-nm`: N:M semi-structured sparsity. In every output row, weights are taken in groups of m
 * consecutive input features (per kernel position for convs) and the n lowest-scoring ones in each
 * group become zero: 2:4 is the pattern NVIDIA's sparse tensor cores run at twice the math rate.
 * Scores are |w|, or Wanda's |W_ij|·‖X_j‖₂ with calibration norms (Wanda supports N:M the same way).
 *
 * When the input features K are not a multiple of m, the last group has t = K mod m weights. It is
 * treated as if padded with zeros to m (as sparse kernels pad K): the padding counts as pruned first,
 * so the tail loses max(0, n − (m − t)) real weights and the padded group still holds n zeros.
 *
 * onnxruntime on CPU has no N:M kernel: like any unstructured zeros this only shrinks the compressed
 * file. The pattern matters for export to runtimes that have one.
 */
import { UserError } from '../../core/errors';
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { featureNorms, lazyShapes, surveyLayers, type PrunableLayer } from './layers';
import { markLowest } from './select';
import { commitWeight, elementScores, finishReport, gzipBytes, weightCopy, zeroCount, type LayerOutcome } from './unstructured';

const PASS = 'prune-nm';

export interface PruneNmOptions {
  n: number;
  m: number;
}

function parseOptions(raw: RawOptions): PruneNmOptions {
  const r = new OptionReader(PASS, raw);
  const n = r.number('n', 2, { min: 1, integer: true });
  const m = r.number('m', 4, { min: 2, max: 64, integer: true });
  r.done();
  if (m <= n) throw new UserError(`${PASS}: m must be greater than n (got n=${n}, m=${m})`);
  return { n, m };
}

/** Zeros to make in a group of `size` real weights so the group padded to m holds n zeros. */
export function zerosInGroup(size: number, n: number, m: number): number {
  return Math.max(0, n - (m - size));
}

/** Applies the N:M pattern along the input features of every (row, kernel position). */
function pruneLayer(layer: PrunableLayer, values: Float32Array, scores: Float64Array, { n, m }: PruneNmOptions): void {
  const g = layer.geometry;
  for (let r = 0; r < g.rows; r++) {
    for (let p = 0; p < g.positions; p++) {
      for (let start = 0; start < g.features; start += m) {
        const size = Math.min(m, g.features - start);
        const idx = Array.from({ length: size }, (_, j) => g.index(r, start + j, p));
        markLowest(Float64Array.from(idx, (i) => scores[i]), zerosInGroup(size, n, m), (j) => (values[idx[j]] = 0));
      }
    }
  }
}

function pruneTarget(ctx: PassContext, layer: PrunableLayer, options: PruneNmOptions, shapes: ReturnType<typeof lazyShapes>): LayerOutcome {
  const values = weightCopy(layer);
  const zerosBefore = zeroCount(values);
  const norms = featureNorms(layer, ctx.calibration, shapes);
  pruneLayer(layer, values, elementScores(layer, values, norms), options);
  commitWeight(layer.weight.tensor, values);
  return { layer, zerosBefore, zerosAfter: zeroCount(values), count: values.length, method: `${options.n}:${options.m} ${norms ? 'wanda |W|·‖X‖' : 'magnitude'}` };
}

function run(ctx: PassContext, options: PruneNmOptions): PassReport {
  const report = emptyReport(PASS, { ...options });
  const survey = surveyLayers(ctx);
  const gzipBefore = gzipBytes(ctx.model);
  const skipped = [...survey.skipped];
  const owners = new Map<object, string>();
  const outcomes: LayerOutcome[] = [];
  const shapes = lazyShapes(ctx);
  for (const layer of survey.layers) {
    const owner = owners.get(layer.weight.tensor);
    if (owner) skipped.push({ name: layer.name, opType: layer.opType, reason: `shares its weight with ${owner}, pruned there` });
    else {
      owners.set(layer.weight.tensor, layer.name);
      outcomes.push(pruneTarget(ctx, layer, options, shapes));
    }
  }
  finishReport(report, ctx.model, outcomes, skipped, gzipBefore);
  if (outcomes.some((o) => o.layer.geometry.features % options.m !== 0)) {
    report.warnings.push(`some layers have input features not divisible by ${options.m}: their last group was treated as padded with zeros to ${options.m}`);
  }
  return report;
}

export const pruneNmPass: PassDefinition<PruneNmOptions> = {
  name: PASS,
  description: 'N:M semi-structured sparsity (2:4 by default) along the input dimension; smaller compressed file, no CPU speed-up in onnxruntime',
  parseOptions,
  run,
};
