/**
 * The state of one pass of the channel dependency analysis over the main graph: which tensors carry
 * prunable channels (layouts), which constant tensors must be sliced when a group loses channels
 * (members), which shape constants and attributes must follow (rewrites), and why groups cannot be
 * pruned (blockers, kept by the SpaceSet). The op rules (rules*.ts) drive it node by node.
 */
import { isNum, type GraphShapes, type Shape } from '../../core/shapes';
import type { NodeProto } from '../../onnx/types';
import { resolveWeight, type Scope, type WeightRef } from '../quant/weights';
import { cutsNeeded, sameCoverage, segmentEnd, type Layout, type Segment } from './layout';
import { unsliceableReason } from './slice';
import { SpaceSet } from './spaces';

/**
 * How a member's axis relates to the group: 'producer' creates the channels (Conv filters, linear
 * output columns), 'consumer' reads them (next layer's input channels), 'depthwise' does both,
 * 'norm' is a BatchNormalization scale, 'param' any other per-channel constant (bias, BN statistics).
 */
export type MemberRole = 'producer' | 'consumer' | 'depthwise' | 'norm' | 'param';

export interface WeightMember {
  readonly node: number;
  readonly weight: WeightRef;
  readonly axis: number;
  readonly segment: Segment;
  readonly role: MemberRole;
  /** The activation a consumer reads through this axis (for activation-aware scores). */
  readonly input?: string;
}

/** Shape constants and attributes that follow the new channel counts. */
export type Rewrite =
  | { readonly kind: 'reshape'; readonly node: number; readonly entry: number; readonly output: string }
  | { readonly kind: 'group'; readonly node: number; readonly input: string }
  | { readonly kind: 'split'; readonly node: number; readonly axis: number; readonly sizes: readonly number[] };

export class Analyzer {
  readonly spaces = new SpaceSet();
  readonly layouts = new Map<string, Layout>();
  readonly members: WeightMember[] = [];
  readonly rewrites: Rewrite[] = [];
  /** Nodes that touch each space, for reports and for --exclude. */
  readonly touched = new Map<number, Set<number>>();
  /** Set when this round asked for a new cut: its result is discarded and the analysis runs again. */
  pendingCut = false;

  constructor(
    readonly main: Scope,
    readonly shapes: GraphShapes,
    readonly opset: number,
    /** origin key -> channel positions where that origin's channels are split into separate spaces */
    readonly cuts: Map<string, Set<number>>,
    private readonly allowNewCuts: boolean,
  ) {}

  get nodes(): NodeProto[] {
    return this.main.graph.node;
  }

  label(i: number): string {
    return `${this.nodes[i].op_type ?? '?'} ${this.main.index.names[i]}`;
  }

  layout(name: string | undefined): Layout | undefined {
    return name ? this.layouts.get(name) : undefined;
  }

  setLayout(name: string | undefined, layout: Layout | undefined, node?: number): void {
    if (!name || !layout || layout.segments.length === 0) return;
    this.layouts.set(name, layout);
    if (node !== undefined) this.touch(node, layout);
  }

  touch(node: number, layout: Layout | undefined): void {
    for (const s of layout?.segments ?? []) {
      let set = this.touched.get(s.space);
      if (!set) this.touched.set(s.space, (set = new Set()));
      set.add(node);
    }
  }

  shape(name: string | undefined): Shape | null {
    return name ? this.shapes.shape(name) : null;
  }

  /** Numeric dims of a tensor, or undefined when any is unknown or symbolic. */
  dims(name: string | undefined): number[] | undefined {
    const s = this.shape(name);
    return s && s.every(isNum) ? s : undefined;
  }

  rank(name: string | undefined): number | undefined {
    if (!name) return undefined;
    return this.layout(name)?.rank ?? this.shape(name)?.length ?? this.weight(name)?.tensor.dims.length;
  }

  /** A constant's values when known at analysis time (initializers, Constant nodes, folded shapes). */
  value(name: string | undefined): number[] | undefined {
    const v = name ? this.shapes.value(name) : undefined;
    return v && v.data.every(isNum) ? v.data : undefined;
  }

  weight(name: string | undefined): WeightRef | undefined {
    return name ? resolveWeight(this.main, name) : undefined;
  }

  block(layout: Layout | undefined, reason: string): void {
    for (const s of layout?.segments ?? []) this.spaces.block(s.space, reason);
  }

  /** Every channel-carrying input of the node becomes unprunable. */
  blockInputs(i: number, reason: string): void {
    for (const name of this.nodes[i].input) this.block(this.layout(name), reason);
  }

  /** Fresh spaces for `size` channels a node creates, split at the cut points found so far. */
  producer(i: number, role: string, size: number, rank: number, axis: number): Layout {
    const key = `${i}:${role}`;
    const points = [...(this.cuts.get(key) ?? [])].filter((p) => p > 0 && p < size).sort((a, b) => a - b);
    const bounds = [0, ...points, size];
    const segments: Segment[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const space = this.spaces.create(bounds[k + 1] - bounds[k], { key, start: bounds[k], primary: true });
      segments.push({ space, offset: bounds[k] });
    }
    return { rank, axis, length: size, segments };
  }

