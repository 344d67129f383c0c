/**
 * Physically removing channels found by `channelGroups`: every member tensor is sliced once with all
 * groups' removals (positions in the original coordinates, so two groups sharing an axis through a
 * Concat do not shift each other), then Reshape targets, depthwise group counts, Split sizes and
 * value_info shapes follow the new channel counts. The model's inputs and outputs never change:
 * groups reaching them are unprunable.
 */
import { UserError } from '../../core/errors';
import { attribute } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import { attr } from '../../onnx/graph';
import { tensorValues } from '../../onnx/tensor';
import type { NodeProto, TensorProto, ValueInfoProto } from '../../onnx/types';
import type { CalibrationData } from '../pass';
import { WeightEditor, type WeightRef } from '../quant/weights';
import type { Analyzer, Rewrite } from './analyzer';
import { applyDeltas, memberDelta, type BiasDelta } from './compensate';
import type { ChannelAnalysis } from './groups';
import { removedPositions } from './layout';
import { sliceTensor } from './slice';

export interface PruneOutcome {
  groupsPruned: number;
  unitsRemoved: number;
  tensorsSliced: number;
  shapesRewritten: number;
  /** Layers whose bias absorbed the mean contribution of removed input channels. */
  biasesCompensated: number;
}

/** group id -> units to remove, checked and keyed by the group's root space. */
function rootRemovals(analysis: ChannelAnalysis, removals: ReadonlyMap<number, readonly number[]>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const [id, units] of removals) {
    const group = analysis.groups[id];
    if (!group) throw new UserError(`no channel group ${id}`);
    if (group.reasons.length) throw new UserError(`channel group ${group.name} cannot be pruned: ${group.reasons.join('; ')}`);
    const unique = [...new Set(units)].sort((p, q) => p - q);
    if (unique.some((u) => !Number.isInteger(u) || u < 0 || u >= group.units)) throw new UserError(`channel group ${group.name}: units must be integers in [0, ${group.units})`);
    if (unique.length >= group.units) throw new UserError(`channel group ${group.name}: at least one of its ${group.units} channels must stay`);
    if (unique.length) out.set(analysis.states[id].root, unique);
  }
  return out;
}

class Removal {
  constructor(
    readonly a: Analyzer,
    readonly byRoot: Map<number, number[]>,
  ) {}

  /** Removed units of the group a space belongs to, with the space's positions per unit. */
  of(space: number): { units: number[]; factor: number } {
    const { root, factor } = this.a.spaces.find(space);
    return { units: this.byRoot.get(root) ?? [], factor };
  }

  /** How many positions of a tensor's channel axis go away. */
  removedFrom(name: string | undefined): number {
    const layout = this.a.layout(name);
    return (layout?.segments ?? []).reduce((n, s) => {
      const r = this.of(s.space);
      return n + r.units.length * r.factor;
    }, 0);
  }

  /** Original positions of a tensor's channel axis that stay (all of them when it has no layout). */
  kept(name: string | undefined, length: number): number[] {
    const gone = new Set((this.a.layout(name)?.segments ?? []).flatMap((s) => removedPositions(this.a.spaces, s, this.of(s.space).units)));
    return [...Array(length).keys()].filter((p) => !gone.has(p));
  }

  /** New length of a tensor's channel axis, or undefined when it has none or keeps it. */
  newLength(name: string | undefined): number | undefined {
    const layout = this.a.layout(name);
    const removed = this.removedFrom(name);
    return layout && removed ? layout.length - removed : undefined;
  }
}

interface TensorPlan {
  ref: WeightRef;
  axes: Map<number, Set<number>>;
}

function planSlices(analysis: ChannelAnalysis, removal: Removal): Map<TensorProto, TensorPlan> {
  const plans = new Map<TensorProto, TensorPlan>();
  for (const state of analysis.states) {
    const units = removal.byRoot.get(state.root);
    if (!units) continue;
    for (const m of state.members) {
      let plan = plans.get(m.weight.tensor);
      if (!plan) plans.set(m.weight.tensor, (plan = { ref: m.weight, axes: new Map() }));
      let set = plan.axes.get(m.axis);
      if (!set) plan.axes.set(m.axis, (set = new Set()));
      for (const p of removedPositions(analysis.analyzer.spaces, m.segment, units)) set.add(p);
    }
  }
  return plans;
}

/** A graph input listing a sliced initializer (IR < 4) must describe its new shape. */
function updateDeclared(list: ValueInfoProto[], name: string, dims: number[]): void {
  const shape = list.find((v) => v.name === name)?.type?.tensor_type?.shape;
  if (shape) shape.dim = dims.map((d) => ({ dim_value: d }));
}

function sliceWeights(plans: Map<TensorProto, TensorPlan>): void {
  for (const [tensor, plan] of plans) {
    sliceTensor(tensor, plan.axes);
    const g = plan.ref.owner.graph;
    updateDeclared(g.input, plan.ref.name, tensor.dims.map(Number));
    updateDeclared(g.value_info, plan.ref.name, tensor.dims.map(Number));
  }
}

