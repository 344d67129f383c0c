/**
 * BatchNormalization folded into the Conv or ConvTranspose before it. At inference BN is a per-channel
 * affine map y = s·x + t with s = gamma/sqrt(var+eps) and t = beta - mean·s, so scaling the conv's
 * weights of output channel c by s[c] and setting its bias to b[c]·s[c] + t[c] gives the same result.
 *
 * Conv weights are [Cout, Cin/group, k...]; ConvTranspose weights are [Cin, Cout/group, k...], so
 * there the output channel of an element depends on both of its first two indices.
 * The folded weights are new tensors: the originals may be shared with other nodes.
 */
import { rawTensor } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import { attrFloat, attrInt, nodeDisplayNames } from '../../onnx/graph';
import { tensorValues } from '../../onnx/tensor';
import type { NodeProto, TensorProto } from '../../onnx/types';
import type { LayerChange, LayerSkip } from '../pass';
import type { ConstScope } from './constScope';
import { addConstants, readerCounts, type NameAllocator } from './scope';

export interface BnEnv {
  irVersion: number;
  names: NameAllocator;
  isExcluded: (node: NodeProto, displayName: string) => boolean;
}

export interface BnOutcome {
  folded: LayerChange[];
  skipped: LayerSkip[];
}

/** Everything a fold needs, checked. */
interface FoldPlan {
  conv: NodeProto;
  convName: string;
  weight: TensorProto;
  weights: Float64Array;
  bias: Float64Array | undefined;
  scale: Float64Array;
  shift: Float64Array;
  /** Output channel of each weight element. */
  channelOf: (k: number) => number;
}

/** A reason not to fold, shown to the user. */
class Skip extends Error {}

function need<T>(value: T | undefined | null | false, reason: string): T {
  if (value === undefined || value === null || value === false) throw new Skip(reason);
  return value;
}

function isFloatOrDouble(dtype: number | undefined): boolean {
  return (dtype as DataType) === DataType.FLOAT || (dtype as DataType) === DataType.DOUBLE;
}

function floatValues(scope: ConstScope, name: string | undefined, what: string, length?: number): Float64Array {
  const t = need(name ? scope.tensor(name) : undefined, `${what} is not a constant`);
  need(isFloatOrDouble(t.data_type), `${what} is not float32 or float64`);
  const values = need(tensorValues(t), `${what} cannot be read`);
  if (length !== undefined && values.length !== length) throw new Skip(`${what} has ${values.length} values, expected ${length}`);
  return values;
}

/** s and t of y = s·x + t, per channel. */
function affine(scope: ConstScope, bn: NodeProto): { scale: Float64Array; shift: Float64Array } {
  const gamma = floatValues(scope, bn.input[1], 'BN scale');
  const n = gamma.length;
  const [beta, mean, variance] = [2, 3, 4].map((k) => floatValues(scope, bn.input[k], 'BN parameter', n));
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + eps));
  return { scale, shift: beta.map((b, c) => b - mean[c] * scale[c]) };
}

/** Output channel of element k of a Conv ([Cout, ...]) or ConvTranspose ([Cin, Cout/g, ...]) weight. */
function channelMap(conv: NodeProto, dims: number[], channels: number): (k: number) => number {
  const perOut = dims.slice(1).reduce((a, b) => a * b, 1);
  if (conv.op_type === 'Conv') {
    need(dims[0] === channels, `Conv has ${dims[0]} output channels, BN has ${channels}`);
    return (k) => Math.floor(k / perOut);
  }
  const group = attrInt(conv, 'group', 1);
  const kernel = dims.slice(2).reduce((a, b) => a * b, 1);
  need(dims[0] % group === 0 && dims[1] * group === channels, `ConvTranspose has ${dims[1] * group} output channels, BN has ${channels}`);
  const inPerGroup = dims[0] / group;
  return (k) => {
    const ci = Math.floor(k / perOut);
    return Math.floor(ci / inPerGroup) * dims[1] + (Math.floor(k / kernel) % dims[1]);
  };
}

