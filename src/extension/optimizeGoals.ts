/**
 * The goals offered by "Optimize Model…", each mapped to a preset, with what is known in advance:
 * the expected size from the model's own weight bytes, and what each preset does for speed on CPU.
 * Latency and fidelity are measured after the run (the result always reports them).
 */
import type { InspectReport } from '../shared/protocol';

export interface Goal {
  id: 'smallest' | 'fastest' | 'balanced' | 'custom';
  label: string;
  preset?: string;
  detail: string;
}

function floatBytes(report: InspectReport): number {
  return (report.paramBytes.float32 ?? 0) + (report.paramBytes.float64 ?? 0);
}

function matmulShare(report: InspectReport): number {
  let conv = 0;
  let matmul = 0;
  for (const l of report.layers) {
    const work = l.macs ?? l.params;
    if (l.opType === 'Conv' || l.opType === 'ConvTranspose') conv += work;
    if (l.opType === 'MatMul' || l.opType === 'Gemm') matmul += work;
  }
  return conv + matmul === 0 ? 0 : matmul / (conv + matmul);
}

/** Size after replacing float32 weights by `bytesPerWeight` bytes each (other bytes unchanged). */
function expectedSize(report: InspectReport, ratio: number): number {
  const weights = floatBytes(report);
  return report.sizeBytes - weights + weights * ratio;
}

export function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} KB`;
}

export function goalsFor(report: InspectReport): Goal[] {
  const now = mb(report.sizeBytes);
  const mostlyMatMul = matmulShare(report) > 0.5;
  const smallest = mostlyMatMul ? 'int4' : 'int8';
  return [
    {
      id: 'smallest',
      label: 'Smallest file',
      preset: smallest,
      detail: `${smallest === 'int4' ? '4-bit MatMul weights' : 'INT8 weights'}: ~${mb(expectedSize(report, smallest === 'int4' ? 0.14 : 0.25))} (now ${now}); fidelity measured after`,
    },
    {
      id: 'fastest',
      label: 'Fastest on this CPU',
      preset: 'int8',
      detail: `INT8 ${mostlyMatMul ? 'dynamic (DynamicQuantizeMatMul)' : 'static QDQ (QLinearConv)'}: ~${mb(expectedSize(report, 0.25))}; onnxruntime runs fused INT8 kernels; latency and fidelity measured after`,
    },
    { id: 'balanced', label: 'Balanced', preset: 'fp16', detail: `FP16: ~${mb(expectedSize(report, 0.5))}, fidelity usually ≥ 40 dB; no speed-up on CPU (onnxruntime runs few fp16 kernels)` },
    { id: 'custom', label: 'Custom passes…', detail: 'choose passes and their order' },
  ];
}
