/**
 * Static shape inference over a model's graphs, with a small constant-propagation engine for the
 * shape arithmetic that torch and paddle exports use to compute Reshape targets (Shape -> Gather ->
 * Concat -> Reshape).
 *
 * Dimensions are numbers, symbolic names (strings) or null when unknown; a shape is null when even
 * its rank is unknown. Inference never throws on odd or hostile graphs: an op it does not know, or
 * one whose inputs make no sense, gets unknown output shapes. The only error it lets through is the
 * OnnxFormatError that GraphIndex.topoOrder raises for a cycle.
 */
import { attr, attrInt, attrInts, attrString, GraphIndex } from '../onnx/graph';
import { isFloating } from '../onnx/dtypes';
import { tensorElementCount, tensorValues } from '../onnx/tensor';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto } from '../onnx/types';

export type Dim = number | string | null;
export type Shape = Dim[];

/** A small tensor known at analysis time. Elements are Dims so shape arithmetic can carry symbols. */
export interface ConstValue {
  dims: number[];
  data: Dim[];
  /** Integer dtype (integer division, truncating casts). */
  int: boolean;
}

/** Ranks above this are treated as unknown. */
export const MAX_RANK = 64;
/** Constant propagation only handles tensors up to this many elements. */
export const MAX_FOLD = 4096;
/** Slice bounds at or beyond this magnitude mean "to the end" (exporters use INT32/INT64 max). */
const HUGE = 2 ** 31 - 1;

class NotInferable extends Error {}

/** Aborts the current op rule: its outputs become unknown. */
function fail(): never {
  throw new NotInferable();
}

// ---------------------------------------------------------------------------------------------
// Dimension arithmetic

export function isNum(d: Dim): d is number {
  return typeof d === 'number';
}

/** A valid dimension or null: numbers must be non-negative safe integers. */
export function cleanDim(d: unknown): Dim {
  if (typeof d === 'string') return d === '' ? null : d;
  return typeof d === 'number' && Number.isSafeInteger(d) && d >= 0 ? d : null;
}

function nulls(rank: number): Shape {
  return rank >= 0 && rank <= MAX_RANK ? new Array<Dim>(rank).fill(null) : fail();
}

/** 0..n-1; absurd counts abort the rule. */
function range(n: number): number[] {
  if (!(Number.isSafeInteger(n) && n >= 0 && n <= MAX_FOLD)) fail();
  return Array.from({ length: n }, (_, i) => i);
}

/** A possibly negative axis, normalized against `rank`; out of range aborts the rule. */
function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return Number.isInteger(a) && a >= 0 && a < rank ? a : fail();
}

function axesOf(axes: number[], rank: number): Set<number> {
  const set = new Set(axes.map((a) => axisOf(a, rank)));
  return set.size === axes.length ? set : fail();
}

function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1 || a === b) return a;
  if (isNum(a) && isNum(b)) return null; // incompatible
  if (isNum(a)) return a;
  return isNum(b) ? b : null;
}

/** Numpy broadcasting of several shapes; null when any rank is unknown. */
export function broadcast(shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const known = shapes as Shape[];
  const rank = known.reduce((r, s) => Math.max(r, s.length), 0);
  if (rank > MAX_RANK) return null;
  const out = new Array<Dim>(rank).fill(null);
  for (let i = 1; i <= rank; i++) {
    const dims = known.filter((s) => s.length >= i).map((s) => s[s.length - i]);
    out[rank - i] = dims.reduce((acc, d) => broadcastDim(acc, d), 1 as Dim);
  }
  return out;
}

/** Product of dims: numeric, a lone symbol times 1, or null. */
export function dimProduct(dims: Dim[]): Dim {
  const f = factor(dims);
  if (!f) return dims.includes(0) ? 0 : null;
  if (f.n === 0) return 0;
  if (f.syms.length === 0) return f.n;
  return f.syms.length === 1 && f.n === 1 ? f.syms[0] : null;
}

/** Numeric product and the list of symbolic factors; null when a dim is unknown. */
export function factor(dims: Dim[]): { n: number; syms: string[] } | null {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (d === null) return null;
    if (isNum(d)) n *= d;
    else syms.push(d);
  }
  return { n, syms };
}

/** whole / part, cancelling symbols: how Reshape resolves its -1. */
function quotient(whole: Dim[], part: Dim[]): Dim {
  const a = factor(whole);
  const b = factor(part);
  if (!a || !b || b.n === 0 || a.n % b.n !== 0) return null;
  for (const s of b.syms) {
    const k = a.syms.indexOf(s);
    if (k < 0) return null;
    a.syms.splice(k, 1);
  }
  return dimProduct([a.n / b.n, ...a.syms]);
}

function addDims(a: Dim, b: Dim): Dim {
  if (isNum(a) && isNum(b)) return a + b;
  if (a === 0) return b;
  return b === 0 ? a : null;
}

function mulDims(a: Dim, b: Dim): Dim {
  if (isNum(a) && isNum(b)) return a * b;
  if (a === 0 || b === 0) return 0;
  if (a === 1) return b;
  return b === 1 ? a : null;
}

/** Sum of dims along a Concat axis. */
function dimSum(dims: Dim[]): Dim {
  return dims.reduce((acc, d) => addDims(acc, d), 0 as Dim);
}

/** Two guesses for the same dim: keep what they agree on, prefer a number over a symbol. */
function unifyDim(a: Dim, b: Dim): Dim {
  if (a === b || b === null) return a;
  if (a === null) return b;
  if (isNum(a) !== isNum(b)) return isNum(a) ? a : b;
  return null;
}

/** Where two branch shapes (If) agree. */
function agreeShape(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b || a.length !== b.length) return null;
  return a.map((d, i) => (d === b[i] ? d : null));
}

/** Inferred dims filled in from a declared shape (value_info) where inference left them unknown. */
function fillFrom(inferred: Shape | null, declared: Shape | null): Shape | null {
  if (!inferred) return declared;
  if (!declared || declared.length !== inferred.length) return inferred;
  return inferred.map((d, i) => d ?? declared[i]);
}

function withDim(shape: Shape, axis: number, dim: Dim): Shape {
  const out = shape.slice();
  out[axis] = dim;
  return out;
}

