/**
 * Constant folding of one graph: Constant nodes become initializers, and nodes of a safe set of ops
 * whose inputs are all constant are evaluated and replaced by an initializer holding the result.
 *
 * Two sources of values: the exact kernels here (dtype-exact, any rank, up to MAX_FOLD_BYTES), and
 * the shape inference of src/core/shapes.ts, whose constant propagation carries symbolic dims. The
 * latter is what folds Shape(x) -> Slice -> ... when x has some dynamic dims but the slice only
 * keeps static ones; its results are used for integer tensors only, where they are exact.
 */
import { attr, attrInt, nodeDisplayNames } from '../../onnx/graph';
import { node as makeNode } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { NodeProto, TensorProto } from '../../onnx/types';
import type { GraphShapes } from '../../core/shapes';
import type { LayerChange, LayerSkip } from '../pass';
import type { ConstScope } from './constScope';
import { byteSize, FoldError, isIntegerDtype, makeConst, toTensorProto, type ConstTensor } from './constTensor';
import { LAYOUT_KERNELS, type Kernel } from './kernelsLayout';
import { MATH_KERNELS } from './kernelsMath';
import { constantNodeTensor, graphOutputNames, readerCounts } from './scope';

const KERNELS: Readonly<Record<string, Kernel>> = { ...LAYOUT_KERNELS, ...MATH_KERNELS };

/**
 * Folding may grow the stored constants by at most this much: a tiny Expand must not become
 * megabytes, and a Transpose of a weight that other nodes also read must not store it twice.
 */
export const MAX_GROWTH_BYTES = 1024 * 1024;

