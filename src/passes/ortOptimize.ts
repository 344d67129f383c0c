/**
 * `ort-optimize`: onnxruntime's own offline graph optimization (constant folding, redundant node
 * elimination, and at 'extended' the ORT-specific fusions). Only 'basic' and 'extended' are offered:
 * graphs saved at 'layout'/'all' contain kernels tied to this CPU (ORT warns about it).
 */
import type { GraphOptimizationLevel } from '../core/reports';
import { saveModel } from '../onnx/io';
import type { ModelProto } from '../onnx/types';
import { ortOptimizedModel } from '../runtime/compare';
import { emptyReport, type PassDefinition } from './pass';
import { OptionReader } from './options';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface OrtOptimizeOptions {
  level: Extract<GraphOptimizationLevel, 'basic' | 'extended'>;
}

function countNodes(model: ModelProto): number {
  return model.graph?.node.length ?? 0;
}

export const ortOptimizePass: PassDefinition<OrtOptimizeOptions> = {
  name: 'ort-optimize',
  description: "onnxruntime's offline graph optimization at level basic (portable) or extended (ORT-only fused ops)",
  parseOptions(raw) {
    const r = new OptionReader('ort-optimize', raw);
    const level = r.choice('level', ['basic', 'extended'] as const, 'basic');
    r.done();
    return { level };
  },
  async run(ctx, options) {
    const report = emptyReport('ort-optimize', { ...options });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-ortopt-in-'));
    try {
      const file = path.join(dir, 'model.onnx');
      saveModel(ctx.model, file);
      const optimized = await ortOptimizedModel(file, options.level);
      const before = countNodes(ctx.model);
      // Replace the working model's contents in place: the pipeline holds a reference to it.
      Object.assign(ctx.model, optimized);
      report.stats = { nodesBefore: before, nodesAfter: countNodes(ctx.model) };
      report.changed.push({ name: ctx.model.graph?.name ?? 'graph', opType: 'Graph', action: `optimized by onnxruntime at level ${options.level}` });
      return report;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