function checkBn(bn: NodeProto, readers: Map<string, number>): void {
  need(attrInt(bn, 'training_mode', 0) === 0, 'BN is in training mode');
  need(attrInt(bn, 'spatial', 1) === 1, 'BN has spatial=0 (per-element statistics)');
  need(bn.output.slice(1).every((o) => !o || !readers.get(o)), 'BN running statistics are used');
}

function producerConv(scope: ConstScope, bn: NodeProto, readers: Map<string, number>): number {
  const at = need(scope.index.producer.get(bn.input[0] ?? ''), 'BN input is not produced by a node of this graph');
  const conv = scope.graph.node[at];
  need((conv.op_type === 'Conv' || conv.op_type === 'ConvTranspose') && (conv.domain ?? '') === '', `BN input comes from ${conv.op_type ?? '?'}, not Conv or ConvTranspose`);
  need(conv.output.length === 1 && readers.get(conv.output[0]) === 1, 'the conv output has other readers');
  return at;
}

function plan(scope: ConstScope, bn: NodeProto, readers: Map<string, number>, names: string[]): FoldPlan {
  checkBn(bn, readers);
  const at = producerConv(scope, bn, readers);
  const conv = scope.graph.node[at];
  const weight = need(scope.tensor(conv.input[1] ?? ''), 'conv weight is not a constant');
  const weights = floatValues(scope, conv.input[1], 'conv weight');
  need(weight.dims.length >= 3, 'conv weight has fewer than 3 dims');
  const { scale, shift } = affine(scope, bn);
  const channelOf = channelMap(conv, weight.dims.map(Number), scale.length);
  const bias = conv.input[2] ? floatValues(scope, conv.input[2], 'conv bias', scale.length) : undefined;
  return { conv, convName: names[at], weight, weights, bias, scale, shift, channelOf };
}

/** The folded weight and bias, in the weight's dtype. */
function foldedTensors(p: FoldPlan, weightName: string, biasName: string): TensorProto[] {
  const scaled = p.weights.map((v, k) => v * p.scale[p.channelOf(k)]);
  const bias = p.scale.map((s, c) => (p.bias ? p.bias[c] : 0) * s + p.shift[c]);
  const dtype = p.weight.data_type as DataType;
  const store = (values: Float64Array) => (dtype === DataType.FLOAT ? Float32Array.from(values) : values);
  return [rawTensor(weightName, p.weight.dims.map(Number), dtype, store(scaled)), rawTensor(biasName, [bias.length], dtype, store(bias))];
}

function apply(p: FoldPlan, bn: NodeProto, env: BnEnv, added: TensorProto[]): void {
  const base = p.conv.input[1] || p.convName;
  const tensors = foldedTensors(p, env.names.fresh(`${base}_bn_folded`), env.names.fresh(`${p.convName}_bias_bn_folded`));
  added.push(...tensors);
  p.conv.input = [p.conv.input[0], tensors[0].name as string, tensors[1].name as string];
  p.conv.output = [bn.output[0]];
}

/** Folds every foldable BN of one graph in place. */
export function foldBatchNorms(scope: ConstScope, env: BnEnv): BnOutcome {
  const graph = scope.graph;
  const outcome: BnOutcome = { folded: [], skipped: [] };
  const readers = readerCounts(graph);
  const names = nodeDisplayNames(graph);
  const removed = new Set<NodeProto>();
  const added: TensorProto[] = [];
  graph.node.forEach((bn, i) => {
    if (bn.op_type !== 'BatchNormalization' || (bn.domain ?? '') !== '') return;
    try {
      const p = plan(scope, bn, readers, names);
      need(!env.isExcluded(bn, names[i]) && !env.isExcluded(p.conv, p.convName), 'excluded by the user');
      apply(p, bn, env, added);
      removed.add(bn);
      outcome.folded.push({ name: names[i], opType: 'BatchNormalization', action: `folded into ${p.convName}` });
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      outcome.skipped.push({ name: names[i], opType: 'BatchNormalization', reason: err.message });
    }
  });
  graph.node = graph.node.filter((n) => !removed.has(n));
  addConstants(graph, added, env.irVersion);
  return outcome;
}
