/**
 * Importance of each unit of a channel group (DepGraph's group importance): every member weight's
 * norm over the positions a unit owns, normalized by that member's mean so that a wide consumer does
 * not drown a narrow producer, summed over members. With calibration norms ‖X_j‖ of the activations a
 * consumer reads, `activation` scores a channel by how much the next layers actually receive from
 * it: Σ_consumers ‖W[:, j]‖₂ · ‖X_j‖₂, Wanda's score lifted to whole channels.
 */
import { tensorValues } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/types';
import type { CalibrationData } from '../pass';
import type { WeightMember } from './analyzer';
import { compensable, inputMeans } from './compensate';
import type { ChannelAnalysis, ChannelGroup } from './groups';

export type ScoreMethod = 'l2' | 'l1' | 'activation';

export interface GroupScores {
  /** One score per unit; lower means less important. */
  scores: Float64Array;
  /** Whether calibration norms were used (score=activation found statistics for this group). */
  activationAware: boolean;
}

/** Per-position Σ|v|^p along `axis` (p = 1 or 2) of a tensor of `dims`. */
export function axisPowerSums(values: ArrayLike<number>, dims: readonly number[], axis: number, p: 1 | 2): Float64Array {
  const length = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    out[Math.floor(i / inner) % length] += p === 2 ? v * v : v;
  }
  return out;
}

/** Sums per-position numbers into the group's units (unit u owns perUnit consecutive positions). */
function perUnit(positions: Float64Array, m: WeightMember, factor: number, units: number): Float64Array {
  const out = new Float64Array(units);
  for (let u = 0; u < units; u++) for (let t = 0; t < factor; t++) out[u] += positions[m.segment.offset + u * factor + t];
  return out;
}

function addNormalized(into: Float64Array, part: Float64Array): void {
  const mean = part.reduce((s, v) => s + v, 0) / part.length;
  if (!(mean > 0)) return;
  for (let u = 0; u < into.length; u++) into[u] += part[u] / mean;
}

/** Decoded weight values, shared by the groups scored in one run. */
export class ValueCache {
  private readonly cache = new Map<TensorProto, Float64Array>();

  of(t: TensorProto): Float64Array {
    let v = this.cache.get(t);
    if (!v) this.cache.set(t, (v = tensorValues(t) ?? new Float64Array(0)));
    return v;
  }
}

const WEIGHT_ROLES = new Set(['producer', 'consumer', 'depthwise', 'norm']);

function magnitudeScores(analysis: ChannelAnalysis, id: number, p: 1 | 2, cache: ValueCache): Float64Array {
  const { analyzer: a, states } = analysis;
  const units = analysis.groups[id].units;
  const out = new Float64Array(units);
  for (const m of states[id].members.filter((x) => WEIGHT_ROLES.has(x.role))) {
    const sums = axisPowerSums(cache.of(m.weight.tensor), m.weight.tensor.dims.map(Number), m.axis, p);
    const unitSums = perUnit(sums, m, a.spaces.find(m.segment.space).factor, units);
    addNormalized(out, p === 2 ? unitSums.map(Math.sqrt) : unitSums);
  }
  return out;
}

/**
 * The calibration norms of a consumer's input along the axis this member slices, if collected.
 * Where pruning compensates the channel's mean into the consumer's bias, the channel only takes its
 * fluctuation away: the centered norm sqrt(Σx² − count·mean²) is what it is worth.
 */
function inputNorms(analysis: ChannelAnalysis, m: WeightMember, calibration: CalibrationData | undefined): Float64Array | undefined {
  const a = analysis.analyzer;
  const layout = a.layout(m.input);
  const stats = m.input ? calibration?.stats.get(m.input)?.featureNorms : undefined;
  if (!layout || !stats) return undefined;
  const axis = stats.axis < 0 ? stats.axis + layout.rank : stats.axis;
  if (axis !== layout.axis || stats.norms.length !== layout.length) return undefined;
  const mean = compensable(a, m) ? inputMeans(a, m, calibration) : undefined;
  const count = stats.count;
  if (!mean || count === undefined) return stats.norms;
  return stats.norms.map((norm, j) => Math.sqrt(Math.max(0, norm * norm - count * mean[j] * mean[j])));
}

function activationScores(analysis: ChannelAnalysis, id: number, calibration: CalibrationData | undefined, cache: ValueCache): Float64Array | undefined {
  const units = analysis.groups[id].units;
  const out = new Float64Array(units);
  let found = false;
  for (const m of analysis.states[id].members.filter((x) => x.role === 'consumer')) {
    const norms = inputNorms(analysis, m, calibration);
    if (!norms) continue;
    const columns = axisPowerSums(cache.of(m.weight.tensor), m.weight.tensor.dims.map(Number), m.axis, 2).map(Math.sqrt);
    const weighted = columns.map((c, j) => c * norms[j]);
    addNormalized(out, perUnit(weighted, m, analysis.analyzer.spaces.find(m.segment.space).factor, units));
    found = true;
  }
  return found ? out : undefined;
}

/** Scores of every unit of a group; `activation` falls back to l2 where no statistics exist. */
export function groupScores(analysis: ChannelAnalysis, group: ChannelGroup, method: ScoreMethod, calibration?: CalibrationData, cache = new ValueCache()): GroupScores {
  if (method === 'activation') {
    const scores = activationScores(analysis, group.id, calibration, cache);
    if (scores) return { scores, activationAware: true };
  }
  return { scores: magnitudeScores(analysis, group.id, method === 'l1' ? 1 : 2, cache), activationAware: false };
}

/** Indices of the `k` lowest scores, ascending by index (ties go to the lower index). */
export function lowestUnits(scores: Float64Array, k: number): number[] {
  const order = [...scores.keys()].sort((p, q) => scores[p] - scores[q] || p - q);
  return order.slice(0, k).sort((p, q) => p - q);
}
