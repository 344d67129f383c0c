/**
 * Mean compensation: a removed input channel c of a consumer layer contributed, on average,
 * W[:, c] · E[x_c] to every output. With calibration means E[x_c] that average is added to the
 * consumer's bias before the channel goes, so what the pruned model loses is only the channel's
 * fluctuation around its mean (the idea behind bias correction; exact for a channel that is constant).
 *
 * Handled consumers: Conv with group 1 (Σ over the kernel: exact away from zero-padded borders),
 * ConvTranspose with group 1 (an output pixel receives K/S of the K kernel taps on average, S the
 * product of the strides, so Σ over the kernel / S: exact on average over the stride phases), Gemm
 * (into C, divided by beta), and MatMul followed by an Add of a constant bias vector.
 */
import { DataType } from '../../onnx/dtypes';
import { attrFloat, attrInt, attrInts } from '../../onnx/graph';
import { tensorValues } from '../../onnx/tensor';
import type { NodeProto, TensorProto } from '../../onnx/types';
import type { CalibrationData } from '../pass';
import { resolveWeight, type WeightEditor, type WeightRef } from '../quant/weights';
import type { Analyzer, WeightMember } from './analyzer';
import { removedPositions } from './layout';

/** Per-output additions for one node's bias, in the node's original output coordinates. */
export interface BiasDelta {
  node: number;
  delta: Float64Array;
}

/** Calibration means of a consumer's input along the member's channel axis, if collected. */
export function inputMeans(a: Analyzer, m: WeightMember, calibration: CalibrationData | undefined): Float64Array | undefined {
  const stats = m.input ? calibration?.stats.get(m.input) : undefined;
  const layout = a.layout(m.input);
  if (!stats?.channelMean || !layout) return undefined;
  const given = stats.channelAxis ?? 1;
  const axis = given < 0 ? given + layout.rank : given;
  return axis === layout.axis && stats.channelMean.length === layout.length ? stats.channelMean : undefined;
}

/** Σ over removed input positions p of mean[p] · W[out, p, kernel...], per output. */
function convDelta(w: TensorProto, removed: number[], mean: Float64Array): Float64Array {
  const d = w.dims.map(Number);
  const v = tensorValues(w) ?? new Float64Array(0);
  const kernel = d.slice(2).reduce((x, y) => x * y, 1);
  const out = new Float64Array(d[0]);
  for (let o = 0; o < d[0]; o++) for (const p of removed) for (let k = 0; k < kernel; k++) out[o] += v[(o * d[1] + p) * kernel + k] * mean[p];
  return out;
}

/** ConvTranspose W [C, M, k...]: Σ_p mean[p] · Σ_k W[p, m, k] / Π strides, per output channel m. */
function convTransposeDelta(w: TensorProto, removed: number[], mean: Float64Array, strides: number): Float64Array {
  const d = w.dims.map(Number);
  const v = tensorValues(w) ?? new Float64Array(0);
  const kernel = d.slice(2).reduce((x, y) => x * y, 1);
  const out = new Float64Array(d[1]);
  for (const p of removed) for (let o = 0; o < d[1]; o++) for (let k = 0; k < kernel; k++) out[o] += (v[(p * d[1] + o) * kernel + k] * mean[p]) / strides;
  return out;
}

/** Linear weight stored [K, N] (or [N, K] when transposed): Σ_p mean[p] · W[p, n]. */
function linearDelta(w: TensorProto, transposed: boolean, removed: number[], mean: Float64Array, scale: number): Float64Array {
  const d = w.dims.map(Number);
  const v = tensorValues(w) ?? new Float64Array(0);
  const n = transposed ? d[0] : d[1];
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) for (const p of removed) out[j] += scale * mean[p] * v[transposed ? j * d[1] + p : p * n + j];
  return out;
}

/** Whether a consumer member's layer can take the compensation (and so only loses the fluctuation). */
export function compensable(a: Analyzer, m: WeightMember): boolean {
  const n = a.nodes[m.node];
  if (m.role !== 'consumer') return false;
  if (n.op_type === 'Conv' || n.op_type === 'ConvTranspose') return attrInt(n, 'group', 1) === 1;
  if (n.op_type === 'Gemm') return attrFloat(n, 'beta', 1) !== 0;
  return n.op_type === 'MatMul' && matMulBias(a, m.node) !== undefined;
}