  /** A space with `factor` channels per channel of the segment's space (Flatten, Reshape merging axes). */
  finer(i: number, role: string, segment: Segment, factor: number): Segment {
    if (factor === 1) return segment;
    const size = this.spaces.sizes[segment.space] * factor;
    const space = this.spaces.create(size, { key: `${i}:${role}:${segment.offset}`, start: 0, primary: false });
    this.spaces.unite(space, segment.space, factor);
    return { space, offset: segment.offset * factor };
  }

  /** A space of blocks of `factor` channels of the segment's space (Reshape splitting into heads). */
  coarser(i: number, role: string, segment: Segment, factor: number): Segment | undefined {
    const size = this.spaces.sizes[segment.space];
    if (factor === 1) return segment;
    if (size % factor !== 0 || segment.offset % factor !== 0) return undefined;
    const space = this.spaces.create(size / factor, { key: `${i}:${role}:${segment.offset}`, start: 0, primary: false });
    const problem = this.spaces.unite(segment.space, space, factor);
    if (problem) this.spaces.block(segment.space, `${this.label(i)}: ${problem}`);
    return problem ? undefined : { space, offset: segment.offset / factor };
  }

  /** Asks for the segment's space to be split `at` channels in; false when that is not possible. */
  requestCut(segment: Segment, at: number): boolean {
    const origin = this.spaces.origins[segment.space];
    if (!origin.primary || !this.allowNewCuts) return false;
    const key = origin.key;
    let set = this.cuts.get(key);
    if (!set) this.cuts.set(key, (set = new Set()));
    if (!set.has(origin.start + at)) {
      set.add(origin.start + at);
      this.pendingCut = true;
    }
    return true;
  }

  /** Cuts `layout` wherever `other` has a boundary inside one of its segments; false if one is impossible. */
  private cutTo(layout: Layout, other: Layout): boolean {
    let ok = true;
    for (const { segment, at } of cutsNeeded(this.spaces, layout, other)) ok = this.requestCut(segment, at) && ok;
    return ok;
  }

  /**
   * Ties two layouts of the same channels (the inputs of an element-wise op): segment by segment their
   * spaces become one group. When their segment boundaries differ the spaces are cut to match first.
   */
  unify(a: Layout, b: Layout, where: string): void {
    if (a === b) return;
    const mismatch = `${where} combines channels laid out differently`;
    if (a.length !== b.length || !sameCoverage(this.spaces, a, b)) {
      this.block(a, mismatch);
      this.block(b, mismatch);
      return;
    }
    const cutA = this.cutTo(a, b);
    const cutB = this.cutTo(b, a);
    if (!cutA || !cutB) {
      this.block(a, `${where} splits a channel group that cannot be split`);
      this.block(b, `${where} splits a channel group that cannot be split`);
      return;
    }
    if (cutsNeeded(this.spaces, a, b).length || cutsNeeded(this.spaces, b, a).length) return; // next round
    this.uniteAligned(a, b, where);
  }

  private uniteAligned(a: Layout, b: Layout, where: string): void {
    const byOffset = new Map(b.segments.map((s) => [s.offset, s]));
    for (const s of a.segments) {
      const t = byOffset.get(s.offset);
      if (!t || segmentEnd(this.spaces, s) !== segmentEnd(this.spaces, t)) continue;
      const problem = this.spaces.unite(s.space, t.space, 1);
      if (problem) {
        this.spaces.block(s.space, `${where}: ${problem}`);
        this.spaces.block(t.space, `${where}: ${problem}`);
      }
    }
  }

  /**
   * Registers the slices of constant input `name` of node i along `axis`, one per segment of
   * `layout`. When the input is not a constant that can be sliced, the channels are blocked instead.
   */
  slice(i: number, name: string | undefined, axis: number, layout: Layout, role: MemberRole, input?: string): boolean {
    const weight = this.weight(name);
    const problem = !weight ? `${this.label(i)} reads ${name ?? 'an input'} that is not a constant` : this.sliceProblem(weight, axis, layout.length);
    if (problem) {
      this.block(layout, problem);
      return false;
    }
    for (const segment of layout.segments) this.members.push({ node: i, weight: weight as WeightRef, axis, segment, role, input });
    this.touch(i, layout);
    return true;
  }

  private sliceProblem(weight: WeightRef, axis: number, length: number): string | undefined {
    const dims = weight.tensor.dims.map(Number);
    if (dims[axis] !== length) return `weight ${weight.name} has ${dims[axis] ?? 'no'} entries along axis ${axis}, expected ${length}`;
    return unsliceableReason(weight.tensor, weight.name);
  }
}
