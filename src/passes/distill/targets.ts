/**
 * Teacher targets captured ahead: the teacher never changes, so the targets of several consecutive
 * waves can come from one run of the teacher instead of one per wave, as long as they fit a memory
 * budget. Sizes come from static shape inference on the teacher with the request's input shapes; a
 * target whose size is unknown (dynamic dims, --data of varying shapes) is captured with its own wave.
 */
import { inferModelShapes, isNum, type GraphShapes } from '../../core/shapes';
import type { ModelProto } from '../../onnx/types';
import type { Candidate } from './select';

/** Teacher values held ahead of their waves, at most. */
export const AHEAD_BYTES = 192 * 2 ** 20;

export class TargetPlanner {
  private readonly shapes?: GraphShapes;
  enabled = true;

  constructor(
    teacher: ModelProto,
    inputShapes: Record<string, number[]> | undefined,
    private readonly samples: number,
  ) {
    try {
      this.shapes = inferModelShapes(teacher, inputShapes ?? {}).main;
    } catch {
      this.shapes = undefined;
    }
  }

  /** Bytes of one target over every sample; Infinity when its shape is not static. */
  bytes(tensor: string): number {
    const shape = this.shapes?.shape(tensor);
    if (!shape || !shape.every(isNum)) return Infinity;
    return shape.reduce((a, b) => a * b, 1) * 4 * this.samples;
  }

  /** Teacher targets of wave i, plus those of the waves after it that fit the budget. */
  block(waves: readonly Candidate[][], i: number): string[] {
    const targets = new Set(waves[i].map((c) => c.target.tensor));
    if (!this.enabled) return [...targets];
    let bytes = [...targets].reduce((s, t) => s + this.bytes(t), 0);
    for (let j = i + 1; j < waves.length && Number.isFinite(bytes); j++) {
      const more = waves[j].map((c) => c.target.tensor).filter((t) => !targets.has(t));
      const add = more.reduce((s, t) => s + this.bytes(t), 0);
      if (bytes + add > AHEAD_BYTES) break;
      more.forEach((t) => targets.add(t));
      bytes += add;
    }
    return [...targets];
  }
}