function checkRank(shape: Shape | null): Shape | null {
  return shape && shape.length <= MAX_RANK ? shape.map(cleanDim) : null;
}

/** The shape declared by a ValueInfo's type. */
export function shapeOfType(type: TypeProto | undefined): Shape | null {
  const shape = type?.tensor_type?.shape ?? type?.sparse_tensor_type?.shape;
  if (!shape || shape.dim.length > MAX_RANK) return null;
  return shape.dim.map((d) => (d.dim_value !== undefined ? cleanDim(Number(d.dim_value)) : cleanDim(d.dim_param ?? null)));
}

// ---------------------------------------------------------------------------------------------
// Constant values

function tensorConst(t: TensorProto): ConstValue | undefined {
  const count = tensorElementCount(t);
  if (!(count <= MAX_FOLD) || t.dims.length > MAX_RANK) return undefined;
  const values = tensorValues(t);
  if (!values || values.length !== count) return undefined;
  return { dims: t.dims.map(Number), data: Array.from(values), int: !isFloating(t.data_type) };
}

function numbersOf(v: ConstValue | undefined): number[] | undefined {
  return v && v.data.every(isNum) ? v.data : undefined;
}

function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The flat index into a broadcast input for flat index `k` of the output. */
function sourceIndex(k: number, out: number[], dims: number[]): number {
  let rem = k;
  let idx = 0;
  let stride = 1;
  for (let a = out.length - 1; a >= 0; a--) {
    const coord = rem % out[a];
    rem = Math.floor(rem / out[a]);
    const b = a - (out.length - dims.length);
    if (b < 0) continue;
    if (dims[b] !== 1) idx += coord * stride;
    stride *= dims[b];
  }
  return idx;
}

/** Element-wise op over broadcast constant inputs. */
function foldElementwise(vals: (ConstValue | undefined)[], fn: (xs: Dim[]) => Dim, int: boolean): ConstValue | undefined {
  if (vals.some((v) => !v)) return undefined;
  const known = vals as ConstValue[];
  const dims = broadcast(known.map((v) => v.dims));
  if (!dims?.every(isNum) || dims.length > MAX_RANK || !(numel(dims) <= MAX_FOLD)) return undefined;
  const count = numel(dims);
  const data: Dim[] = [];
  for (let k = 0; k < count; k++) data.push(fn(known.map((v) => v.data[sourceIndex(k, dims, v.dims)] ?? null)));
  return { dims, data, int };
}

function both(fn: (a: number, b: number) => number, sym: (a: Dim, b: Dim) => Dim): (xs: Dim[]) => Dim {
  return ([a, b]) => (isNum(a) && isNum(b) ? fn(a, b) : sym(a, b));
}

function divide(a: Dim, b: Dim, int: boolean): Dim {
  if (b === 1) return a;
  if (a === b && a !== null && a !== 0) return 1;
  if (!isNum(a) || !isNum(b) || (int && b === 0)) return null;
  return int ? Math.trunc(a / b) : a / b;
}

function modulo(a: Dim, b: Dim, fmod: boolean): Dim {
  if (!isNum(a) || !isNum(b) || b === 0) return null;
  return fmod ? a % b : a - b * Math.floor(a / b);
}

const none = (): Dim => null;

/** Element-wise folders: the op's function on Dims (symbols survive x+0, x*1, x/1, x-0). */
function arithmetic(op: string, v: NodeView): ((xs: Dim[]) => Dim) | undefined {
  const int = v.vals().every((x) => x?.int !== false);
  const table: Record<string, (xs: Dim[]) => Dim> = {
    Add: ([a, b]) => addDims(a, b),
    Sub: both((a, b) => a - b, (a, b) => (b === 0 ? a : a === b && a !== null ? 0 : null)),
    Mul: ([a, b]) => mulDims(a, b),
    Div: ([a, b]) => divide(a, b, int),
    Mod: ([a, b]) => modulo(a, b, v.int('fmod', 0) === 1),
    Max: both(Math.max, none),
    Min: both(Math.min, none),
    Neg: ([a]) => (isNum(a) ? -a : null),
    Abs: ([a]) => (isNum(a) ? Math.abs(a) : null),
    Floor: ([a]) => (isNum(a) ? Math.floor(a) : a),
    Ceil: ([a]) => (isNum(a) ? Math.ceil(a) : a),
    Equal: ([a, b]) => (a !== null && a === b ? 1 : isNum(a) && isNum(b) ? 0 : null),
    Where: ([c, a, b]) => (isNum(c) ? (c !== 0 ? a : b) : a === b ? a : null),
  };
  return table[op];
}

// ---------------------------------------------------------------------------------------------
// Scopes

/** Shapes and constant values of one graph's tensors, with lookups falling back to outer scopes. */
export class GraphShapes {
  readonly shapes = new Map<string, Shape | null>();
  readonly values = new Map<string, ConstValue | null>();
  /** Initializers that are also graph inputs in IR >= 4: defaults a caller may override, not constants. */
  readonly overridable = new Set<string>();

  constructor(
    readonly index: GraphIndex,
    readonly path: string,
    readonly parent?: GraphShapes,
  ) {}

  shape(name: string): Shape | null {
    if (!name) return null;
    const own = this.shapes.get(name);
    if (own !== undefined || this.shapes.has(name)) return own ?? null;
    return this.parent ? this.parent.shape(name) : null;
  }

  value(name: string): ConstValue | undefined {
    if (!name) return undefined;
    const own = this.values.get(name);
    if (own !== undefined) return own ?? undefined;
    const init = this.index.initializers.get(name);
    if (init && !this.overridable.has(name)) return this.cache(name, tensorConst(init));
    if (this.shapes.has(name)) return undefined;
    return this.parent?.value(name);
  }

  private cache(name: string, v: ConstValue | undefined): ConstValue | undefined {
    this.values.set(name, v ?? null);
    return v;
  }
}

interface Context {
  opset: number;
  irVersion: number;
  graphs: Map<GraphProto, GraphShapes>;
  warnings: string[];
}

/** What a rule sees of a node: its inputs' shapes and values, attributes, opset. */
class NodeView {
  constructor(
    readonly node: NodeProto,
    readonly scope: GraphShapes,
    readonly ctx: Context,
  ) {}

