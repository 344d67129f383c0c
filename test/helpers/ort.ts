/**
 * Runs models in onnxruntime-node with seeded inputs and compares their outputs bit for bit. Sessions
 * use one intra-op thread: how MLAS splits work across threads can change float rounding, and these
 * helpers are for asserting that two models compute exactly the same thing.
 */
import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../src/core/random';

/** A model file path, or the serialized model itself. */
export type ModelSource = string | Uint8Array;

export interface FloatInput {
  data: Float32Array;
  dims: number[];
}

/** Output name -> the output tensor's bytes, in the session's output order. */
export type Outputs = Record<string, Buffer>;

/** Standard-normal float32 inputs: the same shapes and seed always give the same bytes. */
export function seededInputs(shapes: Record<string, number[]>, seed = 1): Record<string, FloatInput> {
  const rng = new Rng(seed);
  const inputs: Record<string, FloatInput> = {};
  for (const name of Object.keys(shapes).sort()) {
    const dims = shapes[name];
    inputs[name] = { data: rng.normalArray(dims.reduce((a, b) => a * b, 1)), dims };
  }
  return inputs;
}

async function createSession(source: ModelSource): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 };
  // The overloads take a path or bytes, not their union.
  return typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options);
}

function checkFeeds(session: ort.InferenceSession, inputs: Record<string, FloatInput>): void {
  const missing = session.inputNames.filter((name) => !(name in inputs));
  if (missing.length) throw new Error(`no input data for ${missing.join(', ')} (model inputs: ${session.inputNames.join(', ')})`);
}

/** A copy of the tensor's bytes (string tensors are not supported: no model here has them). */
function tensorBytes(name: string, value: ort.OnnxValue): Buffer {
  const data = value.data;
  if (!ArrayBuffer.isView(data)) throw new Error(`output ${name} is not a numeric tensor`);
  return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Runs the model once on the given inputs and returns every output's bytes. */
export async function runModel(source: ModelSource, inputs: Record<string, FloatInput>): Promise<Outputs> {
  const session = await createSession(source);
  try {
    checkFeeds(session, inputs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) feeds[name] = new ort.Tensor('float32', inputs[name].data, inputs[name].dims);
    const results = await session.run(feeds);
    const outputs: Outputs = {};
    for (const name of session.outputNames) outputs[name] = tensorBytes(name, results[name]);
    return outputs;
  } finally {
    await session.release();
  }
}

/** Runs the model on seeded standard-normal inputs of the given shapes. */
export async function runSeeded(source: ModelSource, shapes: Record<string, number[]>, seed = 1): Promise<Outputs> {
  return runModel(source, seededInputs(shapes, seed));
}

/** Asserts the same output names with byte-for-byte equal contents. */
export function assertBitIdentical(actual: Outputs, expected: Outputs, label = 'outputs'): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${label}: different output names`);
  for (const [name, bytes] of Object.entries(expected)) assertSameBytes(actual[name], bytes, `${label}: output ${name}`);
}

/** Asserts equal bytes; on failure names the lengths and the first differing offset instead of dumping buffers. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, label = 'bytes'): void {
  if (Buffer.compare(actual, expected) === 0) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  assert.fail(`${label}: ${actual.length} bytes vs ${expected.length} expected, first difference at byte ${at}`);
}
