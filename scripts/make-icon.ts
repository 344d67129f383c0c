// Draws the extension icon (media/icon.png, 128x128 RGBA) without any image library: shapes are signed
// distances sampled 4x4 per pixel (anti-aliasing), and the PNG is encoded here with node:zlib.
// The motif: a small network that narrows from three nodes to two to one (a model made leaner), white
// on an indigo-to-cyan rounded square. Deterministic: the same script always writes the same bytes.
//
//   node --import tsx scripts/make-icon.ts [out.png] [--size 128]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';

type RGB = [number, number, number];
type Point = [number, number];

const args = process.argv.slice(2);
const sizeFlag = args.indexOf('--size');
const SIZE = sizeFlag >= 0 ? Number(args.splice(sizeFlag, 2)[1]) : 128;
const OUT = args[0] ?? 'media/icon.png';
const MAX_BYTES = 20 * 1024;

// ---- the drawing, in a 128-unit coordinate space ----------------------------------------------------
const BG_FROM: RGB = [67, 56, 202]; // indigo, top left
const BG_TO: RGB = [8, 145, 178]; // cyan, bottom right
const WHITE: RGB = [255, 255, 255];
const ACCENT: RGB = [251, 191, 36]; // amber: the output node

const left: Point[] = [
  [32, 34],
  [32, 64],
  [32, 94],
];
const middle: Point[] = [
  [64, 48],
  [64, 80],
];
const right: Point = [96, 64];
const edges: [Point, Point][] = [...left.flatMap((a) => middle.map((b): [Point, Point] => [a, b])), ...middle.map((a): [Point, Point] => [a, right])];
const nodes: { c: Point; r: number; color: RGB }[] = [
  ...left.map((c) => ({ c, r: 9, color: WHITE })),
  ...middle.map((c) => ({ c, r: 9, color: WHITE })),
  { c: right, r: 11, color: ACCENT },
];

/** Signed distance to the rounded square inset `inset` from the 128-unit canvas, corner radius `r` (negative inside). */
function roundedSquare(x: number, y: number, inset: number, r: number): number {
  const half = 64 - inset;
  const qx = Math.abs(x - 64) - (half - r);
  const qy = Math.abs(y - 64) - (half - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

function segmentDistance(x: number, y: number, [ax, ay]: Point, [bx, by]: Point): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

/** Straight-alpha colour of one sample point: background, then edges, then nodes ("over" each time). */
function sample(x: number, y: number): [number, number, number, number] {
  if (roundedSquare(x, y, 4, 26) > 0) return [0, 0, 0, 0];
  const t = Math.min(1, Math.max(0, (x + y) / 256));
  let rgb = BG_FROM.map((v, i) => v + (BG_TO[i] - v) * t) as RGB;
  const over = (color: RGB, alpha: number) => (rgb = rgb.map((v, i) => v + (color[i] - v) * alpha) as RGB);
  // Edges as one union (crossings do not get brighter), then the nodes on top.
  if (edges.some(([a, b]) => segmentDistance(x, y, a, b) <= 2.5)) over(WHITE, 0.55);
  for (const n of nodes) if (Math.hypot(x - n.c[0], y - n.c[1]) <= n.r) over(n.color, 1);
  return [...rgb, 255];
}

function render(size: number): Buffer {
  const ss = 4; // samples per axis per pixel
  const scale = 128 / size;
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Premultiplied accumulation, so edge pixels against transparency keep their colour.
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const [cr, cg, cb, ca] = sample((px + (sx + 0.5) / ss) * scale, (py + (sy + 0.5) / ss) * scale);
          const alpha = ca / 255;
          r += cr * alpha;
          g += cg * alpha;
          b += cb * alpha;
          a += alpha;
        }
      }
      const o = (py * size + px) * 4;
      const n = ss * ss;
      if (a > 0) {
        rgba[o] = Math.round(r / a);
        rgba[o + 1] = Math.round(g / a);
        rgba[o + 2] = Math.round(b / a);
      }
      rgba[o + 3] = Math.round((a / n) * 255);
    }
  }
  return rgba;
}

// ---- a minimal PNG encoder (RGBA 8-bit, per-row adaptive filter, zlib) -------------------------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filters each row with the PNG filter (0-4) whose output has the smallest sum of |signed bytes|. */
function filterRows(rgba: Buffer, width: number, height: number): Buffer {
  const bpp = 4;
  const stride = width * bpp;
  const out = Buffer.alloc((stride + 1) * height);
  const zero = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = rgba.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? rgba.subarray((y - 1) * stride, y * stride) : zero;
    let best = Buffer.alloc(0);
    let bestScore = Infinity;
    for (let type = 0; type <= 4; type++) {
      const f = Buffer.alloc(stride);
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? row[i - bpp] : 0;
        const b = prev[i];
        const c = i >= bpp ? prev[i - bpp] : 0;
        const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
        f[i] = (row[i] - predictor) & 0xff;
        score += f[i] < 128 ? f[i] : 256 - f[i];
      }
      if (score < bestScore) [best, bestScore] = [Buffer.concat([Buffer.from([type]), f]), score];
    }
    best.copy(out, y * (stride + 1));
  }
  return out;
}

function encodePng(rgba: Buffer, width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(filterRows(rgba, width, height), { level: 9, memLevel: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const png = encodePng(render(SIZE), SIZE, SIZE);
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, png);
console.log(`${OUT}: ${SIZE}x${SIZE}, ${png.length} bytes`);
if (SIZE === 128 && png.length > MAX_BYTES) {
  console.error(`the icon is over ${MAX_BYTES} bytes`);
  process.exit(1);
}