  get opset(): number {
    return this.ctx.opset;
  }

  get outputs(): number {
    return this.node.output.length;
  }

  has(i: number): boolean {
    return !!this.node.input[i];
  }

  in(i: number): Shape | null {
    return this.scope.shape(this.node.input[i] ?? '');
  }

  val(i: number): ConstValue | undefined {
    return this.scope.value(this.node.input[i] ?? '');
  }

  vals(): (ConstValue | undefined)[] {
    return this.node.input.map((_, i) => this.val(i));
  }

  /** Input i as numbers (axes, pads, sizes): undefined when absent or not a known constant. */
  ints(i: number): number[] | undefined {
    return numbersOf(this.val(i));
  }

  /** Input i as numbers when present; aborts the rule when it is present but not known. */
  known(i: number): number[] | undefined {
    return this.has(i) ? (this.ints(i) ?? fail()) : undefined;
  }

  int(name: string, fallback: number): number {
    return attrInt(this.node, name, fallback);
  }

  attrInts(name: string): number[] | undefined {
    return attrInts(this.node, name);
  }

  /** Axes from input `i` (newer opsets) or the `axes` attribute (older ones). */
  axes(i: number): number[] | undefined {
    return this.has(i) ? this.known(i) : this.attrInts('axes');
  }
}

// ---------------------------------------------------------------------------------------------
// Shape rules, one per op

type Rule = (v: NodeView) => (Shape | null)[];

const unary: Rule = (v) => [v.in(0)];
const sameForAll: Rule = (v) => Array.from({ length: v.outputs }, () => v.in(0));
const elementwise: Rule = (v) => [broadcast(v.node.input.map((_, i) => v.in(i)))];

/** Output size of a sliding window (conv or pool) along one axis. */
function windowOut(dim: Dim, k: number, pads: [number, number], stride: number, dilation: number, mode: { autoPad: string; ceil: boolean }): Dim {
  const span = (k - 1) * dilation + 1;
  if (mode.autoPad.startsWith('SAME')) return stride === 1 ? dim : isNum(dim) ? Math.ceil(dim / stride) : null;
  const [pb, pe] = mode.autoPad === 'VALID' ? [0, 0] : pads;
  if (span === 1 && stride === 1 && pb + pe === 0) return dim;
  if (!isNum(dim) || stride <= 0) return null;
  const room = dim + pb + pe - span;
  if (room < 0) return null;
  let out = (mode.ceil ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (mode.ceil && (out - 1) * stride >= dim + pb) out--;
  return out;
}

interface WindowAttrs {
  kernel: Dim[];
  pads: number[];
  strides: number[];
  dilations: number[];
  autoPad: string;
  ceil: boolean;
}

function windowAttrs(v: NodeView, spatial: number, kernel: Dim[]): WindowAttrs {
  const n = spatial;
  return {
    kernel,
    pads: v.attrInts('pads') ?? new Array<number>(2 * n).fill(0),
    strides: v.attrInts('strides') ?? new Array<number>(n).fill(1),
    dilations: v.attrInts('dilations') ?? new Array<number>(n).fill(1),
    autoPad: attrString(v.node, 'auto_pad') ?? 'NOTSET',
    ceil: v.int('ceil_mode', 0) === 1,
  };
}

function windowSpatial(x: Shape, w: WindowAttrs): Shape {
  const n = x.length - 2;
  return range(n).map((i) => {
    const k = w.kernel[i];
    if (!isNum(k)) return null;
    return windowOut(x[2 + i], k, [w.pads[i] ?? 0, w.pads[i + n] ?? 0], w.strides[i] ?? 1, w.dilations[i] ?? 1, w);
  });
}

function convShape(v: NodeView, xi: number, wi: number): Shape | null {
  const x = v.in(xi);
  if (!x || x.length < 3) return null;
  const w = v.in(wi);
  const kernel = v.attrInts('kernel_shape') ?? (w && w.length === x.length ? w.slice(2) : nulls(x.length - 2));
  return [x[0], w ? w[0] : null, ...windowSpatial(x, windowAttrs(v, x.length - 2, kernel))];
}

const conv = (xi: number, wi: number): Rule => (v) => [convShape(v, xi, wi)];

const pool: Rule = (v) => {
  const x = v.in(0);
  if (!x || x.length < 3) return [null, null];
  const kernel = v.attrInts('kernel_shape') ?? fail();
  const out = [x[0], x[1], ...windowSpatial(x, windowAttrs(v, x.length - 2, kernel))];
  return [out, out];
};

const globalPool: Rule = (v) => {
  const x = v.in(0);
  return [x && x.length >= 2 ? [x[0], x[1], ...x.slice(2).map(() => 1)] : null];
};

function convTransposeDim(i: number, dim: Dim, kernel: Dim, w: WindowAttrs, outputPadding: number[]): Dim {
  const n = w.kernel.length;
  const s = w.strides[i] ?? 1;
  if (w.autoPad.startsWith('SAME')) return mulDims(dim, s);
  if (!isNum(dim) || !isNum(kernel)) return null;
  const pads = w.autoPad === 'VALID' ? 0 : (w.pads[i] ?? 0) + (w.pads[i + n] ?? 0);
  return cleanDim(s * (dim - 1) + (outputPadding[i] ?? 0) + ((kernel - 1) * (w.dilations[i] ?? 1) + 1) - pads);
}

const convTranspose: Rule = (v) => {
  const x = v.in(0);
  if (!x || x.length < 3) return [null];
  const w = v.in(1);
  const n = x.length - 2;
  const cout = w && w.length === x.length ? mulDims(w[1], v.int('group', 1)) : null;
  const explicit = v.attrInts('output_shape');
  if (explicit) return [[x[0], cout, ...explicit.slice(-n).map(cleanDim)]];
  const kernel = v.attrInts('kernel_shape') ?? (w && w.length === x.length ? w.slice(2) : nulls(n));
  const attrs = windowAttrs(v, n, kernel);
  const outPad = v.attrInts('output_padding') ?? [];
  return [[x[0], cout, ...range(n).map((i) => convTransposeDim(i, x[2 + i], kernel[i], attrs, outPad))]];
};

const gemm: Rule = (v) => {
  const a = v.in(0);
  const b = v.in(1);
  const m = a?.length === 2 ? a[v.int('transA', 0) ? 1 : 0] : null;
  const n = b?.length === 2 ? b[v.int('transB', 0) ? 0 : 1] : null;
  return [[m, n]];
};

/** numpy matmul: 1-D operands get a dim prepended (A) or appended (B) and removed afterwards. */
export function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b || a.length === 0 || b.length === 0) return null;
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return null;
  const m = a.length === 1 ? [] : [a2[a2.length - 2]];
  const n = b.length === 1 ? [] : [b2[b2.length - 1]];
  return [...batch, ...m, ...n];
}

