/**
 * Where quantizing an element-wise op (Add, Mul, Concat, pools, Sigmoid, Softmax...) is free.
 *
 * Every QuantizeLinear is a rounding step. The weighted layers (Conv, ConvTranspose, Gemm, MatMul)
 * need their inputs and outputs quantized to fuse; those tensors are rounded anyway. An element-wise op
 * whose inputs and output are all among them fuses into its QLinear form without adding a rounding step
 * (a ResNet's residual Add between convolutions, the GlobalAveragePool of an SE block). Elsewhere,
 * quantizing it adds one: onnxruntime's quantizer does so anyway, and on PP-OCRv4's detector, whose
 * activations are chains of Mul/Add/Clip/Div between convolutions, the extra rounding took the output's
 * cosine similarity from 0.97 to 0.2. With `elementwise=free` (the default) only the free ones are
 * quantized; the others run in float on dequantized values.
 */
import type { GraphIndex } from '../../onnx/graph';
import type { GraphProto, NodeProto } from '../../onnx/types';
import { hasWeight, opKind } from './qdqOps';
import type { QuantNode } from './qdqPlan';

export interface PointsInput {
  graph: GraphProto;
  index: GraphIndex;
  candidates: Map<NodeProto, QuantNode>;
  /** Whether Relu/Clip `act` would be folded into its producer if that producer is quantized. */
  foldable: (act: NodeProto) => boolean;
}

function readers(input: PointsInput, tensor: string): NodeProto[] {
  return (input.index.consumers.get(tensor) ?? []).map((i) => input.graph.node[i]);
}

/** The tensor's name once a foldable Relu/Clip after it is folded (the producer then writes that name). */
function folded(input: PointsInput, tensor: string): string {
  for (let depth = 0; depth < 8; depth++) {
    const next = readers(input, tensor);
    if (next.length !== 1 || opKind(next[0]) !== 'removable' || !input.foldable(next[0])) return tensor;
    tensor = next[0].output[0];
  }
  return tensor;
}

/** Tensors the weighted layers round anyway: their activation inputs, and Conv outputs. */
function anchorPoints(input: PointsInput): Set<string> {
  const points = new Set<string>();
  for (const q of input.candidates.values()) {
    if (!hasWeight(q.kind)) continue;
    for (const slot of q.activations) points.add(q.node.input[slot]);
    if (q.kind === 'conv' || q.kind === 'convTranspose') points.add(folded(input, q.node.output[0]));
  }
  return points;
}

/** A data-movement op shares its input's rounding with its outputs: rounding one rounds the others. */
function spreadThroughShared(input: PointsInput, points: Set<string>): void {
  const shared = [...input.candidates.values()].filter((q) => q.kind === 'shared');
  for (let changed = true; changed; ) {
    changed = false;
    for (const q of shared) {
      const tensors = [q.node.input[0], ...q.node.output.filter(Boolean)];
      if (!tensors.some((t) => points.has(t)) || tensors.every((t) => points.has(t))) continue;
      tensors.forEach((t) => points.add(t));
      changed = true;
    }
  }
}

function isElementwise(q: QuantNode): boolean {
  return q.kind === 'binary' || q.kind === 'concat' || q.kind === 'unary';
}

/** The element-wise candidates whose quantization adds no rounding step. */
export function freeElementwise(input: PointsInput): Set<NodeProto> {
  const points = anchorPoints(input);
  spreadThroughShared(input, points);
  const free = new Set<NodeProto>();
  for (const q of input.candidates.values()) {
    if (!isElementwise(q)) continue;
    const inputsRounded = q.activations.every((slot) => points.has(q.node.input[slot]));
    if (inputsRounded && points.has(folded(input, q.node.output[0]))) free.add(q.node);
  }
  return free;
}
