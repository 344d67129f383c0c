/**
 * A small graph builder shared by the sample generators: it names intermediate values, places weights
 * where the chosen exporter style keeps them, and draws every weight from one seeded Rng so that a
 * sample is the same bytes on every run.
 */
import type { Rng } from '../core/random';
import { DataType } from '../onnx/dtypes';
import { floatTensor, graph, int64Tensor, node, valueInfo, type AttrValue } from '../onnx/build';
import type { GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/types';

/** Where weights live: initializers (torch.onnx, tf2onnx) or Constant nodes (paddle2onnx, older torch). */
export type WeightStyle = 'initializer' | 'constant';

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly opCounts = new Map<string, number>();

  constructor(
    readonly rng: Rng,
    private readonly style: WeightStyle = 'initializer',
  ) {}

  /** Adds a constant tensor and returns the name nodes use to read it. */
  weight(tensor: TensorProto): string {
    const name = tensor.name as string;
    if (this.style === 'initializer') this.initializers.push(tensor);
    // Exporters leave the tensor inside a Constant unnamed: the node's output is what carries the name.
    else this.nodes.push(node('Constant', [], [name], { value: { ...tensor, name: undefined } }, `${name}_constant`));
    return name;
  }

  floats(name: string, dims: number[], values: Float32Array | number[]): string {
    return this.weight(floatTensor(name, dims, values));
  }

  int64s(name: string, values: (number | bigint)[]): string {
    return this.weight(int64Tensor(name, [values.length], values));
  }

  /** He-normal weights: keeps activations at a stable scale through a stack of Relus. */
  heWeight(name: string, dims: number[], fanIn: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.floats(name, dims, this.rng.normalArray(count, Math.sqrt(2 / fanIn)));
  }

  /** Small random values around `center`, for biases and normalization parameters. */
  around(name: string, dims: number[], center: number, spread: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.floats(name, dims, Array.from({ length: count }, () => center + spread * this.rng.normal()));
  }

  /** Appends a node and returns its output's name (generated from the op type unless given). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.freshName(opType);
    this.nodes.push(node(opType, inputs, [out], attrs));
    return out;
  }

  private freshName(opType: string): string {
    const n = this.opCounts.get(opType) ?? 0;
    this.opCounts.set(opType, n + 1);
    return `${opType.toLowerCase()}_${n}`;
  }

  build(name: string, inputs: ValueInfoProto[], outputs: ValueInfoProto[]): GraphProto {
    return graph({ name, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs });
  }
}

export function floatInfo(name: string, shape: (number | string)[]): ValueInfoProto {
  return valueInfo(name, DataType.FLOAT, shape);
}

/** torch.nn.Linear as exported by torch.onnx: Gemm with the weight stored [out, in] and transB=1. */
export function gemmLayer(b: GraphBuilder, input: string, inFeatures: number, outFeatures: number, prefix: string, output?: string): string {
  const w = b.heWeight(`${prefix}.weight`, [outFeatures, inFeatures], inFeatures);
  const bias = b.around(`${prefix}.bias`, [outFeatures], 0, 0.01);
  return b.op('Gemm', [input, w, bias], { transB: 1 }, output);
}

/** A linear layer as MatMul + Add, the form exporters use for inputs of rank above 2. */
export function matMulLayer(b: GraphBuilder, input: string, inFeatures: number, outFeatures: number, prefix: string): string {
  const w = b.heWeight(`${prefix}.weight`, [inFeatures, outFeatures], inFeatures);
  const bias = b.around(`${prefix}.bias`, [outFeatures], 0, 0.01);
  return b.op('Add', [b.op('MatMul', [input, w]), bias]);
}
