/**
 * Large models for the fault suite (test/unit/faults.test.ts), built with src/onnx/build.ts:
 * - an MLP of ~100 MB, so that saving an optimized copy takes a moment;
 * - a model over protobuf's 2 GiB limit whose initializers are views of ONE shared buffer, so it is
 *   written (with external data) in bounded memory, and whose graph only Gathers one row of each
 *   weight, so onnxruntime loads it without computing on gigabytes.
 */
import { floatTensor, graph, model, node, rawTensor, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/types';

/** Deterministic weights in [-0.05, 0.05) without a per-element normal draw (26 M of them would be slow). */
function weights(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 0.1;
  }
  return out;
}

/**
 * x[1, a] -> (MatMul -> Relu) x layers, widths alternating a, b: layers * a * b * 4 bytes of weights
 * (5 layers of 2048 x 2560 are 105 MB).
 */
export function bigMlp(layers = 5, a = 2048, b = 2560): ModelProto {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let current = 'x';
  let width = a;
  for (let i = 0; i < layers; i++) {
    const next = width === a ? b : a;
    inits.push(floatTensor(`fc${i}.weight`, [width, next], weights(width * next, i + 1)));
    nodes.push(node('MatMul', [current, `fc${i}.weight`], [`mm${i}`], {}, `fc${i}`));
    const out = i === layers - 1 ? 'y' : `h${i}`;
    nodes.push(node('Relu', [`mm${i}`], [out], {}, `relu${i}`));
    current = out;
    width = next;
  }
  const g = graph({ name: 'big_mlp', input: [valueInfo('x', DataType.FLOAT, [1, a])], output: [valueInfo('y', DataType.FLOAT, [1, width])], initializer: inits, node: nodes });
  return model(g);
}

export interface HugeModel {
  model: ModelProto;
  /** Bytes of all initializers together (over 2 GiB). */
  weightBytes: number;
  /** Elements of all initializers together. */
  params: number;
}

/**
 * idx int64[1] -> Gather(W_k, idx) for k < count -> Sum -> y[1, cols]. Every W_k is [rows, cols]
 * float32 and its raw_data is the same Buffer (filled with a repeating non-zero row), so the model
 * holds count * rows * cols * 4 bytes of weights in rows * cols * 4 bytes of memory.
 * The defaults give 5 x 410 MiB = 2,149,580,800 bytes, just over 2^31 = 2,147,483,648 (the least disk
 * and time that still crosses protobuf's limit).
 */
export function hugeGatherModel(count = 5, rows = 104_960, cols = 1024): HugeModel {
  const row = weights(cols, 99);
  const shared = Buffer.alloc(rows * cols * 4);
  shared.fill(Buffer.from(row.buffer, row.byteOffset, row.byteLength));
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  for (let k = 0; k < count; k++) {
    inits.push(rawTensor(`w${k}`, [rows, cols], DataType.FLOAT, shared));
    nodes.push(node('Gather', [`w${k}`, 'idx'], [`g${k}`], { axis: 0 }, `gather${k}`));
  }
  nodes.push(node('Sum', inits.map((_, k) => `g${k}`), ['y'], {}, 'sum'));
  const g = graph({ name: 'huge_gather', input: [valueInfo('idx', DataType.INT64, [1])], output: [valueInfo('y', DataType.FLOAT, [1, cols])], initializer: inits, node: nodes });
  return { model: model(g), weightBytes: count * shared.length, params: count * rows * cols };
}
