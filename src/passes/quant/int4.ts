/**
 * `int4-weights`: 4-bit weight-only quantization of linear layers to the com.microsoft MatMulNBits op.
 * Weights are quantized in blocks along K, one scale (and with `symmetric=false` one 4-bit zero point)
 * per block of each output column; onnxruntime's CPU kernel multiplies with them directly, which is
 * what makes memory-bound (batch-1) MatMuls faster.
 *
 * The op's inputs follow onnxruntime docs/ContribOperators.md (com.microsoft.MatMulNBits) and
 * python/tools/quantization/matmul_nbits_quantizer.py (DefaultWeightOnlyQuantizer, QOperator format):
 * B uint8 [N, ceil(K / block), block / 2], scales [N * ceil(K / block)], zero_points uint8
 * [N * ceil(ceil(K / block) / 2)], attributes K, N, bits=4, block_size, accuracy_level. Gemm layers
 * become MatMulNBits followed by an Add for their bias.
 */
import { node } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { NodeProto } from '../../onnx/types';
import { UserError } from '../../core/errors';
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { quantizeInt4Columns } from './math';
import { biasNodes, ensureOpset, linearWeightColumns, rewriteLinearLayers, WeightEditor, weightKey, type LinearLayer } from './weights';

const PASS = 'int4-weights';
const MS_DOMAIN = 'com.microsoft';
/** Block sizes MatMulNBits accepts: powers of two from 16 (ContribOperators.md). */
const BLOCK_SIZES = [16, 32, 64, 128, 256];
/** Below this, a layer is too small for 4-bit blocks to pay off (and MLAS packs in tiles of 16). */
const MIN_DIMENSION = 16;

export interface Int4Options {
  block: number;
  /** No zero points: each block is scaled around 0 (MatMulNBits' implicit zero point 8). */
  symmetric: boolean;
  /** MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 activations per block. */
  accuracyLevel: number;
}

interface Int4Weight {
  packed: string;
  scales: string;
  zeroPoints?: string;
}

interface RunState {
  readonly options: Int4Options;
  readonly editor: WeightEditor;
  readonly cache: Map<string, Int4Weight>;
  bytesBefore: number;
  bytesAfter: number;
}

function parseOptions(raw: RawOptions): Int4Options {
  const reader = new OptionReader(PASS, raw);
  const block = reader.number('block', 128, { integer: true });
  if (!BLOCK_SIZES.includes(block)) throw new UserError(`${PASS}: block must be one of ${BLOCK_SIZES.join(', ')} (got "${raw.block}")`);
  const symmetric = reader.bool('symmetric', true);
  const accuracyLevel = reader.number('accuracy_level', 4, { min: 0, max: 4, integer: true });
  reader.done();
  return { block, symmetric, accuracyLevel };
}

function addInt4Weight(state: RunState, layer: LinearLayer): Int4Weight {
  const { editor, options } = state;
  const { K, N, weight } = layer;
  const q = quantizeInt4Columns(linearWeightColumns(layer), K, N, options.block, options.symmetric);
  const owner = weight.owner;
  state.bytesBefore += K * N * 4;
  state.bytesAfter += q.packed.byteLength + q.scales.byteLength + (q.zeroPoints?.byteLength ?? 0);
  const packed = editor.addInitializer(owner, `${weight.name}_Q4`, { dims: [N, q.blocksPerColumn, options.block / 2], dataType: DataType.UINT8, data: q.packed });
  const scales = editor.addInitializer(owner, `${weight.name}_scales`, { dims: [q.scales.length], dataType: DataType.FLOAT, data: q.scales });
  if (!q.zeroPoints) return { packed, scales };
  const zeroPoints = editor.addInitializer(owner, `${weight.name}_zero_points`, { dims: [q.zeroPoints.length], dataType: DataType.UINT8, data: q.zeroPoints });
  return { packed, scales, zeroPoints };
}

function int4WeightFor(state: RunState, layer: LinearLayer): Int4Weight {
  const key = weightKey(layer);
  let w = state.cache.get(key);
  if (!w) {
    w = addInt4Weight(state, layer);
    state.cache.set(key, w);
  }
  return w;
}

function rewriteLayer(state: RunState, layer: LinearLayer): NodeProto[] {
  const { editor, options } = state;
  const base = layer.node.name || layer.output;
  const w = int4WeightFor(state, layer);
  editor.retire(layer.weight);
  const product = layer.bias ? editor.uniqueName(`${base}_product`) : layer.output;
  const inputs = [layer.input, w.packed, w.scales, ...(w.zeroPoints ? [w.zeroPoints] : [])];
  const attrs = { K: layer.K, N: layer.N, bits: 4, block_size: options.block, accuracy_level: options.accuracyLevel };
  const matMul = node('MatMulNBits', inputs, [product], attrs, editor.uniqueName(`${base}_Q4`), MS_DOMAIN);
  return [matMul, ...biasNodes(editor, layer, product, base)];
}

function tooSmall(layer: LinearLayer): string | undefined {
  if (layer.K >= MIN_DIMENSION && layer.N >= MIN_DIMENSION) return undefined;
  return `weight [${layer.K}x${layer.N}] is too small for 4-bit blocks (K and N must be at least ${MIN_DIMENSION})`;
}

function describe(layer: LinearLayer, options: Int4Options): string {
  const kind = options.symmetric ? 'symmetric' : 'with zero points';
  return `int4 weights [${layer.K}x${layer.N}], blocks of ${options.block} ${kind} (MatMulNBits)`;
}

function run(ctx: PassContext, options: Int4Options): PassReport {
  const report = emptyReport(PASS, { block: options.block, symmetric: options.symmetric, accuracy_level: options.accuracyLevel });
  const state: RunState = { options, editor: new WeightEditor(ctx.model), cache: new Map(), bytesBefore: 0, bytesAfter: 0 };
  rewriteLinearLayers(ctx, report, { check: tooSmall, rewrite: (layer) => rewriteLayer(state, layer), describe: (layer) => describe(layer, options) });
  const removed = state.editor.removeRetired();
  if (report.changed.length > 0) ensureOpset(ctx.model, MS_DOMAIN, 1);
  else report.warnings.push('nothing to quantize: no MatMul or Gemm with a constant 2-D float32 weight was rewritten');
  report.stats = {
    layersQuantized: report.changed.length,
    weightsQuantized: state.cache.size,
    weightBytesBefore: state.bytesBefore,
    weightBytesAfter: state.bytesAfter,
    tensorsRemoved: removed.tensors,
    bytesRemoved: removed.bytes,
  };
  return report;
}

export const int4WeightsPass: PassDefinition<Int4Options> = {
  name: PASS,
  description: 'Weight-only int4: MatMul/Gemm weights to 4-bit blocks along K in com.microsoft MatMulNBits; fastest for batch-1, memory-bound layers.',
  parseOptions,
  run,
};
