/**
 * From per-layer sensitivities to a per-layer recommendation for a fidelity floor, and a ranking of
 * layers from most to least sensitive.
 */
import type { LayerRecommendation, LayerSensitivity, SensitivityRecommendation } from '../../core/reports';

export const RECOMMENDATION_HEURISTIC =
  'Per layer: the highest pruning level, and int8, whose own cosine (only that layer changed) is >= the floor. ' +
  'Combined: for small errors 1 - cosine ~ |e|^2 / (2 |y|^2), and independent errors add in energy, so the deficits ' +
  '(1 - cosine) of all chosen variants are summed to predict the combined model: predictedCosine = 1 - sum. ' +
  'This ignores interactions (correlated errors can add up faster or cancel; int8 on a pruned layer is counted as if the two were independent). ' +
  'While predictedCosine < floor, the setting with the largest deficit per fp32 weight byte it saves (int8 saves 3/4 of the layer, ' +
  'pruning the pruned fraction, counting zeros as free) is stepped back: sparsity to the next lower level, int8 to float32. ' +
  'Verify the combined model with `onnx-lean compare`.';

interface Choice {
  layer: LayerSensitivity;
  /** Index into layer.prune of the chosen level, or -1 for none. */
  prune: number;
  int8: boolean;
}

const deficitOf = (cosine: number): number => Math.max(0, 1 - cosine);

function pruneDeficit(c: Choice): number {
  return c.prune >= 0 ? deficitOf(c.layer.prune[c.prune].cosine) : 0;
}

function int8Deficit(c: Choice): number {
  return c.int8 && c.layer.int8 ? deficitOf(c.layer.int8.cosine) : 0;
}

/** The highest pruning level whose cosine is >= floor (levels are sorted ascending). */
function bestLevel(layer: LayerSensitivity, floor: number): number {
  for (let i = layer.prune.length - 1; i >= 0; i--) if (layer.prune[i].cosine >= floor && layer.prune[i].level > 0) return i;
  return -1;
}

interface Step {
  choice: Choice;
  apply(): void;
  gain: number;
  from: string;
  to: string;
  ratio: number;
}

const levelText = (c: Choice, i: number): string => (i >= 0 ? `sparsity ${c.layer.prune[i].level}` : 'sparsity 0');

/** The steps back available: each layer's sparsity to the next lower level, int8 to float32. */
function stepsBack(choices: Choice[]): Step[] {
  const steps: Step[] = [];
  for (const c of choices) {
    if (c.prune >= 0) {
      const lower = c.prune - 1;
      const saved = (c.layer.prune[c.prune].level - (lower >= 0 ? c.layer.prune[lower].level : 0)) * c.layer.params;
      const gain = pruneDeficit(c) - (lower >= 0 ? deficitOf(c.layer.prune[lower].cosine) : 0);
      steps.push({ choice: c, apply: () => (c.prune = lower), gain, from: levelText(c, c.prune), to: levelText(c, lower), ratio: gain / Math.max(saved, 1) });
    }
    if (c.int8) {
      const gain = int8Deficit(c);
      steps.push({ choice: c, apply: () => (c.int8 = false), gain, from: 'int8', to: 'float32', ratio: gain / Math.max(0.75 * c.layer.params, 1) });
    }
  }
  return steps.filter((s) => s.gain > 0);
}

const total = (choices: Choice[]): number => choices.reduce((sum, c) => sum + pruneDeficit(c) + int8Deficit(c), 0);

/** Per-layer sparsity and precision for `floor`, with the greedy compounding check (see the heuristic text). */
export function recommend(layers: LayerSensitivity[], floor: number): SensitivityRecommendation {
  const choices: Choice[] = layers.map((layer) => ({ layer, prune: bestLevel(layer, floor), int8: layer.int8 !== null && layer.int8.cosine >= floor }));
  const budget = 1 - floor;
  const backedOff: SensitivityRecommendation['backedOff'] = [];
  while (total(choices) > budget) {
    const steps = stepsBack(choices);
    if (steps.length === 0) break;
    const worst = steps.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    backedOff.push({ name: worst.choice.layer.name, from: worst.from, to: worst.to, deficit: worst.gain });
    worst.apply();
  }
  const out: LayerRecommendation[] = choices.map((c) => ({
    name: c.layer.name,
    opType: c.layer.opType,
    params: c.layer.params,
    sparsity: c.prune >= 0 ? c.layer.prune[c.prune].level : 0,
    precision: c.int8 ? 'int8' : 'float32',
    deficit: pruneDeficit(c) + int8Deficit(c),
  }));
  return { floor, layers: out, predictedCosine: 1 - total(choices), backedOff, heuristic: RECOMMENDATION_HEURISTIC };
}

/**
 * A layer's sensitivity score: the mean noise-to-signal ratio |y - y'|^2 / |y|^2 = 10^(-SQNR/10) over
 * its int8 and pruning variants (0 when identical). Unlike 1 - cosine it keeps growing once outputs are
 * badly damaged (cosine of softmax probabilities saturates), so it ranks the damaging layers too.
 */
export function sensitivityScore(layer: LayerSensitivity): number {
  const variants = [...(layer.int8 ? [layer.int8] : []), ...layer.prune];
  const nsr = variants.map((v) => (v.sqnrDb === null ? 0 : 10 ** (-v.sqnrDb / 10)));
  return nsr.length ? nsr.reduce((a, b) => a + b, 0) / nsr.length : 0;
}

/** Layers from most to least sensitive (layers without measurements left out). */
export function rankLayers(layers: LayerSensitivity[]): LayerSensitivity[] {
  return layers.filter((l) => l.int8 || l.prune.length).sort((a, b) => sensitivityScore(b) - sensitivityScore(a));
}
