/**
 * Presets: named pass sequences for the common goals. `int8` picks the quantization ORT accelerates for
 * the model at hand: static QDQ (fused to QLinearConv) when convolutions dominate the MACs, dynamic
 * (fused to DynamicQuantizeMatMul) when MatMul/Gemm do. Dynamic ConvInteger is never chosen: it ran
 * 1.7-2x slower than fp32 on a real CNN here (see shared/ENVIRONMENT.md).
 */
import { UserError } from '../core/errors';
import type { InspectReport } from '../core/reports';
import type { RawOptions } from '../passes/pass';
import { PASSES } from '../passes/registry';

export interface PassStep {
  name: string;
  options: RawOptions;
}

export interface PresetChoice {
  steps: PassStep[];
  /** Why these passes, in one sentence for the report. */
  reason: string;
}

const step = (name: string, options: RawOptions = {}): PassStep => ({ name, options });

function macsByFamily(report: InspectReport): { conv: number; matmul: number } {
  let conv = 0;
  let matmul = 0;
  for (const l of report.layers) {
    // Without MACs (unresolved symbolic dims) parameters are the next best measure of the work.
    const work = l.macs ?? l.params;
    if (l.opType === 'Conv' || l.opType === 'ConvTranspose') conv += work;
    else if (l.opType === 'MatMul' || l.opType === 'Gemm') matmul += work;
  }
  return { conv, matmul };
}

/** INT8 needs DynamicQuantizeLinear (opset 11) and per-channel Q/DQ `axis` (opset 13). */
const INT8_MIN_OPSET = 13;

function defaultOpset(report: InspectReport): number {
  return report.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

function int8Preset(report: InspectReport): PresetChoice {
  const choice = int8Passes(report);
  if (defaultOpset(report) >= INT8_MIN_OPSET) return choice;
  return { steps: [step('opset-upgrade', { to: String(INT8_MIN_OPSET) }), ...choice.steps], reason: `${choice.reason}; the model's opset ${defaultOpset(report)} is upgraded to ${INT8_MIN_OPSET} first` };
}

function int8Passes(report: InspectReport): PresetChoice {
  const { conv, matmul } = macsByFamily(report);
  if (conv === 0 && matmul === 0) throw new UserError('preset int8: the model has no Conv, MatMul or Gemm layer to quantize');
  const share = conv / (conv + matmul);
  const pct = `${(share * 100).toFixed(0)} %`;
  if (conv > matmul && PASSES.has('int8-static')) {
    return { steps: [step('cleanup'), step('int8-static')], reason: `convolutions carry ${pct} of the MACs: static QDQ, which onnxruntime fuses into QLinearConv` };
  }
  return { steps: [step('cleanup'), step('int8-dynamic')], reason: `MatMul/Gemm carry ${(100 - share * 100).toFixed(0)} % of the MACs: dynamic quantization, fused into DynamicQuantizeMatMul` };
}

const FIXED: Record<string, PresetChoice> = {
  fp16: { steps: [step('cleanup'), step('fp16')], reason: 'float16 weights and compute: half the size; onnxruntime on CPU runs few fp16 kernels, so no speed-up there' },
  int4: { steps: [step('cleanup'), step('int4-weights')], reason: '4-bit blockwise MatMul weights (MatMulNBits): smallest MatMul weights, fastest at batch 1' },
  cleanup: { steps: [step('cleanup')], reason: 'constant folding, BatchNorm folding, identity and dead-node removal' },
  prune50: {
    steps: [step('cleanup'), step('prune-magnitude', { sparsity: '0.5' }), step('distill')],
    reason: '50 % of each layer’s weights set to zero, then refitted to the original by least squares: a smaller compressed file; onnxruntime on CPU is not faster from zeros',
  },
};

/** `slim`: fewer channels for real (faster), refitted to the original, then INT8. */
function slimPreset(report: InspectReport): PresetChoice {
  const int8 = int8Preset(report);
  const quant = int8.steps.filter((s) => s.name !== 'cleanup');
  return { steps: [step('cleanup'), step('prune-channels', { ratio: '0.3' }), step('distill'), ...quant], reason: `30 % of coupled channels removed and refitted by distillation, then ${int8.reason}` };
}

export const PRESET_NAMES = ['int8', 'slim', ...Object.keys(FIXED)] as const;

export function presetSteps(name: string, report: InspectReport): PresetChoice {
  if (name === 'int8') return int8Preset(report);
  if (name === 'slim') return slimPreset(report);
  const fixed = FIXED[name];
  if (!fixed) throw new UserError(`unknown preset '${name}' (presets: ${PRESET_NAMES.join(', ')})`);
  return fixed;
}

/** Passes that prepare or repair rather than define what a preset does. */
const SUPPORTING = new Set(['cleanup', 'opset-upgrade', 'distill']);

/** The pass whose work defines the preset: if it changed nothing, the preset did nothing useful. */
export function mainStep(steps: PassStep[]): PassStep {
  return steps.filter((s) => !SUPPORTING.has(s.name)).at(-1) ?? steps[steps.length - 1];
}