function int64Values(t: TensorProto): number[] {
  return Array.from(tensorValues(t) ?? []);
}

/** Replaces input `k` of a node with a fresh int64 constant (the old one goes if nothing else reads it). */
function replaceInt64Input(editor: WeightEditor, a: Analyzer, n: NodeProto, k: number, values: number[], base: string): void {
  const old = a.weight(n.input[k]);
  const name = editor.addInitializer(old?.owner ?? a.main, `${base}_pruned`, { dims: [values.length], dataType: DataType.INT64, data: BigInt64Array.from(values.map(BigInt)) });
  while (n.input.length <= k) n.input.push('');
  n.input[k] = name;
  if (old) editor.retire(old);
}

function rewriteReshape(editor: WeightEditor, a: Analyzer, removal: Removal, r: Extract<Rewrite, { kind: 'reshape' }>): boolean {
  const length = removal.newLength(r.output);
  const n = a.nodes[r.node];
  const target = a.weight(n.input[1]);
  if (length === undefined || !target) return false;
  const values = int64Values(target.tensor);
  values[r.entry] = length;
  replaceInt64Input(editor, a, n, 1, values, target.name);
  return true;
}

function rewriteGroup(a: Analyzer, removal: Removal, r: Extract<Rewrite, { kind: 'group' }>): boolean {
  const length = removal.newLength(r.input);
  const group = attr(a.nodes[r.node], 'group');
  if (length === undefined || !group) return false;
  group.i = length;
  return true;
}

function rewriteSplit(editor: WeightEditor, a: Analyzer, removal: Removal, r: Extract<Rewrite, { kind: 'split' }>): boolean {
  const n = a.nodes[r.node];
  const sizes = r.sizes.map((size, k) => size - removal.removedFrom(n.output[k]));
  if (sizes.every((s, k) => s === r.sizes[k])) return false;
  if (a.opset >= 13) {
    replaceInt64Input(editor, a, n, 1, sizes, `${a.main.index.names[r.node]}_split`);
    n.attribute = n.attribute.filter((x) => x.name !== 'num_outputs');
  } else {
    n.attribute = [...n.attribute.filter((x) => x.name !== 'split'), attribute('split', sizes)];
  }
  return true;
}

function rewriteShapes(analysis: ChannelAnalysis, removal: Removal, editor: WeightEditor): number {
  const a = analysis.analyzer;
  let count = 0;
  for (const r of a.rewrites) {
    const done = r.kind === 'reshape' ? rewriteReshape(editor, a, removal, r) : r.kind === 'group' ? rewriteGroup(a, removal, r) : rewriteSplit(editor, a, removal, r);
    if (done) count++;
  }
  return count;
}

/** Bias deltas of every consumer losing input channels, computed on the weights before slicing. */
function compensations(analysis: ChannelAnalysis, removal: Removal, calibration: CalibrationData | undefined): BiasDelta[] {
  if (!calibration) return [];
  const out: BiasDelta[] = [];
  for (const state of analysis.states) {
    const units = removal.byRoot.get(state.root);
    for (const m of units ? state.members : []) {
      const d = memberDelta(analysis.analyzer, m, units as number[], calibration);
      if (d) out.push(d);
    }
  }
  return out;
}

/** Declared intermediate shapes follow the new channel counts. */
function updateValueInfo(a: Analyzer, removal: Removal): void {
  for (const v of a.main.graph.value_info) {
    const length = removal.newLength(v.name);
    const dims = v.type?.tensor_type?.shape?.dim;
    const axis = a.layout(v.name)?.axis;
    if (length !== undefined && dims && axis !== undefined && dims[axis]) dims[axis] = { dim_value: length };
  }
}

/**
 * Removes the given units (group id -> unit indices) from every member of their groups; with
 * calibration means, consumers' biases absorb the removed channels' average contribution. The
 * analysis must come from this very model and is stale afterwards.
 */
export function pruneChannelGroups(analysis: ChannelAnalysis, removals: ReadonlyMap<number, readonly number[]>, calibration?: CalibrationData): PruneOutcome {
  const a = analysis.analyzer;
  const byRoot = rootRemovals(analysis, removals);
  const removal = new Removal(a, byRoot);
  const editor = new WeightEditor(analysis.model);
  const deltas = compensations(analysis, removal, calibration);
  const plans = planSlices(analysis, removal);
  sliceWeights(plans);
  const biasesCompensated = applyDeltas(a, editor, deltas, (n, length) => removal.kept(n.output[0], length));
  const shapesRewritten = rewriteShapes(analysis, removal, editor);
  editor.removeRetired();
  updateValueInfo(a, removal);
  const unitsRemoved = [...byRoot.values()].reduce((n, u) => n + u.length, 0);
  return { groupsPruned: byRoot.size, unitsRemoved, tensorsSliced: plans.size, shapesRewritten, biasesCompensated };
}
