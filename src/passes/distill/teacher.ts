/**
 * Pairs each student layer with the teacher's layer of the same node name and decides what the
 * student layer must reproduce: the teacher tensor to capture, and which of its output channels.
 *
 * Channel pruning (prune-channels, distill:width) keeps node names and order and removes channels, so
 * the student's weight rows are a subset of the teacher's, in order, restricted to the kept inputs.
 * The kept output channels are found by matching rows exactly: student row i must equal, bit for bit,
 * a later teacher row than row i-1's match, on every non-zero student weight (zeros are allowed to
 * differ, so a student both channel- and magnitude-pruned still matches). When the input channels
 * were cut too, the kept inputs are the kept outputs of the layer upstream, found by walking back from
 * the layer's input through channel-preserving ops (activations, BatchNormalization, element-wise
 * Add/Mul, pooling, Flatten, ...). When no consistent match exists (weights changed after pruning, a
 * Concat in between) the layer is skipped with that reason.
 */
import { nodeDisplayNames, GraphIndex } from '../../onnx/graph';
import type { GraphProto, ModelProto, NodeProto } from '../../onnx/types';
import { modelScopes, type Scope } from '../quant/weights';
import { describeLayer, inputChannelsPerGroup, weightRows, type DistillLayer } from './layers';

export interface TeacherGraph {
  scope: Scope;
  graph: GraphProto;
  index: GraphIndex;
  /** Display name (the node's name, "#n" added to repeats) -> node index. */
  byName: Map<string, number>;
  /** Output tensor name -> node index. */
  byOutput: Map<string, number>;
}

export interface TeacherTarget {
  /** The teacher tensor the student layer's output must reproduce. */
  tensor: string;
  /** Teacher's output units. */
  teacherN: number;
  /** Student output unit -> teacher output unit; undefined when they are the same. */
  outMap?: Int32Array;
}

export type TargetMatch = { target: TeacherTarget; skip?: undefined } | { target?: undefined; skip: string };

export function teacherGraph(model: ModelProto): TeacherGraph {
  const scope = modelScopes(model)[0];
  const names = nodeDisplayNames(scope.graph);
  const byName = new Map<string, number>();
  const byOutput = new Map<string, number>();
  scope.graph.node.forEach((n, i) => {
    byName.set(names[i], i);
    for (const o of n.output) if (o) byOutput.set(o, i);
  });
  return { scope, graph: scope.graph, index: scope.index, byName, byOutput };
}

/** The teacher's node for a student node: same name, or (for unnamed nodes) the same output tensor. */
function teacherNode(teacher: TeacherGraph, node: NodeProto, displayName: string): NodeProto | undefined {
  const i = node.name ? teacher.byName.get(displayName) : (teacher.byOutput.get(node.output[0]) ?? teacher.byName.get(displayName));
  return i === undefined ? undefined : teacher.graph.node[i];
}

function sameGeometry(a: DistillLayer, b: DistillLayer): string | undefined {
  if (!a.conv || !b.conv) return undefined;
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  if (!same(a.conv.kernel, b.conv.kernel) || !same(a.conv.strides, b.conv.strides) || !same(a.conv.dilations, b.conv.dilations) || !same(a.conv.pads, b.conv.pads)) {
    return 'kernel, strides, dilations or pads differ from the teacher';
  }
  return undefined;
}

function consumerOps(graph: GraphProto, index: GraphIndex, tensor: string): string[] {
  return (index.consumers.get(tensor) ?? []).map((i) => graph.node[i].op_type ?? '');
}

/** A BatchNormalization after the teacher layer that the student no longer has was folded into its weights. */
function foldedNorm(student: Scope, teacher: TeacherGraph, layer: DistillLayer, target: string): string | undefined {
  const t = consumerOps(teacher.graph, teacher.index, target).includes('BatchNormalization');
  const s = consumerOps(student.graph, student.index, layer.output).includes('BatchNormalization');
  return t && !s ? 'the BatchNormalization after it in the teacher was folded into the student layer; their outputs are not comparable' : undefined;
}

function rowMatches(s: Float64Array, sOff: number, t: Float64Array, tOff: number, cols: Int32Array | undefined, Kg: number): boolean {
  let nonZero = 0;
  for (let j = 0; j < Kg; j++) {
    const v = s[sOff + j];
    if (v === 0) continue;
    if (v !== t[tOff + (cols ? cols[j] : j)]) return false;
    nonZero++;
  }
  return nonZero > 0;
}

/** Student row i -> teacher row, in increasing order; undefined when some row has no match. */
export function matchRows(s: Float64Array, sN: number, sKg: number, t: Float64Array, tN: number, tKg: number, cols?: Int32Array): Int32Array | undefined {
  const out = new Int32Array(sN);
  let next = 0;
  for (let i = 0; i < sN; i++) {
    let o = next;
    while (o < tN && !rowMatches(s, i * sKg, t, o * tKg, cols, sKg)) o++;
    if (o >= tN) return undefined;
    out[i] = o;
    next = o + 1;
  }
  return out;
}