const matmul = (ai: number, bi: number): Rule => (v) => [matmulShape(v.in(ai), v.in(bi))];

const batchNorm: Rule = (v) => {
  const x = v.in(0);
  const c = x && x.length >= 2 ? [x[1]] : null;
  return [x, c, c, c, c];
};

const layerNorm: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null, null, null];
  const axis = v.int('axis', -1);
  const start = axis < 0 ? axis + x.length : axis;
  const stats = x.map((d, i) => (i >= start ? 1 : d));
  return [x, stats, stats];
};

/** Reshape's target with 0 (copy) and -1 (infer) resolved. */
export function reshapeDims(input: Shape | null, target: Dim[], allowZero: boolean): Shape | null {
  if (target.length > MAX_RANK) return null;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input?.[i] ?? null) : d === -1 ? -1 : cleanDim(d)));
  const holes = out.filter((d) => d === -1).length;
  if (holes === 0) return out;
  const at = out.indexOf(-1);
  const rest = out.filter((_, i) => i !== at);
  out[at] = holes === 1 && input ? quotient(input, rest) : null;
  return out.map((d) => (d === -1 ? null : d));
}

const reshape: Rule = (v) => {
  const target = v.val(1);
  if (target) return [reshapeDims(v.in(0), target.data, v.int('allowzero', 0) === 1)];
  const t = v.in(1);
  return [t?.length === 1 && isNum(t[0]) ? nulls(t[0]) : null];
};

const flatten: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const axis = v.int('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  if (a < 0 || a > x.length) fail();
  return [[dimProduct(x.slice(0, a)), dimProduct(x.slice(a))]];
};

const transpose: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const perm = v.attrInts('perm') ?? range(x.length).reverse();
  if (perm.length !== x.length) fail();
  axesOf(perm, x.length);
  return [perm.map((p) => x[p])];
};

const concat: Rule = (v) => {
  const shapes = v.node.input.map((_, i) => v.in(i));
  const known = shapes.filter((s): s is Shape => s !== null);
  if (known.length === 0) return [null];
  const rank = known[0].length;
  if (known.some((s) => s.length !== rank)) fail();
  const axis = axisOf(v.int('axis', 0), rank);
  const out = range(rank).map((i) => known.map((s) => s[i]).reduce(unifyDim));
  out[axis] = known.length === shapes.length ? dimSum(known.map((s) => s[axis])) : null;
  return [out];
};

function splitSizes(v: NodeView, dim: Dim): Dim[] {
  const explicit = v.has(1) ? v.known(1) : v.attrInts('split');
  if (explicit) return explicit.map(cleanDim);
  const n = v.int('num_outputs', v.outputs);
  if (!isNum(dim) || n <= 0) return new Array<Dim>(v.outputs).fill(null);
  const chunk = Math.ceil(dim / n);
  return range(v.outputs).map((i) => Math.min(chunk, Math.max(0, dim - chunk * i)));
}

const split: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [];
  const axis = axisOf(v.int('axis', 0), x.length);
  return splitSizes(v, x[axis]).map((d) => withDim(x, axis, d));
};

interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

function sliceParams(v: NodeView, rank: number): SliceParams {
  const old = v.opset < 10 && !v.has(1);
  const starts = (old ? v.attrInts('starts') : v.known(1)) ?? fail();
  const ends = (old ? v.attrInts('ends') : v.known(2)) ?? fail();
  const axes = (old ? v.attrInts('axes') : v.known(3)) ?? range(starts.length);
  const steps = (old ? undefined : v.known(4)) ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) fail();
  return { starts, ends, axes: [...axesOf(axes, rank)], steps };
}

/** Clamped [start, end) of a slice along a dim of known size, per the ONNX spec. */
function sliceBounds(dim: number, start: number, end: number, step: number): [number, number] {
  const s = start < 0 ? start + dim : start;
  const e = end < 0 ? end + dim : end;
  if (step > 0) return [Math.min(Math.max(s, 0), dim), Math.min(Math.max(e, 0), dim)];
  return [Math.min(Math.max(s, 0), dim - 1), Math.min(Math.max(e, -1), dim - 1)];
}

function sliceDim(dim: Dim, start: number, end: number, step: number): Dim {
  if (step === 0 || !Number.isFinite(step)) fail();
  if (!isNum(dim)) {
    const whole = (step === 1 && start === 0 && end >= HUGE) || (step === -1 && start === -1 && end <= -HUGE);
    return whole ? dim : null;
  }
  const [b, e] = sliceBounds(dim, start, end, step);
  return Math.max(0, Math.ceil((e - b) / step));
}

const slice: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const p = sliceParams(v, x.length);
  const out = x.slice();
  p.axes.forEach((a, k) => (out[a] = sliceDim(x[a], p.starts[k], p.ends[k], p.steps[k])));
  return [out];
};

const squeeze: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const axes = v.axes(1);
  if (!axes) return [x.every(isNum) ? x.filter((d) => d !== 1) : null];
  const drop = axesOf(axes, x.length);
  return [x.filter((_, i) => !drop.has(i))];
};

const unsqueeze: Rule = (v) => {
  const x = v.in(0);
  const axes = v.axes(1) ?? fail();
  if (!x) return [null];
  const rank = x.length + axes.length;
  if (rank > MAX_RANK) fail();
  const ones = axesOf(axes, rank);
  let next = 0;
  return [range(rank).map((i) => (ones.has(i) ? 1 : x[next++]))];
};

