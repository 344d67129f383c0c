/**
 * Least-squares rows from captured activations. A linear layer's rows are its input's last-axis
 * vectors (every leading index of every sample); a convolution's rows are im2col patches, one per
 * output position (batch, oh, ow), per group. The target of each row is the teacher's output at the
 * same position, restricted to the teacher channels the student kept. Rows are subsampled uniformly
 * at random (seeded) to a budget, so big feature maps cost max_rows rows, not all of them.
 */
import type { Rng } from '../../core/random';
import type { CapturedTensor } from '../../runtime/activations';
import type { DistillLayer } from './layers';
import type { TeacherTarget } from './teacher';

/** Per-group row matrices: x[g] is rows×Kg, y[g] rows×(N/groups), both row-major. */
export interface LayerRows {
  rows: number;
  x: Float32Array[];
  y: Float32Array[];
}

/** How rows sit in one sample. */
interface SampleLayout {
  rows: number;
  /** Conv only: input [B, C, H, W], output spatial size and top/left padding. */
  conv?: { C: number; H: number; W: number; OH: number; OW: number; padTop: number; padLeft: number };
}

function samePads(size: number, kernel: number, stride: number, dilation: number, upper: boolean): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size);
  const small = Math.floor(total / 2);
  return upper ? [small, total - small] : [total - small, small];
}

function convLayout(layer: DistillLayer, x: number[], y: number[], target: TeacherTarget): SampleLayout | string {
  const g = layer.conv as NonNullable<DistillLayer['conv']>;
  if (x.length !== 4 || y.length !== 4) return `expected 4-D input and output, got [${x.join(', ')}] and [${y.join(', ')}]`;
  const [B, C, H, W] = x;
  if (C !== (layer.Kg / (g.kernel[0] * g.kernel[1])) * layer.groups) return `input has ${C} channels, the weights expect ${(layer.Kg / (g.kernel[0] * g.kernel[1])) * layer.groups}`;
  const [pt, pb] = g.pads === 'SAME_UPPER' || g.pads === 'SAME_LOWER' ? samePads(H, g.kernel[0], g.strides[0], g.dilations[0], g.pads === 'SAME_UPPER') : [g.pads[0], g.pads[2]];
  const [pl, pr] = g.pads === 'SAME_UPPER' || g.pads === 'SAME_LOWER' ? samePads(W, g.kernel[1], g.strides[1], g.dilations[1], g.pads === 'SAME_UPPER') : [g.pads[1], g.pads[3]];
  const OH = Math.floor((H + pt + pb - (g.kernel[0] - 1) * g.dilations[0] - 1) / g.strides[0]) + 1;
  const OW = Math.floor((W + pl + pr - (g.kernel[1] - 1) * g.dilations[1] - 1) / g.strides[1]) + 1;
  if (y[0] !== B || y[1] !== target.teacherN || y[2] !== OH || y[3] !== OW) return `the teacher's output [${y.join(', ')}] does not fit [${B}, ${target.teacherN}, ${OH}, ${OW}]`;
  return { rows: B * OH * OW, conv: { C, H, W, OH, OW, padTop: pt, padLeft: pl } };
}

function linearLayout(layer: DistillLayer, x: number[], y: number[], target: TeacherTarget): SampleLayout | string {
  const K = layer.Kg;
  if (x.length < 1 || x[x.length - 1] !== K) return `input [${x.join(', ')}] does not end in ${K} features`;
  if (y.length < 1 || y[y.length - 1] !== target.teacherN) return `the teacher's output [${y.join(', ')}] does not end in ${target.teacherN} features`;
  const rows = x.reduce((a, b) => a * b, 1) / K;
  if (y.reduce((a, b) => a * b, 1) / target.teacherN !== rows) return `input [${x.join(', ')}] and the teacher's output [${y.join(', ')}] have different row counts`;
  return { rows };
}

/** Row layout of every sample, or why the captured shapes do not fit the layer. */
export function sampleLayouts(layer: DistillLayer, x: CapturedTensor, y: CapturedTensor, target: TeacherTarget, samples: readonly number[]): SampleLayout[] | string {
  const out: SampleLayout[] = [];
  for (const s of samples) {
    const layout = layer.conv ? convLayout(layer, x.sampleDims[s], y.sampleDims[s], target) : linearLayout(layer, x.sampleDims[s], y.sampleDims[s], target);
    if (typeof layout === 'string') return `sample ${s + 1}: ${layout}`;
    out.push(layout);
  }
  return out;
}

