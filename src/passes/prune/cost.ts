/** Parameter and MAC counts before and after pruning, from the same code `inspect` uses. */
import { inspectModel } from '../../core/inspect';
import { shapeOfType } from '../../core/shapes';
import type { ModelProto } from '../../onnx/types';

export interface ModelCost {
  params: number;
  /** Undefined when some layer's shapes are not static. */
  macs?: number;
}

/** Inputs whose only symbolic dim is the leading (batch) one, resolved to batch 1. */
function batchOneShapes(model: ModelProto): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  for (const input of model.graph?.input ?? []) {
    const shape = shapeOfType(input.type);
    if (!input.name || inits.has(input.name) || !shape?.length) continue;
    if (shape.slice(1).every((d) => typeof d === 'number')) out[input.name] = [1, ...(shape.slice(1) as number[])];
  }
  return out;
}

export function modelCost(model: ModelProto, inputShapes?: Record<string, number[]>): ModelCost {
  const loaded = { model, path: '', fileBytes: 0, externalFiles: [], externalBytes: 0 };
  const report = inspectModel(loaded, { shapes: inputShapes ?? batchOneShapes(model) });
  return { params: report.paramCount, macs: report.macsUnknown === 0 ? report.macs : undefined };
}
