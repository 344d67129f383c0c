/**
 * The variant list of a run: for every layer its int8 variant and one magnitude-pruning variant per
 * level, and for every prunable channel group one channel-pruning variant per level (reported under
 * each layer producing the group's channels). Channel variants come first: each needs a session of its
 * own, so spreading them early over the pool balances it best.
 */
import type { SensitivityKind } from '../../core/reports';
import type { ModelProto } from '../../onnx/types';
import { channelGroups, type ChannelGroup } from '../../passes/prune';
import type { SensitivityLayer } from './layers';
import type { NormalizedSensitivityOptions } from './options';
import { singleLayerModel } from './proxy';
import type { VariantSpec } from './types';

export interface VariantPlan {
  variants: VariantSpec[];
  /** Layer index -> channel group id whose results it shows. */
  groupOfLayer: Map<number, number>;
  /** Layer index -> notes for the report. */
  notes: Map<number, string[]>;
  warnings: string[];
}

const CHANNEL_ROLES = new Set(['producer', 'depthwise']);

function addNote(plan: VariantPlan, layer: number, note: string): void {
  plan.notes.set(layer, [...(plan.notes.get(layer) ?? []), note]);
}

/** Layer indices of a group's producing members (main-graph layers only: groups live there). */
function producers(group: ChannelGroup, byName: Map<string, SensitivityLayer>): number[] {
  const names = new Set(group.members.filter((m) => CHANNEL_ROLES.has(m.role)).map((m) => m.node));
  return [...names].flatMap((n) => {
    const layer = byName.get(n);
    return layer ? [layer.index] : [];
  });
}

function planChannels(plan: VariantPlan, model: ModelProto, layers: SensitivityLayer[], o: NormalizedSensitivityOptions): void {
  if (o.proxyOnly) {
    plan.warnings.push('channel pruning is not measured by the proxy method (it changes the shapes of every coupled layer): run without --proxy');
    return;
  }
  let groups: ChannelGroup[];
  try {
    groups = channelGroups(model, { inputShapes: o.shapes }).groups;
  } catch (err) {
    plan.warnings.push(`channel pruning not measured: the channel dependency analysis failed (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  const byName = new Map(layers.filter((l) => !l.scope.parent).map((l) => [l.name, l]));
  for (const group of groups) {
    const members = producers(group, byName);
    if (members.length === 0) continue;
    if (group.reasons.length) {
      for (const l of members) addNote(plan, l, `channels: not prunable (${group.reasons[0]})`);
      continue;
    }
    for (const l of members) {
      plan.groupOfLayer.set(l, group.id);
      if (members.length > 1) addNote(plan, l, `channels: coupled group ${group.name} (${members.length} layers: ${members.map((m) => layers[m].name).join(', ')})`);
    }
    for (const level of o.channelLevels) plan.variants.push({ kind: 'channels', layer: members[0], level, group: { id: group.id, name: group.name } });
  }
}

function want(o: NormalizedSensitivityOptions, kind: SensitivityKind): boolean {
  return o.kinds.includes(kind);
}

export function planVariants(model: ModelProto, layers: SensitivityLayer[], o: NormalizedSensitivityOptions): VariantPlan {
  const plan: VariantPlan = { variants: [], groupOfLayer: new Map(), notes: new Map(), warnings: [] };
  if (want(o, 'channels')) planChannels(plan, model, layers, o);
  for (const layer of layers) {
    if (o.proxyOnly) {
      const single = singleLayerModel(model, layer);
      if (typeof single === 'string') {
        addNote(plan, layer.index, `proxy not available: ${single}`);
        continue;
      }
    }
    if (want(o, 'int8')) plan.variants.push({ kind: 'int8', layer: layer.index, level: 0 });
    if (want(o, 'prune')) for (const level of o.levels) plan.variants.push({ kind: 'prune', layer: layer.index, level });
  }
  return plan;
}