/** Up to `max` (sample, row) pairs drawn uniformly without replacement, in increasing order. */
export function pickRows(counts: readonly number[], max: number, rng: Rng): [number, number][] {
  const total = counts.reduce((a, b) => a + b, 0);
  let chosen: number[];
  if (total <= max) chosen = Array.from({ length: total }, (_, i) => i);
  else {
    // Floyd's algorithm: max draws, no array of size total.
    const set = new Set<number>();
    for (let j = total - max; j < total; j++) {
      const t = Math.floor(rng.next() * (j + 1));
      set.add(set.has(t) ? j : t);
    }
    chosen = [...set].sort((a, b) => a - b);
  }
  const out: [number, number][] = [];
  let sample = 0;
  let start = 0;
  for (const id of chosen) {
    while (id >= start + counts[sample]) start += counts[sample++];
    out.push([sample, id - start]);
  }
  return out;
}

function fillLinear(layer: DistillLayer, target: TeacherTarget, x: Float32Array, y: Float32Array, row: number, out: LayerRows, r: number): void {
  const K = layer.Kg;
  const N = layer.N;
  const tN = target.teacherN;
  out.x[0].set(x.subarray(row * K, row * K + K), r * K);
  const map = target.outMap;
  for (let j = 0; j < N; j++) out.y[0][r * N + j] = y[row * tN + (map ? map[j] : j)];
}

function fillConv(layer: DistillLayer, target: TeacherTarget, layout: SampleLayout, x: Float32Array, y: Float32Array, row: number, out: LayerRows, r: number): void {
  const g = layer.conv as NonNullable<DistillLayer['conv']>;
  const c = layout.conv as NonNullable<SampleLayout['conv']>;
  const [kh, kw] = g.kernel;
  const Cg = layer.Kg / (kh * kw);
  const Ng = layer.N / layer.groups;
  const plane = c.OH * c.OW;
  const b = Math.floor(row / plane);
  const oh = Math.floor((row % plane) / c.OW);
  const ow = row % c.OW;
  const map = target.outMap;
  for (let grp = 0; grp < layer.groups; grp++) {
    const xg = out.x[grp];
    let k = r * layer.Kg;
    for (let ci = 0; ci < Cg; ci++) {
      const channel = (b * c.C + grp * Cg + ci) * c.H;
      for (let ky = 0; ky < kh; ky++) {
        const ih = oh * g.strides[0] - c.padTop + ky * g.dilations[0];
        for (let kx = 0; kx < kw; kx++) {
          const iw = ow * g.strides[1] - c.padLeft + kx * g.dilations[1];
          xg[k++] = ih >= 0 && ih < c.H && iw >= 0 && iw < c.W ? x[(channel + ih) * c.W + iw] : 0;
        }
      }
    }
    for (let j = 0; j < Ng; j++) {
      const m = grp * Ng + j;
      out.y[grp][r * Ng + j] = y[(b * target.teacherN + (map ? map[m] : m)) * plane + oh * c.OW + ow];
    }
  }
}

/** Row matrices for the picked (sample index into `samples`, row) pairs. */
export function gatherRows(layer: DistillLayer, target: TeacherTarget, x: CapturedTensor, y: CapturedTensor, samples: readonly number[], layouts: SampleLayout[], picks: [number, number][]): LayerRows {
  const rows = picks.length;
  const Ng = layer.N / layer.groups;
  const out: LayerRows = {
    rows,
    x: Array.from({ length: layer.groups }, () => new Float32Array(rows * layer.Kg)),
    y: Array.from({ length: layer.groups }, () => new Float32Array(rows * Ng)),
  };
  picks.forEach(([si, row], r) => {
    const s = samples[si];
    if (layer.conv) fillConv(layer, target, layouts[si], x.data[s], y.data[s], row, out, r);
    else fillLinear(layer, target, x.data[s], y.data[s], row, out, r);
  });
  return out;
}

export type { SampleLayout };