/** Ops whose output has the dtype of their first input. */
const SAME_DTYPE = new Set(['Gather', 'Concat', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten', 'Transpose', 'Slice', 'Expand', 'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Sqrt', 'Range', 'Identity']);

export interface FoldEnv {
  opset: number;
  /** IR < 4 requires every initializer to be a graph input too: results then stay Constant nodes. */
  irVersion: number;
  isExcluded: (node: NodeProto, displayName: string) => boolean;
  /** Shape inference of this graph, when it ran. */
  shapes?: GraphShapes;
}

export interface FoldOutcome {
  folded: LayerChange[];
  skipped: LayerSkip[];
  constantsConverted: number;
}

class GraphFolder {
  readonly outcome: FoldOutcome = { folded: [], skipped: [], constantsConverted: 0 };
  /** Element types of the tensors seen so far, to type values that come from shape inference. */
  private readonly dtypes = new Map<string, number>();
  private readonly removed = new Set<number>();
  private readonly replaced = new Map<number, NodeProto>();
  private readonly outputs: Set<string>;
  private readonly names: string[];
  private readonly readers: Map<string, number>;

  constructor(
    private readonly scope: ConstScope,
    private readonly env: FoldEnv,
  ) {
    this.outputs = graphOutputNames(scope.graph);
    this.names = nodeDisplayNames(scope.graph);
    this.readers = readerCounts(scope.graph);
  }

  run(): FoldOutcome {
    for (const i of this.scope.index.topoOrder()) this.visit(i);
    this.applyEdits();
    return this.outcome;
  }

  private visit(i: number): void {
    const node = this.scope.graph.node[i];
    const domain = node.domain ?? '';
    if ((domain === '' || domain === 'ai.onnx') && !this.env.isExcluded(node, this.names[i])) {
      if (node.op_type === 'Constant') this.convertConstant(node, i);
      else if (KERNELS[node.op_type ?? ''] && node.output.length === 1) this.fold(node, i);
    }
    this.recordDtype(node);
  }

  /** Constant nodes become initializers (a node less each), unless they name a graph output. */
  private convertConstant(node: NodeProto, i: number): void {
    const name = node.output[0];
    const tensor = constantNodeTensor(node);
    if (!name || !tensor || this.outputs.has(name) || this.env.irVersion < 4) return;
    this.scope.graph.initializer.push({ ...tensor, name });
    this.removed.add(i);
    this.outcome.constantsConverted++;
  }

  private fold(node: NodeProto, i: number): void {
    const value = this.evaluate(node, i);
    if (!value) return;
    const name = node.output[0];
    this.scope.setFolded(name, value);
    if (this.outputs.has(name)) return; // graph outputs keep their producer; readers still see the value
    this.emit(i, name, toTensorProto(name, value));
    this.outcome.folded.push({ name: this.names[i], opType: node.op_type ?? '', action: `folded to a constant ${dimsText(value)}` });
  }

  private emit(i: number, name: string, tensor: TensorProto): void {
    if (this.env.irVersion >= 4) {
      this.scope.graph.initializer.push(tensor);
      this.removed.add(i);
    } else {
      this.replaced.set(i, makeNode('Constant', [], [name], { value: { ...tensor, name: undefined } }, `${name}_folded`));
    }
  }

  /** The node's value from the exact kernels, else (integers only) from shape inference. */
  private evaluate(node: NodeProto, i: number): ConstTensor | undefined {
    const inputs = node.input.map((n) => (n ? this.scope.value(n) : undefined));
    const allKnown = node.input.every((n, k) => !n || inputs[k]);
    // When the kernel could run but declined (int64 overflow, NaN casts...), shape inference's
    // float64 arithmetic would not do better: it is only asked about tensors the kernels cannot see.
    return allKnown ? this.runKernel(node, i, inputs) : this.fromShapes(node);
  }

  private runKernel(node: NodeProto, i: number, inputs: (ConstTensor | undefined)[]): ConstTensor | undefined {
    try {
      const value = KERNELS[node.op_type ?? ''](this.args(node, inputs));
      return this.withinGrowth(node, i, value, inputs) ? value : undefined;
    } catch (err) {
      if (err instanceof FoldError) return undefined;
      throw err;
    }
  }

  private args(node: NodeProto, inputs: (ConstTensor | undefined)[]) {
    return { node, inputs, opset: this.env.opset };
  }

  /** Bytes of the node's constant inputs that nothing else reads, so folding lets them go. */
  private freedBytes(node: NodeProto, inputs: (ConstTensor | undefined)[]): number {
    const local = (name: string) => this.scope.index.initializers.has(name) || this.scope.index.producer.has(name);
    return node.input.reduce((sum, name, k) => {
      const c = inputs[k];
      return c && local(name) && this.readers.get(name) === 1 ? sum + byteSize(c.dtype, c.dims) : sum;
    }, 0);
  }

  private withinGrowth(node: NodeProto, i: number, value: ConstTensor, inputs: (ConstTensor | undefined)[]): boolean {
    const added = byteSize(value.dtype, value.dims);
    const freed = this.freedBytes(node, inputs);
    if (added - freed <= MAX_GROWTH_BYTES) return true;
    this.outcome.skipped.push({ name: this.names[i], opType: node.op_type ?? '', reason: `folding would store ${added} bytes of constants and free only ${freed}` });
    return false;
  }

  /** Shape inference's value for an integer output, when every element is a number. */
  private fromShapes(node: NodeProto): ConstTensor | undefined {
    const name = node.output[0];
    const v = this.env.shapes?.value(name);
    const dtype = this.outputDtype(node);
    if (!v || dtype === undefined || !isIntegerDtype(dtype) || !v.data.every((d) => typeof d === 'number' && Number.isFinite(d))) return undefined;
    try {
      return makeConst(dtype, v.dims, v.data as number[]);
    } catch (err) {
      if (err instanceof FoldError) return undefined;
      throw err;
    }
  }

  private dtypeOf(name: string): number | undefined {
    return this.scope.dtype(name) ?? this.dtypes.get(name) ?? this.scope.index.valueInfo.get(name)?.type?.tensor_type?.elem_type;
  }

  private outputDtype(node: NodeProto): number | undefined {
    const op = node.op_type ?? '';
    if (op === 'Shape' || op === 'Size') return DataType.INT64;
    if (op === 'Cast') return attrInt(node, 'to', 0);
    if (op === 'ConstantOfShape') return attr(node, 'value')?.t?.data_type ?? DataType.FLOAT;
    if (op === 'Constant') return constantNodeTensor(node)?.data_type;
    return SAME_DTYPE.has(op) && node.input[0] ? this.dtypeOf(node.input[0]) : undefined;
  }

  private recordDtype(node: NodeProto): void {
    const name = node.output[0];
    const dtype = name && node.output.length === 1 ? this.outputDtype(node) : undefined;
    if (dtype !== undefined) this.dtypes.set(name, dtype);
  }

  private applyEdits(): void {
    const graph = this.scope.graph;
    graph.node = graph.node.flatMap((n, i) => (this.removed.has(i) ? [] : [this.replaced.get(i) ?? n]));
  }
}

function dimsText(c: ConstTensor): string {
  return `[${c.dims.join(', ')}]`;
}

/** Folds one graph in place (not its subgraphs: the caller walks those with their own scopes). */
export function foldConstants(scope: ConstScope, env: FoldEnv): FoldOutcome {
  return new GraphFolder(scope, env).run();
}