/** The delta member `m` (a consumer losing `units`) asks for, or undefined when it cannot be compensated. */
export function memberDelta(a: Analyzer, m: WeightMember, units: number[], calibration: CalibrationData | undefined): BiasDelta | undefined {
  const mean = inputMeans(a, m, calibration);
  if (!mean || !compensable(a, m)) return undefined;
  const n = a.nodes[m.node];
  const removed = removedPositions(a.spaces, m.segment, units);
  if (n.op_type === 'Conv') return { node: m.node, delta: convDelta(m.weight.tensor, removed, mean) };
  if (n.op_type === 'ConvTranspose') {
    const strides = (attrInts(n, 'strides') ?? []).reduce((x, y) => x * y, 1);
    return { node: m.node, delta: convTransposeDelta(m.weight.tensor, removed, mean, strides) };
  }
  if (n.op_type === 'MatMul') return { node: m.node, delta: linearDelta(m.weight.tensor, false, removed, mean, 1) };
  const scale = attrFloat(n, 'alpha', 1) / attrFloat(n, 'beta', 1);
  return { node: m.node, delta: linearDelta(m.weight.tensor, attrInt(n, 'transB', 0) !== 0, removed, mean, scale) };
}

/** The constant bias vector a MatMul's only reader adds, when that is the layer's bias. */
function matMulBias(a: Analyzer, i: number): WeightRef | undefined {
  const readers = a.main.index.consumers.get(a.nodes[i].output[0]) ?? [];
  const add = readers.length === 1 ? a.nodes[readers[0]] : undefined;
  if (add?.op_type !== 'Add') return undefined;
  const other = add.input[0] === a.nodes[i].output[0] ? add.input[1] : add.input[0];
  const bias = a.weight(other);
  return bias && bias.tensor.dims.length === 1 ? bias : undefined;
}

/** The bias tensor a node's delta goes into, or undefined when it has none yet. */
function biasOf(a: Analyzer, i: number): WeightRef | undefined {
  const n = a.nodes[i];
  if (n.op_type === 'MatMul') return matMulBias(a, i);
  const bias = resolveWeight(a.main, n.input[2] ?? '');
  return bias && bias.tensor.dims.length >= 1 ? bias : undefined;
}

/** Whether a bias tensor is read only by this node (or its bias Add), so changing it affects nothing else. */
function ownsBias(a: Analyzer, bias: WeightRef): boolean {
  return (a.main.index.consumers.get(bias.name)?.length ?? 0) === 1 && !a.main.graph.output.some((o) => o.name === bias.name);
}

function addInto(t: TensorProto, delta: ArrayLike<number>): void {
  const v = Float32Array.from(tensorValues(t) ?? []);
  const last = t.dims.length ? Number(t.dims[t.dims.length - 1]) : 1;
  // A bias broadcast over rows ([M, N] Gemm C) gets the delta in every row.
  for (let i = 0; i < v.length; i++) v[i] += delta[i % last];
  t.raw_data = new Uint8Array(v.buffer);
  t.float_data = [];
}

/**
 * Adds the summed deltas to each node's bias, after slicing: `kept(node)` maps original output
 * positions to the ones that stay. A Conv or Gemm without a bias gets one.
 */
export function applyDeltas(a: Analyzer, editor: WeightEditor, deltas: BiasDelta[], kept: (node: NodeProto, length: number) => number[]): number {
  const byNode = new Map<number, Float64Array>();
  for (const d of deltas) {
    const sum = byNode.get(d.node);
    if (sum) d.delta.forEach((v, k) => (sum[k] += v));
    else byNode.set(d.node, Float64Array.from(d.delta));
  }
  let applied = 0;
  for (const [i, delta] of byNode) {
    const n = a.nodes[i];
    const slicedDelta = kept(n, delta.length).map((p) => delta[p]);
    const bias = biasOf(a, i);
    if (bias && bias.tensor.data_type === DataType.FLOAT && ownsBias(a, bias) && Number(bias.tensor.dims[bias.tensor.dims.length - 1]) === slicedDelta.length) addInto(bias.tensor, slicedDelta);
    else if (!bias && n.op_type !== 'MatMul') n.input[2] = editor.addInitializer(a.main, `${a.main.index.names[i]}_bias`, { dims: [slicedDelta.length], dataType: DataType.FLOAT, data: Float32Array.from(slicedDelta) });
    else continue;
    applied++;
  }
  return applied;
}
