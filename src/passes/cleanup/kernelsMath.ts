/**
 * Folding kernels that compute values: Cast, Add/Sub/Mul/Div, Neg, Sqrt, ConstantOfShape, Range.
 * float32 results are computed in float64 and rounded once per op; for + - * / and sqrt that gives
 * the correctly rounded float32 result, the same bits ORT produces.
 */
import { DataType } from '../../onnx/dtypes';
import { attr, attrInt } from '../../onnx/graph';
import {
  allocate,
  broadcastDims,
  checkSize,
  broadcastOffsets,
  FoldError,
  isFoldableDtype,
  isIntegerDtype,
  makeConst,
  pickElements,
  readConst,
  type ConstTensor,
} from './constTensor';
import { input, intsOf, type Kernel, type KernelArgs } from './kernelsLayout';

/** int64 results beyond 2^53 would lose bits in float64: leave those to run time. */
function checkExact(c: ConstTensor): ConstTensor {
  if (isIntegerDtype(c.dtype) && c.data.some((v) => Math.abs(v) > Number.MAX_SAFE_INTEGER)) throw new FoldError('integer result beyond 2^53');
  return c;
}

function castValue(v: number, to: number): number {
  if ((to as DataType) === DataType.BOOL) return v !== 0 ? 1 : 0;
  if (!isIntegerDtype(to)) return v;
  // Casting NaN or infinity to an integer is undefined behaviour in C++: ORT's result is not ours to guess.
  if (!Number.isFinite(v)) throw new FoldError('Cast of a non-finite value to an integer type');
  return Math.trunc(v);
}

const cast: Kernel = (args) => {
  const x = input(args, 0);
  const to = attrInt(args.node, 'to', 0);
  if (!isFoldableDtype(to)) throw new FoldError(`Cast to dtype ${to} is not folded`);
  return makeConst(to, x.dims, Array.from(x.data, (v) => castValue(v, to)));
};

type Binary = (a: number, b: number, dtype: number) => number;

function integerDivide(a: number, b: number): number {
  if (b === 0) throw new FoldError('integer division by zero');
  return Math.trunc(a / b);
}

const OPS: Readonly<Record<string, Binary>> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, dtype) => (isIntegerDtype(dtype) ? integerDivide(a, b) : a / b),
};

function binary(fn: Binary): Kernel {
  return (args: KernelArgs) => {
    const [a, b] = [input(args, 0), input(args, 1)];
    if (a.dtype !== b.dtype) throw new FoldError('operand dtypes differ');
    const dims = broadcastDims([a.dims, b.dims]);
    checkSize(a.dtype, dims);
    const xs = pickElements(a.data, dims, broadcastOffsets(a, dims));
    const ys = pickElements(b.data, dims, broadcastOffsets(b, dims));
    return checkExact(makeConst(a.dtype, dims, xs.map((x, i) => fn(x, ys[i], a.dtype))));
  };
}

const neg: Kernel = (args) => {
  const x = input(args, 0);
  return checkExact(makeConst(x.dtype, x.dims, x.data.map((v) => -v)));
};

const sqrt: Kernel = (args) => {
  const x = input(args, 0);
  if (isIntegerDtype(x.dtype)) throw new FoldError('Sqrt of an integer tensor');
  return makeConst(x.dtype, x.dims, x.data.map(Math.sqrt));
};

/** The fill value: the `value` attribute's single element, float32 0 by default. */
function fillValue(args: KernelArgs): ConstTensor {
  const t = attr(args.node, 'value')?.t;
  const value = t ? readConst(t) : makeConst(DataType.FLOAT, [1], [0]);
  if (!value || value.data.length !== 1) throw new FoldError('ConstantOfShape value is not a single number');
  return value;
}

const constantOfShape: Kernel = (args) => {
  const value = fillValue(args);
  const out = allocate(value.dtype, intsOf(input(args, 0)));
  out.data.fill(value.data[0]);
  return out;
};

/** Integer ranges only: ORT accumulates float ranges step by step, which this does not reproduce. */
const range: Kernel = (args) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => input(args, i));
  if (!isIntegerDtype(start.dtype)) throw new FoldError('floating-point Range is left to run time');
  const [s, l, d] = [start.data[0], limit.data[0], delta.data[0]];
  if (d === 0) throw new FoldError('Range delta 0');
  const out = allocate(start.dtype, [Math.max(Math.ceil((l - s) / d), 0)]);
  for (let i = 0; i < out.data.length; i++) out.data[i] = s + i * d;
  return checkExact(out);
};

export const MATH_KERNELS: Readonly<Record<string, Kernel>> = {
  Cast: cast,
  Add: binary(OPS.Add),
  Sub: binary(OPS.Sub),
  Mul: binary(OPS.Mul),
  Div: binary(OPS.Div),
  Neg: neg,
  Sqrt: sqrt,
  ConstantOfShape: constantOfShape,
  Range: range,
};
