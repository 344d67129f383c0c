/**
 * Checks of what onnxruntime does with a rewritten model: run it next to the original on the same
 * feeds and measure how far the outputs moved (cosine similarity, largest absolute difference), and
 * count the op types of the graph ORT actually executes after its own fusions
 * (session option `optimizedModelFilePath`), so tests can assert that a pattern was fused.
 * Also a few small models with linear layers for the quantization pass tests.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/random';
import { floatTensor, graph, model, node, valueInfo, type AttrValue } from '../../src/onnx/build';
import { decodeModel } from '../../src/onnx/decode';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../src/onnx/types';
import type { FloatInput } from './ort';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** Output name -> float32 values, in the session's output order. */
export type FloatOutputs = Record<string, Float32Array>;

export interface OutputDifference {
  cosine: number;
  maxAbs: number;
  /** Largest |difference| relative to the reference's largest |value|. */
  relative: number;
}

function sessionOptions(extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3, ...extra };
}

function asFloat32(name: string, value: ort.OnnxValue): Float32Array {
  const data = value.data;
  if (!(data instanceof Float32Array)) throw new Error(`output ${name} is not float32`);
  return Float32Array.from(data);
}

/** Runs a serialized model once on float32 feeds and returns its float32 outputs. */
export async function runFloat(model: Uint8Array, feeds: Record<string, FloatInput>, level: OptimizationLevel = 'all'): Promise<FloatOutputs> {
  const session = await ort.InferenceSession.create(model, sessionOptions({ graphOptimizationLevel: level }));
  try {
    const tensors: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      if (!feeds[name]) throw new Error(`no feed for input ${name}`);
      tensors[name] = new ort.Tensor('float32', feeds[name].data, feeds[name].dims);
    }
    const results = await session.run(tensors);
    const outputs: FloatOutputs = {};
    for (const name of session.outputNames) outputs[name] = asFloat32(name, results[name]);
    return outputs;
  } finally {
    await session.release();
  }
}

/** Cosine similarity, largest absolute difference and that difference relative to the reference's range. */
export function difference(reference: Float32Array, actual: Float32Array): OutputDifference {
  if (reference.length !== actual.length) throw new Error(`lengths differ: ${reference.length} vs ${actual.length}`);
  let dot = 0;
  let normRef = 0;
  let normAct = 0;
  let maxAbs = 0;
  let refMax = 0;
  for (let i = 0; i < reference.length; i++) {
    dot += reference[i] * actual[i];
    normRef += reference[i] * reference[i];
    normAct += actual[i] * actual[i];
    maxAbs = Math.max(maxAbs, Math.abs(reference[i] - actual[i]));
    refMax = Math.max(refMax, Math.abs(reference[i]));
  }
  const cosine = normRef === 0 && normAct === 0 ? 1 : dot / Math.sqrt(normRef * normAct);
  return { cosine, maxAbs, relative: refMax === 0 ? maxAbs : maxAbs / refMax };
}

/** Runs both models on the same feeds and measures each output's difference. */
export async function compareModels(reference: Uint8Array, candidate: Uint8Array, feeds: Record<string, FloatInput>): Promise<Record<string, OutputDifference>> {
  const expected = await runFloat(reference, feeds);
  const actual = await runFloat(candidate, feeds);
  const result: Record<string, OutputDifference> = {};
  for (const [name, values] of Object.entries(expected)) {
    if (!actual[name]) throw new Error(`candidate has no output ${name}`);
    result[name] = difference(values, actual[name]);
  }
  return result;
}

function countOps(graph: GraphProto, counts: Record<string, number>): void {
  for (const n of graph.node) {
    const op = n.op_type ?? '?';
    counts[op] = (counts[op] ?? 0) + 1;
    for (const a of n.attribute) {
      if (a.g) countOps(a.g, counts);
      for (const g of a.graphs) countOps(g, counts);
    }
  }
}

/** Op type -> count over every graph (subgraphs included) of a serialized model. */
export function opCounts(model: Uint8Array): Record<string, number> {
  const decoded = decodeModel(Buffer.from(model.buffer, model.byteOffset, model.byteLength));
  const counts: Record<string, number> = {};
  if (decoded.graph) countOps(decoded.graph, counts);
  return counts;
}

/**
 * Op counts of the graph onnxruntime runs: the session saves its optimized model to a temp folder,
 * which is read back and removed. At 'all' the file is tied to this CPU (layout transforms), which is
 * fine for counting.
 */
