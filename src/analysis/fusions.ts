/**
 * What onnxruntime actually fused: counts of fused and quantized kernels in the graph ORT runs (the
 * model it writes to sessionOptions.optimizedModelFilePath), and of the leftovers that mean a fusion
 * did not happen, with warnings that say what each leftover costs. Pure: the caller decodes the file.
 *
 * Counts list only op types that occur (no zero entries) and cover every graph, subgraphs included.
 */
import { GraphIndex } from '../onnx/graph';
import type { GraphProto, ModelProto, NodeProto } from '../onnx/types';
import { forEachGraph } from '../onnx/walk';

/** Kernels that mean ORT fused something: quantized ops and float fusions. */
export const FUSED_OPS: readonly string[] = [
  'QLinearConv',
  'QLinearMatMul',
  'QGemm',
  'QLinearAdd',
  'QLinearMul',
  'QLinearConcat',
  'QLinearAveragePool',
  'QLinearGlobalAveragePool',
  'QLinearLeakyRelu',
  'QLinearSigmoid',
  'QLinearSoftmax',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'MatMulNBits',
  'FusedConv',
  'FusedGemm',
  'FusedMatMul',
];

/** Ops that survive in ORT's optimized graph only when a fusion did not apply. */
export const UNFUSED_OPS: readonly string[] = ['QuantizeLinear', 'DequantizeLinear', 'MatMulInteger', 'ConvInteger', 'DynamicQuantizeLinear'];

export interface FusionReport {
  fused: Record<string, number>;
  unfused: Record<string, number>;
  warnings: string[];
}


function countOps(model: ModelProto, ops: readonly string[]): Record<string, number> {
  const wanted = new Set(ops);
  const counts: Record<string, number> = {};
  forEachGraph(model, ({ graph }) => {
    for (const n of graph.node) if (n.op_type && wanted.has(n.op_type)) counts[n.op_type] = (counts[n.op_type] ?? 0) + 1;
  });
  return counts;
}

function consumersOf(index: GraphIndex, node: NodeProto): NodeProto[] {
  return node.output.flatMap((o) => (index.consumers.get(o) ?? []).map((i) => index.graph.node[i]));
}

/** DequantizeLinear nodes whose values feed float ops, with the op types they feed. */
interface DqUse {
  dqNodes: number;
  floatOps: Map<string, number>;
  qdqPairs: number;
}

function scanGraph(graph: GraphProto, use: DqUse): void {
  const index = new GraphIndex(graph);
  for (const node of graph.node) {
    if (node.op_type === 'QuantizeLinear') use.qdqPairs += consumersOf(index, node).filter((c) => c.op_type === 'DequantizeLinear').length;
    if (node.op_type !== 'DequantizeLinear') continue;
    // A DequantizeLinear output is float whoever reads it; only a re-quantization is not fp32 compute.
    const floatConsumers = consumersOf(index, node).filter((c) => c.op_type !== 'QuantizeLinear');
    if (floatConsumers.length) use.dqNodes++;
    for (const c of floatConsumers) use.floatOps.set(c.op_type ?? '?', (use.floatOps.get(c.op_type ?? '?') ?? 0) + 1);
  }
}

function dqUse(model: ModelProto): DqUse {
  const use: DqUse = { dqNodes: 0, floatOps: new Map(), qdqPairs: 0 };
  forEachGraph(model, ({ graph }) => scanGraph(graph, use));
  return use;
}

function histogram(counts: Map<string, number>): string {
  return [...counts].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ×${n}`).join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function dqWarnings(use: DqUse): string[] {
  const warnings: string[] = [];
  if (use.dqNodes) {
    warnings.push(
      `${plural(use.dqNodes, 'DequantizeLinear node')} feed float ops (${histogram(use.floatOps)}): those ops run in fp32 on dequantized values, ` +
        'slower than the original float model. Their quantized form is not fused by ORT on this execution provider, or the Q/DQ pattern around them is incomplete.',
    );
  }
  if (use.qdqPairs) warnings.push(`${plural(use.qdqPairs, 'QuantizeLinear→DequantizeLinear pair')} remain: they only round values (fake quantization) at run time and add work.`);
  return warnings;
}

function leftoverWarnings(unfused: Record<string, number>): string[] {
  const warnings: string[] = [];
  const say = (op: string, text: string) => {
    if (unfused[op]) warnings.push(`${plural(unfused[op], `${op} node`)} ${text}`);
  };
  say('MatMulInteger', 'were not fused into DynamicQuantizeMatMul or MatMulIntegerToFloat: integer matmuls followed by separate float scaling ops (B must be a constant for the fusion).');
  say('ConvInteger', 'remain: dynamic-quantized convolutions run as ConvInteger plus separate scaling ops, usually slower than fp32 Conv on CPU; static QDQ (QLinearConv) is faster.');
  say('DynamicQuantizeLinear', 'remain: activations are quantized by a separate op on every run instead of inside a fused DynamicQuantizeMatMul.');
  return warnings;
}

/** Counts fused and leftover op types in ORT's optimized model and explains the leftovers. */
export function countFusions(optimized: ModelProto): FusionReport {
  const fused = countOps(optimized, FUSED_OPS);
  const unfused = countOps(optimized, UNFUSED_OPS);
  const warnings = [...dqWarnings(dqUse(optimized)), ...leftoverWarnings(unfused)];
  const quantFused = Object.keys(fused).some((op) => op !== 'FusedConv' && op !== 'FusedGemm' && op !== 'FusedMatMul');
  if (Object.keys(unfused).length && !quantFused) {
    warnings.push('the model has quantization ops but ORT fused none of them into quantized kernels: was the optimized model saved at graph optimization level "extended" or higher?');
  }
  return { fused, unfused, warnings };
}
