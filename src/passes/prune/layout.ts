/**
 * Where prunable channels sit in a tensor: one axis (the channel axis), and along it a list of
 * segments, each holding all channels of one space at an offset. Positions no segment covers are
 * fixed channels (a model input concatenated with a conv's output, say): they never change.
 */
import type { SpaceSet } from './spaces';

export interface Segment {
  readonly space: number;
  /** Position of the space's channel 0 along the channel axis. */
  readonly offset: number;
}

export interface Layout {
  readonly rank: number;
  readonly axis: number;
  /** Length of the channel axis, fixed positions included. */
  readonly length: number;
  readonly segments: readonly Segment[];
}

export function segmentEnd(spaces: SpaceSet, s: Segment): number {
  return s.offset + spaces.sizes[s.space];
}

/** The same channels seen on another axis of another rank (Transpose, Unsqueeze, broadcasting). */
export function moveLayout(layout: Layout, rank: number, axis: number): Layout {
  return { ...layout, rank, axis };
}

/** Segments shifted by `by` positions (Concat places inputs one after another). */
export function shiftSegments(segments: readonly Segment[], by: number): Segment[] {
  return segments.map((s) => ({ space: s.space, offset: s.offset + by }));
}

/** Covered [start, end) intervals, sorted, adjacent ones merged. */
function coverage(spaces: SpaceSet, layout: Layout): [number, number][] {
  const spans = layout.segments.map((s): [number, number] => [s.offset, segmentEnd(spaces, s)]).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const span of spans) {
    const last = out[out.length - 1];
    if (last && last[1] === span[0]) last[1] = span[1];
    else out.push([...span]);
  }
  return out;
}

export function sameCoverage(spaces: SpaceSet, a: Layout, b: Layout): boolean {
  const [ca, cb] = [coverage(spaces, a), coverage(spaces, b)];
  return ca.length === cb.length && ca.every((span, i) => span[0] === cb[i][0] && span[1] === cb[i][1]);
}

/** Boundaries of `other` that fall strictly inside a segment of `layout`: where its spaces must be cut. */
export function cutsNeeded(spaces: SpaceSet, layout: Layout, other: Layout): { segment: Segment; at: number }[] {
  const bounds = new Set<number>();
  for (const s of other.segments) {
    bounds.add(s.offset);
    bounds.add(segmentEnd(spaces, s));
  }
  const out: { segment: Segment; at: number }[] = [];
  for (const segment of layout.segments) {
    const end = segmentEnd(spaces, segment);
    for (const b of bounds) if (b > segment.offset && b < end) out.push({ segment, at: b - segment.offset });
  }
  return out;
}

/** Channel positions (within the layout's axis) a segment loses when its group drops `removedUnits`. */
export function removedPositions(spaces: SpaceSet, segment: Segment, removedUnits: readonly number[]): number[] {
  const { factor } = spaces.find(segment.space);
  const out: number[] = [];
  for (const unit of removedUnits) for (let t = 0; t < factor; t++) out.push(segment.offset + unit * factor + t);
  return out;
}

export function layoutSpaces(layout: Layout | undefined): number[] {
  return layout ? layout.segments.map((s) => s.space) : [];
}