const gather: Rule = (v) => {
  const x = v.in(0);
  const idx = v.in(1);
  if (!x || !idx) return [null];
  const axis = axisOf(v.int('axis', 0), x.length);
  return [[...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]];
};

const gatherND: Rule = (v) => {
  const x = v.in(0);
  const idx = v.in(1);
  const last = idx?.[idx.length - 1] ?? null;
  if (!x || !idx || !isNum(last)) return [null];
  return [[...idx.slice(0, -1), ...x.slice(v.int('batch_dims', 0) + last)]];
};

function shapeRange(v: NodeView, rank: number): [number, number] {
  const norm = (d: number) => Math.min(Math.max(d < 0 ? d + rank : d, 0), rank);
  return [norm(v.int('start', 0)), norm(v.int('end', rank))];
}

const shapeOp: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [[null]];
  const [s, e] = shapeRange(v, x.length);
  return [[Math.max(0, e - s)]];
};

function resizeScales(v: NodeView): number[] | undefined {
  const i = v.node.op_type === 'Upsample' || v.opset < 11 ? 1 : 2;
  const fromInput = v.has(i) ? v.ints(i) : undefined;
  if (fromInput?.length) return fromInput;
  const floats = attr(v.node, 'scales')?.floats;
  return floats?.length ? floats : undefined;
}

function keepAspect(x: Shape, axes: number[], sizes: number[], policy: string): Dim[] {
  if (policy === 'stretch' || !axes.every((a) => isNum(x[a]))) return sizes;
  const ratios = axes.map((a, k) => sizes[k] / (x[a] as number));
  const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
  return axes.map((a) => Math.round(scale * (x[a] as number)));
}

function scaledDim(dim: Dim, scale: number): Dim {
  if (scale === 1) return dim;
  return isNum(dim) ? Math.floor(Math.fround(dim * scale)) : null;
}

const resize: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const axes = v.attrInts('axes')?.map((a) => axisOf(a, x.length)) ?? range(x.length);
  const sizes = v.node.op_type === 'Resize' && v.opset >= 11 ? v.ints(3) : undefined;
  const out = x.slice();
  if (sizes?.length) {
    const dims = keepAspect(x, axes, sizes, attrString(v.node, 'keep_aspect_ratio_policy') ?? 'stretch');
    axes.forEach((a, k) => (out[a] = cleanDim(dims[k])));
    return [out];
  }
  const scales = resizeScales(v);
  if (!scales) return [nulls(x.length)];
  axes.forEach((a, k) => (out[a] = scaledDim(x[a], scales[k] ?? fail())));
  return [out];
};

function reduceDims(x: Shape, axes: Set<number>, keep: boolean): Shape {
  return keep ? x.map((d, i) => (axes.has(i) ? 1 : d)) : x.filter((_, i) => !axes.has(i));
}

const reduce: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const keep = v.int('keepdims', 1) === 1;
  const axes = v.axes(1);
  if (!axes?.length && v.int('noop_with_empty_axes', 0) === 1) return [x];
  const set = axes?.length ? axesOf(axes, x.length) : new Set(range(x.length));
  return [reduceDims(x, set, keep)];
};

const argReduce: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  return [reduceDims(x, new Set([axisOf(v.int('axis', 0), x.length)]), v.int('keepdims', 1) === 1)];
};

const pad: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null];
  const pads = v.has(1) ? v.ints(1) : (v.attrInts('pads') ?? v.attrInts('paddings'));
  if (!pads) return [nulls(x.length)];
  const axes = v.has(3) ? [...axesOf(v.known(3) ?? fail(), x.length)] : range(x.length);
  if (pads.length !== 2 * axes.length) fail();
  const out = x.slice();
  axes.forEach((a, k) => (out[a] = cleanDim(addDims(x[a], pads[k] + pads[k + axes.length]))));
  return [out];
};

const expand: Rule = (v) => {
  const target = v.val(1);
  if (target) return [broadcast([v.in(0), target.data.map(cleanDim)])];
  const t = v.in(1);
  const x = v.in(0);
  return [x && t?.length === 1 && isNum(t[0]) ? nulls(Math.max(x.length, t[0])) : null];
};

const tile: Rule = (v) => {
  const x = v.in(0);
  const reps = v.ints(1);
  if (!x) return [null];
  if (!reps) return [nulls(x.length)];
  if (reps.length !== x.length) fail();
  return [x.map((d, i) => cleanDim(mulDims(d, reps[i])))];
};

const constantOfShape: Rule = (v) => {
  const dims = v.val(0);
  if (dims) return [dims.data.length > MAX_RANK ? null : dims.data.map(cleanDim)];
  const t = v.in(0);
  return [t?.length === 1 && isNum(t[0]) ? nulls(t[0]) : null];
};

function rangeLength(v: NodeView): Dim {
  const [start, limit, delta] = [0, 1, 2].map((i) => numbersOf(v.val(i))?.[0]);
  if (start === undefined || limit === undefined || !delta) return null;
  return cleanDim(Math.max(Math.ceil((limit - start) / delta), 0));
}

const rangeOp: Rule = (v) => [[rangeLength(v)]];

const topK: Rule = (v) => {
  const x = v.in(0);
  if (!x) return [null, null];
  const k = v.has(1) ? (numbersOf(v.val(1))?.[0] ?? null) : v.int('k', -1);
  const out = withDim(x, axisOf(v.int('axis', -1), x.length), cleanDim(k));
  return [out, out];
};

function constantShape(node: NodeProto): Shape | null {
  const a = node.attribute.find((x) => x.name?.startsWith('value') || x.name === 'sparse_value');
  if (!a) return null;
  if (a.t) return a.t.dims.map((d) => cleanDim(Number(d)));
  if (a.sparse_tensor) return a.sparse_tensor.dims.map((d) => cleanDim(Number(d)));
  if (a.name === 'value_ints' || a.name === 'value_floats' || a.name === 'value_strings') return [a.ints.length + a.floats.length + a.strings.length];
  return [];
}

const constant: Rule = (v) => [constantShape(v.node)];

function branch(v: NodeView, name: string): GraphShapes | undefined {
  const g = attr(v.node, name)?.g;
  return g ? v.ctx.graphs.get(g) : undefined;
}

