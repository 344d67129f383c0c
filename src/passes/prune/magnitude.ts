/**
 * `prune-magnitude`: unstructured pruning of Conv/ConvTranspose/Gemm/MatMul weights to a sparsity.
 *
 * scope=layer prunes every layer to the same sparsity (its smallest |w|); scope=global uses one
 * magnitude threshold for all layers together, so layers of small weights lose more. `layers=` gives
 * chosen layers their own sparsity. With calibration norms ‖X_j‖₂ of a layer's input (Wanda,
 * locuslab/wanda), weights are scored |W_ij|·‖X_j‖₂ and compared within each output row; scope=global
 * then only decides how much each layer loses. The zeros make the file compress better; onnxruntime
 * on CPU runs the dense shapes at the same speed (see REFERENCE.md).
 */
import { OptionReader } from '../options';
import { emptyReport, type LayerSkip, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { checkLayerNames, parseLayerValues } from './layerOptions';
import { featureNorms, lazyShapes, surveyLayers, type PrunableLayer } from './layers';
import { globalCounts, markLowest } from './select';
import { commitWeight, elementScores, finishReport, gzipBytes, rowIndices, weightCopy, zeroCount, type LayerOutcome } from './unstructured';

const PASS = 'prune-magnitude';
const DEFAULT_SPARSITY = 0.5;

export interface PruneMagnitudeOptions {
  /** Sparsity of layers not named in `layers`; undefined: only named layers are pruned. */
  sparsity?: number;
  layers: Map<string, number>;
  scope: 'global' | 'layer';
}

function parseOptions(raw: RawOptions): PruneMagnitudeOptions {
  const r = new OptionReader(PASS, raw);
  const layers = parseLayerValues(PASS, 'layers', r.list('layers'), { max: 1 });
  const sparsity = raw.sparsity !== undefined || layers.size === 0 ? r.number('sparsity', DEFAULT_SPARSITY, { min: 0, max: 1, maxExclusive: true }) : undefined;
  const options: PruneMagnitudeOptions = { sparsity, layers, scope: r.choice('scope', ['global', 'layer'] as const, 'layer') };
  r.done();
  return options;
}

interface Target {
  layer: PrunableLayer;
  /** Weights to zero in this layer. */
  count: number;
}

/** Layers to prune with their sparsity; a weight shared by several layers is pruned once. */
function targetsOf(layers: PrunableLayer[], options: PruneMagnitudeOptions, skipped: LayerSkip[]): { layer: PrunableLayer; sparsity?: number; explicit: boolean }[] {
  const owners = new Map<object, string>();
  const out: { layer: PrunableLayer; sparsity?: number; explicit: boolean }[] = [];
  for (const layer of layers) {
    const explicit = options.layers.get(layer.name);
    const owner = owners.get(layer.weight.tensor);
    if (owner) skipped.push({ name: layer.name, opType: layer.opType, reason: `shares its weight with ${owner}, pruned there` });
    else if (explicit === undefined && options.sparsity === undefined) skipped.push({ name: layer.name, opType: layer.opType, reason: 'not listed in layers=' });
    else {
      owners.set(layer.weight.tensor, layer.name);
      out.push({ layer, sparsity: explicit ?? options.sparsity, explicit: explicit !== undefined });
    }
  }
  return out;
}

function magnitudes(layer: PrunableLayer): Float32Array {
  return weightCopy(layer).map(Math.abs);
}

/** Zero counts per layer: explicit and scope=layer ones from their own sparsity, the rest from one global threshold. */
function countsOf(targets: ReturnType<typeof targetsOf>, options: PruneMagnitudeOptions): Target[] {
  const size = (l: PrunableLayer) => l.weight.tensor.dims.reduce<number>((a, d) => a * Number(d), 1);
  const pooled = options.scope === 'global' ? targets.filter((t) => !t.explicit) : [];
  const pooledTotal = pooled.reduce((n, t) => n + size(t.layer), 0);
  const shares = globalCounts(pooled.map((t) => magnitudes(t.layer)), Math.round((options.sparsity ?? 0) * pooledTotal));
  return targets.map((t) => {
    const k = pooled.indexOf(t);
    return { layer: t.layer, count: k >= 0 ? shares[k] : Math.round((t.sparsity ?? 0) * size(t.layer)) };
  });
}

/** Wanda: the same fraction of every output row, lowest |W|·‖X‖ first. */
function pruneRows(layer: PrunableLayer, values: Float32Array, scores: Float64Array, fraction: number): void {
  for (let r = 0; r < layer.geometry.rows; r++) {
    const idx = rowIndices(layer, r);
    const rowScores = Float64Array.from(idx, (i) => scores[i]);
    markLowest(rowScores, Math.round(fraction * idx.length), (j) => (values[idx[j]] = 0));
  }
}

function pruneTarget(ctx: PassContext, t: Target, shapes: ReturnType<typeof lazyShapes>): LayerOutcome {
  const values = weightCopy(t.layer);
  const zerosBefore = zeroCount(values);
  const norms = featureNorms(t.layer, ctx.calibration, shapes);
  if (norms) pruneRows(t.layer, values, elementScores(t.layer, values, norms), t.count / values.length);
  else markLowest(elementScores(t.layer, values), t.count, (i) => (values[i] = 0));
  commitWeight(t.layer.weight.tensor, values);
  return { layer: t.layer, zerosBefore, zerosAfter: zeroCount(values), count: values.length, method: norms ? 'wanda |W|·‖X‖ per output row' : 'magnitude' };
}

function run(ctx: PassContext, options: PruneMagnitudeOptions): PassReport {
  const report = emptyReport(PASS, { sparsity: options.sparsity, layers: Object.fromEntries(options.layers), scope: options.scope });
  const survey = surveyLayers(ctx);
  checkLayerNames(PASS, options.layers.keys(), survey.names, 'layer');
  const gzipBefore = gzipBytes(ctx.model);
  const skipped = [...survey.skipped];
  const targets = countsOf(targetsOf(survey.layers, options, skipped), options);
  const shapes = lazyShapes(ctx);
  const outcomes = targets.map((t) => pruneTarget(ctx, t, shapes));
  finishReport(report, ctx.model, outcomes, skipped, gzipBefore);
  return report;
}

export const pruneMagnitudePass: PassDefinition<PruneMagnitudeOptions> = {
  name: PASS,
  description: 'Unstructured pruning: zero the smallest weights (Wanda |W|·‖X‖ with calibration) to a sparsity; smaller compressed file, no CPU speed-up',
  parseOptions,
  run,
};
