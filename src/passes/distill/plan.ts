/**
 * The order layers are refitted in. Layer after layer, so each fit sees the inputs the already
 * refitted layers upstream produce (errors do not accumulate); but layers with no refitted layer
 * between them (the q/k/v projections of one attention block, parallel branches) are independent and
 * share one capture: a wave is every layer whose refittable ancestors all sit in earlier waves.
 */
import type { NodeProto } from '../../onnx/types';
import type { Scope } from '../quant/weights';

export interface WaveItem {
  node: NodeProto;
  input: string;
}

/** Layers (in topological order) grouped into waves; the order inside a wave is kept. */
export function planWaves<T extends WaveItem>(scope: Scope, layers: readonly T[]): T[][] {
  const { graph, index } = scope;
  const byNode = new Map<NodeProto, number>(layers.map((l, i) => [l.node, i]));
  const depth = new Array<number>(layers.length).fill(0);
  layers.forEach((layer, i) => {
    const seen = new Set<string>();
    const stack = [layer.input];
    while (stack.length) {
      const t = stack.pop() as string;
      if (seen.has(t)) continue;
      seen.add(t);
      const p = index.producer.get(t);
      if (p === undefined) continue;
      const up = byNode.get(graph.node[p]);
      if (up !== undefined && up !== i) depth[i] = Math.max(depth[i], depth[up] + 1);
      for (const input of graph.node[p].input) if (input) stack.push(input);
    }
  });
  const waves: T[][] = [];
  layers.forEach((layer, i) => (waves[depth[i]] ??= []).push(layer));
  return waves.filter((w) => w.length > 0);
}