/** The branch an If will take when its condition is a known constant. */
function takenBranch(v: NodeView): GraphShapes | undefined {
  const cond = numbersOf(v.val(0));
  if (!cond || cond.length !== 1) return undefined;
  return branch(v, cond[0] ? 'then_branch' : 'else_branch');
}

function branchOutput(g: GraphShapes | undefined, k: number): Shape | null {
  const name = g?.index.graph.output[k]?.name;
  return g && name ? g.shape(name) : null;
}

const ifOp: Rule = (v) => {
  const taken = takenBranch(v);
  const [t, e] = [branch(v, 'then_branch'), branch(v, 'else_branch')];
  return range(v.outputs).map((k) => (taken ? branchOutput(taken, k) : agreeShape(branchOutput(t, k), branchOutput(e, k))));
};

const loop: Rule = (v) => {
  const body = branch(v, 'body');
  const carried = Math.max(v.node.input.length - 2, 0);
  return range(v.outputs).map((k) => {
    const s = branchOutput(body, k + 1);
    return k < carried ? s : s && [null, ...s];
  });
};

const depthToSpace: Rule = (v) => {
  const x = v.in(0);
  const b = v.int('blocksize', 1);
  if (!x || x.length !== 4) return [null];
  return [[x[0], divide(x[1], b * b, true), mulDims(x[2], b), mulDims(x[3], b)]];
};

const spaceToDepth: Rule = (v) => {
  const x = v.in(0);
  const b = v.int('blocksize', 1);
  if (!x || x.length !== 4) return [null];
  return [[x[0], mulDims(x[1], b * b), divide(x[2], b, true), divide(x[3], b, true)]];
};

const nonZero: Rule = (v) => {
  const x = v.in(0);
  return [x ? [x.length, null] : null];
};

/** LSTM/GRU/RNN: Y, Y_h (and Y_c for LSTM), in either layout. */
const recurrent: Rule = (v) => {
  const x = v.in(0);
  if (!x || x.length !== 3) return [null, null, null];
  const dirs = attrString(v.node, 'direction') === 'bidirectional' ? 2 : 1;
  const hidden = cleanDim(v.int('hidden_size', -1));
  const batchFirst = v.int('layout', 0) === 1;
  const [seq, batch] = batchFirst ? [x[1], x[0]] : [x[0], x[1]];
  const y = batchFirst ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden];
  const state = batchFirst ? [batch, dirs, hidden] : [dirs, batch, hidden];
  return [y, state, state];
};

const dynamicQuantize: Rule = (v) => [v.in(0), [], []];
const gatherElements: Rule = (v) => [v.in(1)];

const UNARY_OPS = [
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'Bernoulli', 'Cast', 'CastLike', 'Ceil', 'Celu', 'Clip', 'Cos',
  'Cosh', 'CumSum', 'DequantizeLinear', 'Elu', 'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity',
  'InstanceNormalization', 'GroupNormalization', 'IsInf', 'IsNaN', 'LRN', 'LeakyRelu', 'Log', 'LogSoftmax', 'LpNormalization',
  'MeanVarianceNormalization', 'Mish', 'Neg', 'Not', 'QuantizeLinear', 'Reciprocal', 'Relu', 'ReverseSequence', 'Round', 'Selu',
  'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Softmax', 'Softplus', 'Softsign', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu', 'Trilu',
  'Scatter', 'ScatterElements', 'ScatterND', 'EyeLike',
];

const ELEMENTWISE_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Mean', 'Sum', 'Where', 'Equal', 'Greater', 'GreaterOrEqual', 'Less',
  'LessOrEqual', 'And', 'Or', 'Xor', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu',
];

const REDUCE_OPS = ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

const RULES: Record<string, Rule> = {
  ...Object.fromEntries(UNARY_OPS.map((op) => [op, unary])),
  ...Object.fromEntries(ELEMENTWISE_OPS.map((op) => [op, elementwise])),
  ...Object.fromEntries(REDUCE_OPS.map((op) => [op, reduce])),
  Dropout: sameForAll,
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  Conv: conv(0, 1),
  ConvInteger: conv(0, 1),
  QLinearConv: conv(0, 3),
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  Gemm: gemm,
  MatMul: matmul(0, 1),
  MatMulInteger: matmul(0, 1),
  QLinearMatMul: matmul(0, 3),
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Shape: shapeOp,
  Size: () => [[]],
  Resize: resize,
  Upsample: resize,
  ArgMax: argReduce,
  ArgMin: argReduce,
  Pad: pad,
  Expand: expand,
  Tile: tile,
  ConstantOfShape: constantOfShape,
  Range: rangeOp,
  TopK: topK,
  Constant: constant,
  If: ifOp,
  Loop: loop,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  NonZero: nonZero,
  LSTM: recurrent,
  GRU: recurrent,
  RNN: recurrent,
  DynamicQuantizeLinear: dynamicQuantize,
};