const PASS_THROUGH = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Clip', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Erf',
  'Identity', 'Dropout', 'Cast', 'BatchNormalization', 'InstanceNormalization', 'Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow', 'Sqrt', 'Neg', 'Abs', 'Exp',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'Pad', 'Resize', 'Upsample', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze',
]); // prettier-ignore

/** Kept channels of `tensor` (student channel -> teacher channel) from the nearest layer upstream. */
export function traceChannels(student: Scope, tensor: string, kept: ReadonlyMap<string, Int32Array>): Int32Array | undefined {
  const { graph, index } = student;
  const stack = [tensor];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop() as string;
    if (seen.has(t)) continue;
    seen.add(t);
    const found = kept.get(t);
    if (found) return found;
    const p = index.producer.get(t);
    if (p === undefined || !PASS_THROUGH.has(graph.node[p].op_type ?? '')) continue;
    const n = graph.node[p];
    const data = ['Reshape', 'Pad', 'Resize', 'Upsample', 'Clip', 'Squeeze', 'Unsqueeze', 'PRelu', 'Pow', 'BatchNormalization', 'InstanceNormalization'].includes(n.op_type ?? '') ? [n.input[0]] : n.input;
    for (const i of [...data].reverse()) if (i && !index.weight(i)) stack.push(i);
  }
  return undefined;
}

/** Teacher columns for the student's columns, given kept input channels (conv: channel-major im2col). */
function columnMap(layer: DistillLayer, inMap: Int32Array): Int32Array | undefined {
  const perChannel = layer.conv ? layer.conv.kernel[0] * layer.conv.kernel[1] : 1;
  if (inMap.length !== inputChannelsPerGroup(layer)) return undefined;
  const cols = new Int32Array(layer.Kg);
  for (let c = 0; c < inMap.length; c++) for (let t = 0; t < perChannel; t++) cols[c * perChannel + t] = inMap[c] * perChannel + t;
  return cols;
}

function keptOutputs(student: Scope, layer: DistillLayer, t: DistillLayer, kept: ReadonlyMap<string, Int32Array>): TargetMatch | { outMap?: Int32Array } {
  if (layer.N > t.N) return { skip: `the student has more output channels (${layer.N}) than the teacher (${t.N})` };
  if (layer.N === t.N) return {};
  let cols: Int32Array | undefined;
  if (layer.Kg !== t.Kg) {
    if (layer.groups > 1 && layer.Kg / (layer.conv ? layer.conv.kernel[0] * layer.conv.kernel[1] : 1) > 1) return { skip: 'input and output channels of a grouped convolution both changed' };
    const inMap = traceChannels(student, layer.input, kept);
    cols = inMap && columnMap(layer, inMap);
    if (!cols) return { skip: 'output and input channels both changed and the kept input channels cannot be traced to a layer upstream' };
  }
  const outMap = matchRows(weightRows(layer), layer.N, layer.Kg, weightRows(t), t.N, t.Kg, cols);
  if (!outMap) return { skip: `${t.N - layer.N} output channels were removed but the kept ones cannot be identified (no teacher filter equals a student filter; weights changed after pruning?)` };
  return { outMap };
}

/**
 * The teacher target of a student layer, or why it has none. `kept` holds the output-channel maps of
 * the layers matched so far (by output tensor), for tracing input channels; this records the layer's.
 */
export function matchTeacher(student: Scope, layer: DistillLayer, teacher: TeacherGraph, kept: Map<string, Int32Array>): TargetMatch {
  const node = teacherNode(teacher, layer.node, layer.name);
  if (!node) return { skip: `no node named ${layer.name} in the teacher` };
  if (node.op_type !== layer.opType) return { skip: `the teacher's ${layer.name} is ${node.op_type ?? '?'}, not ${layer.opType}` };
  const t = describeLayer(teacher.scope, node, layer.name);
  if (!t.layer) return { skip: `teacher layer: ${t.skip}` };
  const geometry = sameGeometry(layer, t.layer);
  if (geometry) return { skip: geometry };
  if ((layer.outputNode !== layer.node) !== (t.layer.outputNode !== t.layer.node)) return { skip: 'the bias Add after the MatMul differs between teacher and student' };
  const folded = foldedNorm(student, teacher, layer, t.layer.output);
  if (folded) return { skip: folded };
  const outs = keptOutputs(student, layer, t.layer, kept);
  if ('skip' in outs && outs.skip !== undefined) return { skip: outs.skip };
  const outMap = 'outMap' in outs ? outs.outMap : undefined;
  kept.set(layer.output, outMap ?? Int32Array.from({ length: layer.N }, (_, i) => i));
  return { target: { tensor: t.layer.output, teacherN: t.layer.N, outMap } };
}
