/**
 * Multiply-accumulate counts of the compute-heavy ops, from inferred shapes. Every count is the
 * number of output elements times the length of the dot product that produces each one:
 *   Conv           N*Cout*prod(outSpatial) * (Cin/group)*prod(kernel)   = numel(Y) * numel(W[1:])
 *   ConvTranspose  N*Cin*prod(inSpatial)   * (Cout/group)*prod(kernel)  = numel(X) * numel(W[1:])
 *   Gemm           M*N * K
 *   MatMul         prod(batch)*M*N * K
 * A count is null when a dimension it needs is unknown or symbolic.
 */
import { attrInt } from '../onnx/graph';
import type { NodeProto } from '../onnx/types';
import type { Shape } from './shapes';

export type ShapeOf = (i: number) => Shape | null;

interface MacInputs {
  node: NodeProto;
  input: ShapeOf;
  output: ShapeOf;
}

type MacRule = (m: MacInputs) => number | null;

/** Product of the dims, or null when one is not a known number. */
export function knownNumel(shape: Shape | null | undefined): number | null {
  if (!shape) return null;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}

function times(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a * b;
}

function firstNumber(...dims: unknown[]): number | null {
  const d = dims.find((x) => typeof x === 'number');
  return typeof d === 'number' ? d : null;
}

/** Conv family: every output element is a dot product over (Cin/group) x kernel. */
const conv =
  (wi: number): MacRule =>
  ({ input, output }) => {
    const w = input(wi);
    return times(knownNumel(output(0)), w && w.length >= 3 ? knownNumel(w.slice(1)) : null);
  };

/** ConvTranspose: every input element is scattered through (Cout/group) x kernel. */
const convTranspose: MacRule = ({ input }) => {
  const w = input(1);
  return times(knownNumel(input(0)), w && w.length >= 3 ? knownNumel(w.slice(1)) : null);
};

const gemm: MacRule = ({ node, input, output }) => {
  const [a, b] = [input(0), input(1)];
  const k = firstNumber(a?.[attrInt(node, 'transA', 0) ? 0 : 1], b?.[attrInt(node, 'transB', 0) ? 1 : 0]);
  return times(knownNumel(output(0)), k);
};

/** The reduction length of a matmul: A's last dim, or B's second-to-last (its only dim when 1-D). */
function matmulK(a: Shape | null, b: Shape | null): number | null {
  const fromB = b ? b[b.length === 1 ? 0 : b.length - 2] : undefined;
  return firstNumber(a?.[a.length - 1], fromB);
}

const matmul =
  (ai: number, bi: number): MacRule =>
  ({ input, output }) =>
    times(knownNumel(output(0)), matmulK(input(ai), input(bi)));

const RULES: Record<string, MacRule> = {
  Conv: conv(1),
  ConvInteger: conv(1),
  QLinearConv: conv(3),
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: matmul(0, 1),
  MatMulInteger: matmul(0, 1),
  QLinearMatMul: matmul(0, 3),
};

function ruleFor(node: NodeProto): MacRule | undefined {
  const domain = node.domain ?? '';
  if (domain === 'com.microsoft' && node.op_type === 'FusedConv') return RULES.Conv;
  const op = node.op_type ?? '';
  return (domain === '' || domain === 'ai.onnx') && Object.hasOwn(RULES, op) ? RULES[op] : undefined;
}

/** Whether MACs are counted for this node's op (Conv, ConvTranspose, Gemm, MatMul and their quantized forms). */
export function countsMacs(node: NodeProto): boolean {
  return ruleFor(node) !== undefined;
}

/** MACs of one node from its input and output shapes; null when unknown or not a counted op. */
export function nodeMacs(node: NodeProto, input: ShapeOf, output: ShapeOf): number | null {
  const rule = ruleFor(node);
  const macs = rule ? rule({ node, input, output }) : null;
  return macs !== null && Number.isFinite(macs) && macs >= 0 ? macs : null;
}