/** The onnxruntime contrib ops (com.microsoft) whose shapes are known; other custom ops are unknown. */
const MS_RULES: Record<string, Rule> = {
  ...Object.fromEntries(['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'SkipLayerNormalization'].map((op) => [op, unary])),
  FusedConv: conv(0, 1),
};

// ---------------------------------------------------------------------------------------------
// Constant folders

type Folder = (v: NodeView, out: Shape | null) => ConstValue | undefined;

function constantValue(node: NodeProto): ConstValue | undefined {
  const a = node.attribute.find((x) => x.name?.startsWith('value'));
  if (!a) return undefined;
  if (a.t) return tensorConst(a.t);
  return scalarAttrValue(a);
}

function scalarAttrValue(a: AttributeProto): ConstValue | undefined {
  if (a.name === 'value_int') return { dims: [], data: [Number(a.i ?? 0)], int: true };
  if (a.name === 'value_float') return { dims: [], data: [a.f ?? 0], int: false };
  if (a.name === 'value_ints' && a.ints.length <= MAX_FOLD) return { dims: [a.ints.length], data: a.ints.map(Number), int: true };
  if (a.name === 'value_floats' && a.floats.length <= MAX_FOLD) return { dims: [a.floats.length], data: [...a.floats], int: false };
  return undefined;
}

const foldShape: Folder = (v) => {
  const x = v.in(0);
  if (!x) return undefined;
  const [s, e] = shapeRange(v, x.length);
  const data = x.slice(s, e);
  return { dims: [data.length], data, int: true };
};

const foldSize: Folder = (v) => {
  const x = v.in(0);
  return x ? { dims: [], data: [dimProduct(x)], int: true } : undefined;
};

/** Same elements, new dims: Reshape, Squeeze, Unsqueeze, Flatten, Identity. */
const foldReshape: Folder = (v, out) => {
  const x = v.val(0);
  if (!x || !out || !out.every(isNum) || numel(out) !== x.data.length) return undefined;
  return { dims: out, data: x.data, int: x.int };
};

const foldGather: Folder = (v, out) => {
  const [x, idx] = [v.val(0), numbersOf(v.val(1))];
  if (!x || !idx || !out?.every(isNum) || !(numel(out) <= MAX_FOLD)) return undefined;
  const axis = axisOf(v.int('axis', 0), x.dims.length);
  const [outer, len, inner] = [numel(x.dims.slice(0, axis)), x.dims[axis], numel(x.dims.slice(axis + 1))];
  const data: Dim[] = [];
  for (let o = 0; o < outer; o++) {
    for (const i of idx) {
      const at = i < 0 ? i + len : i;
      if (!(at >= 0 && at < len)) return undefined;
      for (let k = 0; k < inner; k++) data.push(x.data[(o * len + at) * inner + k]);
    }
  }
  return { dims: out, data, int: x.int };
};

const foldSlice: Folder = (v) => {
  const x = v.val(0);
  if (!x || x.dims.length !== 1) return undefined;
  const p = sliceParams(v, 1);
  const [b, e] = sliceBounds(x.dims[0], p.starts[0], p.ends[0], p.steps[0]);
  const data: Dim[] = [];
  for (let i = b; p.steps[0] > 0 ? i < e : i > e; i += p.steps[0]) data.push(x.data[i]);
  return { dims: [data.length], data, int: x.int };
};

const foldConcat: Folder = (v, out) => {
  const vals = v.vals();
  if (!out?.every(isNum) || !(numel(out) <= MAX_FOLD) || vals.some((x) => !x || x.dims.length !== 1)) return undefined;
  const known = vals as ConstValue[];
  return { dims: out, data: known.flatMap((x) => x.data), int: known.every((x) => x.int) };
};

const foldCast: Folder = (v) => {
  const x = v.val(0);
  if (!x) return undefined;
  const to = v.int('to', 1);
  const int = !isFloating(to);
  const cast = (d: Dim): Dim => (!isNum(d) || !int ? d : to === 9 ? Number(d !== 0) : Math.trunc(d));
  return { dims: x.dims, data: x.data.map(cast), int };
};

const foldArithmetic: Folder = (v) => {
  const fn = arithmetic(v.node.op_type ?? '', v);
  const vals = v.vals();
  const op = v.node.op_type;
  const int = op === 'Equal' ? true : vals.slice(op === 'Where' ? 1 : 0).every((x) => x?.int !== false);
  return fn ? foldElementwise(vals, fn, int) : undefined;
};

const foldRange: Folder = (v) => {
  const n = rangeLength(v);
  const [start, , delta] = [0, 1, 2].map((i) => numbersOf(v.val(i))?.[0] ?? 0);
  if (!isNum(n) || n > MAX_FOLD) return undefined;
  return { dims: [n], data: range(n).map((i) => start + i * delta), int: v.val(0)?.int ?? true };
};

const foldConstantOfShape: Folder = (v, out) => {
  if (!out?.every(isNum) || numel(out) > MAX_FOLD) return undefined;
  const t = attr(v.node, 'value')?.t;
  const fill = t ? tensorConst(t) : undefined;
  return { dims: out, data: new Array<Dim>(numel(out)).fill(fill?.data[0] ?? 0), int: fill?.int ?? false };
};

const foldExpand: Folder = (v) => {
  const target = numbersOf(v.val(1));
  const x = v.val(0);
  if (!x || !target) return undefined;
  return foldElementwise([x, { dims: target, data: [], int: true }], ([a]) => a, x.int);
};

/** ReduceProd / ReduceSum over a 1-D value: how exporters compute flattened sizes. */
const foldReduce: Folder = (v, out) => {
  const x = v.val(0);
  const axes = v.axes(1);
  if (!x || x.dims.length !== 1 || !out?.every(isNum) || (axes && axes.some((a) => a !== 0 && a !== -1))) return undefined;
  const prod = v.node.op_type === 'ReduceProd';
  return { dims: out, data: [x.data.reduce(prod ? mulDims : addDims, prod ? 1 : 0)], int: x.int };
};

const foldIf: Folder = (v) => {
  const g = takenBranch(v);
  const name = g?.index.graph.output[0]?.name;
  return g && name && v.outputs === 1 ? g.value(name) : undefined;
};

const FOLDERS: Record<string, Folder> = {
  Constant: (v) => constantValue(v.node),
  Shape: foldShape,
  Size: foldSize,
  Gather: foldGather,
  Slice: foldSlice,
  Concat: foldConcat,
  Cast: foldCast,
  Range: foldRange,
  ConstantOfShape: foldConstantOfShape,
  Expand: foldExpand,
  If: foldIf,
  ReduceProd: foldReduce,
  ReduceSum: foldReduce,
  ...Object.fromEntries(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity'].map((op) => [op, foldReshape])),
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Max', 'Min', 'Neg', 'Abs', 'Floor', 'Ceil', 'Equal', 'Where'].map((op) => [op, foldArithmetic])),
};

// ---------------------------------------------------------------------------------------------
// Driver

function guarded<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotInferable || err instanceof RangeError || err instanceof TypeError) return fallback;
    throw err;
  }
}

function ruleFor(node: NodeProto): Rule | undefined {
  const domain = node.domain ?? '';
  const table = domain === '' || domain === 'ai.onnx' ? RULES : domain === 'com.microsoft' ? MS_RULES : undefined;
  return table && Object.hasOwn(table, node.op_type ?? '') ? table[node.op_type ?? ''] : undefined;
}