export async function optimizedOpCounts(model: Uint8Array, level: OptimizationLevel = 'all'): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-ort-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(model, sessionOptions({ graphOptimizationLevel: level, optimizedModelFilePath: file }));
    await session.release();
    return opCounts(fs.readFileSync(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Small models with linear layers, shared by the quantization pass tests

export type WeightPlacement = 'initializer' | 'constant';

/** Collects nodes and weights; weights go to initializers or to Constant nodes. */
class ModelParts {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  constructor(
    readonly rng: Rng,
    private readonly placement: WeightPlacement = 'initializer',
  ) {}

  weight(name: string, dims: number[], std: number): string {
    const values = this.rng.normalArray(dims.reduce((a, b) => a * b, 1), std);
    if (this.placement === 'initializer') this.initializers.push(floatTensor(name, dims, values));
    else this.nodes.push(node('Constant', [], [name], { value: floatTensor('', dims, values) }, `${name}_Constant`));
    return name;
  }

  /** He-normal weight for a layer with `fanIn` inputs. */
  he(name: string, dims: number[], fanIn: number): string {
    return this.weight(name, dims, Math.sqrt(2 / fanIn));
  }

  op(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push(node(opType, inputs, [output], attrs, output));
    return output;
  }
}

export const MLP_FEATURES = 96;

/**
 * x [batch, 96] -> fc1 Gemm(transB=1, bias) -> Relu -> fc2 MatMul + Add -> Relu
 * -> fc3 Gemm(transB=0, alpha 0.5, beta 2) -> y [batch, 64]; plus gram = x · xᵀ, a MatMul whose
 * second input is computed (not a weight).
 */
export function mlpModel(placement: WeightPlacement = 'initializer'): ModelProto {
  const p = new ModelParts(new Rng(7), placement);
  const h1 = p.op('Relu', [p.op('Gemm', ['x', p.he('fc1.weight', [256, MLP_FEATURES], MLP_FEATURES), p.weight('fc1.bias', [256], 0.1)], 'fc1', { transB: 1 })], 'relu1');
  const fc2 = p.op('MatMul', [h1, p.he('fc2.weight', [256, 128], 256)], 'fc2');
  const h2 = p.op('Relu', [p.op('Add', [fc2, p.weight('fc2.bias', [128], 0.1)], 'fc2_bias')], 'relu2');
  p.op('Gemm', [h2, p.he('fc3.weight', [128, 64], 128), p.weight('fc3.bias', [64], 0.1)], 'y', { transB: 0, alpha: { float: 0.5 }, beta: { float: 2 } });
  p.op('MatMul', ['x', p.op('Transpose', ['x'], 'x_transposed')], 'gram');
  const g = graph({
    name: `mlp_${placement}`,
    node: p.nodes,
    initializer: p.initializers,
    input: [valueInfo('x', DataType.FLOAT, ['batch', MLP_FEATURES])],
    output: [valueInfo('y', DataType.FLOAT, ['batch', 64]), valueInfo('gram', DataType.FLOAT, ['batch', 'batch'])],
  });
  return model(g, 17);
}

export const IF_FEATURES = 64;

/**
 * x [batch, 64] -> If(sum(x) > 0) then x · W_then (a weight of the branch) else x · W_else (a weight
 * of the main graph, read through the outer scope) -> y [batch, 64].
 */
export function ifModel(): ModelProto {
  const rng = new Rng(11);
  const std = Math.sqrt(1 / IF_FEATURES);
  const dims = [IF_FEATURES, IF_FEATURES];
  const branch = (name: string, weight: string, initializer: TensorProto[]) =>
    graph({ name, node: [node('MatMul', ['x', weight], [`${name}_y`], {}, `${name}_MatMul`)], initializer, output: [valueInfo(`${name}_y`, DataType.FLOAT, [undefined, IF_FEATURES])] });
  const thenWeight = floatTensor('then.weight', dims, rng.normalArray(IF_FEATURES * IF_FEATURES, std));
  const elseWeight = floatTensor('else.weight', dims, rng.normalArray(IF_FEATURES * IF_FEATURES, std));
  const g = graph({
    name: 'if_model',
    node: [
      node('ReduceSum', ['x'], ['sum'], { keepdims: 0 }),
      node('Greater', ['sum', 'zero'], ['positive']),
      node('If', ['positive'], ['y'], { then_branch: branch('then_branch', 'then.weight', [thenWeight]), else_branch: branch('else_branch', 'else.weight', []) }, 'choose'),
    ],
    initializer: [elseWeight, floatTensor('zero', [], [0])],
    input: [valueInfo('x', DataType.FLOAT, ['batch', IF_FEATURES])],
    output: [valueInfo('y', DataType.FLOAT, ['batch', IF_FEATURES])],
  });
  return model(g, 17);
}

/** x [batch, 64] -> MatMul(W) -> Relu -> MatMul(W) -> y: two layers sharing one weight. */
export function sharedWeightModel(): ModelProto {
  const p = new ModelParts(new Rng(13));
  const w = p.he('shared.weight', [64, 64], 64);
  p.op('MatMul', [p.op('Relu', [p.op('MatMul', ['x', w], 'first')], 'relu'), w], 'y');
  const g = graph({ name: 'shared', node: p.nodes, initializer: p.initializers, input: [valueInfo('x', DataType.FLOAT, ['batch', 64])], output: [valueInfo('y', DataType.FLOAT, ['batch', 64])] });
  return model(g, 17);
}

/** Nothing a linear-layer pass can rewrite: a batched MatMul with a 3-D weight, then Relu. */
export function nothingToQuantizeModel(): ModelProto {
  const p = new ModelParts(new Rng(17));
  p.op('Relu', [p.op('MatMul', ['x', p.weight('batched.weight', [2, 32, 32], 0.2)], 'batched')], 'y');
  const g = graph({ name: 'nothing', node: p.nodes, initializer: p.initializers, input: [valueInfo('x', DataType.FLOAT, [2, 'rows', 32])], output: [valueInfo('y', DataType.FLOAT, [2, 'rows', 32])] });
  return model(g, 17);
}

/** A fresh decoded copy of a model, as the pipeline hands passes a working copy. */
export function copyModel(m: ModelProto): ModelProto {
  return decodeModel(encodeModel(m));
}