function foldOutput(v: NodeView, shape: Shape | null): ConstValue | undefined {
  const domain = v.node.domain ?? '';
  const op = v.node.op_type ?? '';
  const folder = (domain === '' || domain === 'ai.onnx') && Object.hasOwn(FOLDERS, op) ? FOLDERS[op] : undefined;
  const value = folder ? guarded(() => folder(v, shape), undefined) : undefined;
  return value && value.dims.length <= MAX_RANK && value.dims.every((d) => Number.isSafeInteger(d) && d >= 0) ? value : undefined;
}

function record(scope: GraphShapes, name: string, shape: Shape | null, value: ConstValue | undefined): void {
  const declared = shapeOfType(scope.index.valueInfo.get(name)?.type);
  scope.shapes.set(name, value ? value.dims : fillFrom(checkRank(shape), declared));
  scope.values.set(name, value ?? null);
}

function inferNode(scope: GraphShapes, i: number, ctx: Context): void {
  const node = scope.index.graph.node[i];
  inferSubgraphs(scope, node, i, ctx);
  const view = new NodeView(node, scope, ctx);
  const rule = ruleFor(node);
  const shapes = rule ? guarded(() => rule(view), []) : [];
  const value = node.output.length === 1 ? foldOutput(view, checkRank(shapes[0] ?? null)) : undefined;
  node.output.forEach((name, k) => name && record(scope, name, shapes[k] ?? null, k === 0 ? value : undefined));
}

function subgraphsOf(node: NodeProto): { graph: GraphProto; label: string }[] {
  return node.attribute.flatMap((a) => [
    ...(a.g ? [{ graph: a.g, label: a.name ?? 'graph' }] : []),
    ...a.graphs.map((graph, k) => ({ graph, label: `${a.name ?? 'graph'}[${k}]` })),
  ]);
}

function inferSubgraphs(scope: GraphShapes, node: NodeProto, i: number, ctx: Context): void {
  const label = node.name || `${node.op_type ?? 'node'}_${i}`;
  for (const sub of subgraphsOf(node)) {
    if (ctx.graphs.has(sub.graph)) continue;
    const path = `${scope.path ? scope.path + '/' : ''}${label}/${sub.label}`;
    inferGraph(new GraphIndex(sub.graph, scope.index), path, ctx, scope);
  }
}

function seedGraph(scope: GraphShapes, inputs: Map<string, Shape | null>, ctx: Context): void {
  const graph = scope.index.graph;
  for (const input of graph.input) {
    if (!input.name) continue;
    scope.shapes.set(input.name, inputs.get(input.name) ?? shapeOfType(input.type));
    if (ctx.irVersion >= 4 && scope.index.initializers.has(input.name)) scope.overridable.add(input.name);
  }
  for (const t of graph.initializer) if (t.name) scope.shapes.set(t.name, checkRank(t.dims.map(Number)));
  for (const s of graph.sparse_initializer) {
    const name = s.values?.name;
    if (name) scope.shapes.set(name, checkRank(s.dims.map(Number)));
  }
}

function inferGraph(index: GraphIndex, path: string, ctx: Context, parent?: GraphShapes, inputs = new Map<string, Shape | null>()): GraphShapes {
  const scope = new GraphShapes(index, path, parent);
  ctx.graphs.set(index.graph, scope);
  seedGraph(scope, inputs, ctx);
  for (const i of index.topoOrder()) inferNode(scope, i, ctx);
  return scope;
}

// ---------------------------------------------------------------------------------------------
// User input shapes

function validUserShape(name: string, dims: number[], warnings: string[]): boolean {
  const ok = Array.isArray(dims) && dims.length <= MAX_RANK && dims.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!ok) warnings.push(`shape given for input ${name} is not a list of non-negative integers; ignored`);
  return ok;
}

/** A user's shape applied over the declared one: it replaces symbolic dims, never fixed ones. */
export function applyUserShape(name: string, declared: Shape | null, user: number[], warnings: string[]): Shape | null {
  if (!validUserShape(name, user, warnings)) return declared;
  if (!declared) return user.slice();
  if (declared.length !== user.length) {
    warnings.push(`shape given for input ${name} has rank ${user.length} but the model declares rank ${declared.length}; ignored`);
    return declared;
  }
  return declared.map((d, i) => {
    if (isNum(d) && d !== user[i]) warnings.push(`input ${name} dim ${i} is fixed at ${d} in the model; the given ${user[i]} is ignored`);
    return isNum(d) ? d : user[i];
  });
}

function userInputs(index: GraphIndex, shapes: Record<string, number[]>, warnings: string[]): Map<string, Shape | null> {
  const out = new Map<string, Shape | null>();
  const names = index.graphInputs.map((v) => v.name ?? '');
  for (const [name, dims] of Object.entries(shapes)) {
    const input = index.graphInputs.find((v) => v.name === name);
    if (!input) warnings.push(`shape given for ${name}, but the model has no input of that name (inputs: ${names.join(', ') || 'none'})`);
    else out.set(name, applyUserShape(name, shapeOfType(input.type), dims, warnings));
  }
  return out;
}

export interface ModelShapes {
  main: GraphShapes;
  /** Every graph of the model (main and subgraphs), by identity. */
  graphs: Map<GraphProto, GraphShapes>;
  /** Problems with the given input shapes. */
  warnings: string[];
}

/** The default-domain opset the model imports (the newest opset when it declares none). */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opset_import.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  return entry?.version !== undefined ? Number(entry.version) : 21;
}

/**
 * Infers shapes of every tensor in the model. `inputShapes` (input name -> dims) override the
 * symbolic dims of the main graph's inputs.
 */
export function inferModelShapes(model: ModelProto, inputShapes: Record<string, number[]> = {}): ModelShapes {
  const graph = model.graph ?? { node: [], initializer: [], sparse_initializer: [], input: [], output: [], value_info: [], quantization_annotation: [], metadata_props: [] };
  const ctx: Context = { opset: defaultOpset(model), irVersion: Number(model.ir_version ?? 3), graphs: new Map(), warnings: [] };
  const index = new GraphIndex(graph);
  const main = inferGraph(index, '', ctx, undefined, userInputs(index, inputShapes, ctx.warnings));
  return { main, graphs: ctx.graphs, warnings: ctx.warnings };
}

