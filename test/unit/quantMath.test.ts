import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/random';
import {
  affineParams,
  bfloat16ToFloat32,
  dequantizeAffine,
  dequantizeInt4Blockwise,
  dequantizePerChannel,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  quantizeAffine,
  quantizeInt4Blockwise,
  quantizePerChannelInt8,
  quantizePerTensorInt8,
  roundHalfEven,
  toFloat16Bits,
  packInt4,
  unpackInt4,
  type AffineType,
} from '../../src/passes/quant/math';

/** Relative slack for float32 rounding of the scale and of x / scale. */
const EPS = 1e-5;

/** Normal values whose spread differs per column, with one all-zero column. */
function columnsWithSpread(rng: Rng, K: number, N: number): Float32Array {
  const w = new Float32Array(K * N);
  const spread = Array.from({ length: N }, (_, n) => (n === 3 ? 0 : 0.01 * 2 ** rng.int(0, 10)));
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] = rng.normal() * spread[n];
  return w;
}

void describe('roundHalfEven', () => {
  void test('ties go to the even neighbour, other values to the nearest', () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [-0.5, 0],
      [-1.5, -2],
      [-2.5, -2],
      [2.4999, 2],
      [2.5001, 3],
      [-2.5001, -3],
      [127.5, 128],
      [-128.5, -128],
    ];
    for (const [x, expected] of cases) assert.equal(roundHalfEven(x) + 0, expected, `round(${x})`);
  });
});

void describe('int8 symmetric per channel', () => {
  const K = 37;
  const N = 23;
  const w = columnsWithSpread(new Rng(1), K, N);

  void test('one scale per column = maxAbs / 127, zero columns get a safe positive scale', () => {
    const { values, scales } = quantizePerChannelInt8(w, [K, N], 1);
    assert.equal(scales.length, N);
    for (let n = 0; n < N; n++) {
      let maxAbs = 0;
      for (let k = 0; k < K; k++) maxAbs = Math.max(maxAbs, Math.abs(w[k * N + n]));
      if (maxAbs === 0) {
        assert.ok(scales[n] > 0);
        for (let k = 0; k < K; k++) assert.equal(values[k * N + n], 0);
      } else {
        assert.equal(scales[n], Math.fround(maxAbs / 127));
        const codes = Array.from({ length: K }, (_, k) => Math.abs(values[k * N + n]));
        assert.equal(Math.max(...codes), 127, `column ${n} uses the full range`);
      }
    }
  });

  void test('round trip error is at most half a step', () => {
    for (const axis of [0, 1]) {
      const { values, scales } = quantizePerChannelInt8(w, [K, N], axis);
      const back = dequantizePerChannel(values, scales, [K, N], axis);
      for (let i = 0; i < w.length; i++) {
        const scale = scales[axis === 1 ? i % N : Math.floor(i / N)];
        assert.ok(Math.abs(back[i] - w[i]) <= (scale / 2) * (1 + EPS), `axis ${axis} element ${i}`);
      }
    }
  });

  void test('values stay in [-127, 127]; per-tensor uses one scale', () => {
    const { values, scale } = quantizePerTensorInt8(w);
    let maxAbs = 0;
    for (const v of w) maxAbs = Math.max(maxAbs, Math.abs(v));
    assert.equal(scale, Math.fround(maxAbs / 127));
    for (const q of values) assert.ok(q >= -127 && q <= 127);
  });

  void test('ties round half to even', () => {
    // One channel with maxAbs 127: scale 1, so x / scale is exactly the value.
    const { values } = quantizePerChannelInt8(Float32Array.of(127, 0.5, 1.5, 2.5, -2.5, -0.5), [1, 6], 0);
    assert.deepEqual(Array.from(values), [127, 0, 2, 2, -2, 0]);
  });
});

void describe('affine per tensor', () => {
  void test('matches the ONNX DynamicQuantizeLinear example', () => {
    const x = [0, 2, -3, -2.5, 1.34, 0.5];
    const p = affineParams(Math.min(...x), Math.max(...x), 'uint8');
    assert.equal(p.scale, Math.fround(5 / 255));
    assert.equal(p.zeroPoint, 153);
    assert.deepEqual(Array.from(quantizeAffine(x, p)), [153, 255, 0, 26, 221, 179]);
  });

  void test('saturates and rounds half to even', () => {
    const p = { scale: 1, zeroPoint: 0, qmin: 0, qmax: 255 };
    assert.deepEqual(Array.from(quantizeAffine([-3, 0.5, 1.5, 2.5, 254.5, 300, NaN], p)), [0, 0, 2, 2, 254, 255, 0]);
    const s = { scale: 1, zeroPoint: 0, qmin: -128, qmax: 127 };
    assert.deepEqual(Array.from(quantizeAffine([-1000, -128.5, -127.5, 126.5, 1000], s)), [-128, -128, -128, 126, 127]);
  });

  void test('random ranges: zero point in range, 0.0 exact, error at most half a step', () => {
    const rng = new Rng(5);
    for (const type of ['uint8', 'int8'] as AffineType[]) {
      for (let trial = 0; trial < 200; trial++) {
        const a = rng.uniform(-50, 50);
        const b = trial % 4 === 0 ? a + rng.uniform(0, 1e-3) : rng.uniform(-50, 50); // include tiny and one-sided ranges
        const [min, max] = a < b ? [a, b] : [b, a];
        const p = affineParams(min, max, type);
        assert.ok(Number.isInteger(p.zeroPoint) && p.zeroPoint >= p.qmin && p.zeroPoint <= p.qmax, `${type} zero point ${p.zeroPoint}`);
        assert.equal(dequantizeAffine([p.zeroPoint], p.scale, p.zeroPoint)[0], 0);
        assert.deepEqual(Array.from(quantizeAffine([0], p)), [p.zeroPoint]);
        const xs = Array.from({ length: 64 }, () => rng.uniform(Math.min(min, 0), Math.max(max, 0)));
        const back = dequantizeAffine(quantizeAffine(xs, p), p.scale, p.zeroPoint);
        xs.forEach((x, i) => assert.ok(Math.abs(back[i] - x) <= (p.scale / 2) * (1 + EPS) + 1e-12, `${type} [${min}, ${max}] x=${x}`));
      }
    }
  });

  void test('an all-zero range gets a positive scale', () => {
    const p = affineParams(0, 0, 'uint8');
    assert.ok(p.scale > 0);
    assert.equal(p.zeroPoint, 0);
  });
});

void describe('int4', () => {
  void test('packs two values per byte, low nibble first', () => {
    assert.deepEqual(Array.from(packInt4([1, 2, 3, 4, 5])), [0x21, 0x43, 0x05]);
    assert.deepEqual(Array.from(packInt4([-1, 7, -8])), [0x7f, 0x08]);
    assert.deepEqual(Array.from(unpackInt4(Uint8Array.of(0x7f, 0x08), 3, true)), [-1, 7, -8]);
    assert.deepEqual(Array.from(unpackInt4(Uint8Array.of(0x7f, 0x08), 3, false)), [15, 7, 8]);
  });

  void test('symmetric block: the largest magnitude maps to -8 (scale = extreme / -8)', () => {
    // One column, K=4, block 4: extreme 4 -> scale -0.5; codes round(v / scale) + 8 = [6, 12, 7, 0].
    const q = quantizeInt4Blockwise(Float32Array.of(1.2, -2, 0.5, 4), 4, 1, 4, true);
    assert.deepEqual(Array.from(q.scales), [-0.5]);
    assert.deepEqual(Array.from(q.packed), [0xc6, 0x07]);
    assert.equal(q.zeroPoints, undefined);
  });

  void test('asymmetric block: scale = (max - min) / 15 with 0 in range, zero point packed', () => {
    // min -2, max 4 -> scale 0.4, zero point 5; codes [8, 0, 6, 15].
    const q = quantizeInt4Blockwise(Float32Array.of(1.2, -2, 0.5, 4), 4, 1, 4, false);
    assert.deepEqual(Array.from(q.scales), [Math.fround(0.4)]);
    assert.deepEqual(Array.from(q.packed), [0x08, 0xf6]);
    assert.deepEqual(Array.from(q.zeroPoints ?? []), [0x05]);
  });

  void test('MatMulNBits layout: column-major blocks, K padded with the zero point, zero points two per byte', () => {
    // K=6, N=2, block 4: column n holds w[0..5][n] in 2 blocks; the second block is padded by 2.
    const w = Float32Array.of(8, -8, 4, -4, 0, 0, -8, 8, 8, -8, -4, 4); // row-major [6, 2]
    const sym = quantizeInt4Blockwise(w, 6, 2, 4, true);
    assert.equal(sym.blocksPerColumn, 2);
    // Equal magnitudes pick the minimum as the extreme (MLAS range2scale): [8,4,0,-8] -> -8 / -8 = 1.
    assert.deepEqual(Array.from(sym.scales), [1, -1, 1, 1]);
    // column 0: [8, 4, 0, -8] / 1 + 8 -> [16 saturates to 15, 12, 8, 0]; [8, -4] / -1 + 8 -> [0, 12], pad 8, 8
    // column 1: [-8, -4, 0, 8] / 1 + 8 -> [0, 4, 8, 15]; [-8, 4] / 1 + 8 -> [0, 12], pad 8, 8
    assert.deepEqual(Array.from(sym.packed), [0xcf, 0x08, 0xc0, 0x88, 0x40, 0xf8, 0xc0, 0x88]);
    // One column, 3 blocks of 4 with ranges giving scale 1 and zero points 15, 1, 7: two per byte, the
    // odd block count leaves the high nibble of the last byte empty.
    const asym = quantizeInt4Blockwise(Float32Array.of(-15, 0, 0, 0, -1, 14, 0, 0, -7, 8, 0, 0), 12, 1, 4, false);
    assert.deepEqual(Array.from(asym.scales), [1, 1, 1]);
    assert.deepEqual(Array.from(asym.zeroPoints ?? []), [0x1f, 0x07]);
    assert.deepEqual(Array.from(asym.packed), [0xf0, 0xff, 0xf0, 0x11, 0xf0, 0x77]);
  });

  void test('random weights: round trip within half a step (symmetric: within a step where it saturates)', () => {
    const rng = new Rng(9);
    const K = 200;
    const N = 24;
    const w = rng.normalArray(K * N, 0.05);
    for (const block of [16, 32, 128]) {
      for (const symmetric of [true, false]) {
        const q = quantizeInt4Blockwise(w, K, N, block, symmetric);
        const back = dequantizeInt4Blockwise(q, K, N, block);
        for (let k = 0; k < K; k++) {
          for (let n = 0; n < N; n++) {
            const scale = Math.abs(q.scales[n * q.blocksPerColumn + Math.floor(k / block)]);
            const x = w[k * N + n];
            const error = Math.abs(back[k * N + n] - x);
            // Symmetric blocks reach -8 * |scale| on one side but only 7 * |scale| on the other.
            const saturates = symmetric && Math.abs(x) > 7.5 * scale;
            assert.ok(error <= (saturates ? scale : scale / 2) * (1 + EPS), `block ${block} sym ${symmetric} k=${k} n=${n}`);
          }
        }
      }
    }
  });
});

void describe('float16', () => {
  const bits = (x: number) => toFloat16Bits(x);

  void test('exact values, rounding to nearest even, overflow and specials', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // halfway between 65504 and 2^16: the even side is infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [-0, 0x8000],
      [1 + 2 ** -11, 0x3c00], // tie -> even mantissa 0
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even mantissa 2
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    ];
    for (const [x, expected] of cases) assert.equal(bits(x), expected, `fp16(${x}) = 0x${bits(x).toString(16)}`);
    const nan = bits(NaN);
    assert.ok((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0);
  });

  void test('subnormals', () => {
    const cases: [number, number][] = [
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 -> 0
      [1.5 * 2 ** -25, 0x0001],
      [1.5 * 2 ** -24, 0x0002], // tie between 1 and 2 -> 2
      [2.5 * 2 ** -24, 0x0002], // tie between 2 and 3 -> 2
      [-1023.5 * 2 ** -24, 0x8400], // rolls over into the smallest normal
      [1e-9, 0x0000],
    ];
    for (const [x, expected] of cases) assert.equal(bits(x), expected, `fp16(${x}) = 0x${bits(x).toString(16)}`);
  });

  void test('clamping keeps tiny values non-zero and large values finite', () => {
    const clamp = { minPositive: 1e-7, maxFinite: 1e4 };
    const out = float32ToFloat16(Float32Array.of(1e-9, -1e-9, 0, 2e4, -5e4, Infinity, 0.5), clamp);
    // 1e-7 -> round(1e-7 * 2^24 = 1.68) = 2 subnormal steps; 1e4 = 0x70e2.
    assert.deepEqual(Array.from(out), [0x0002, 0x8002, 0x0000, 0x70e2, 0xf0e2, 0x7c00, 0x3800]);
  });

  void test('every float16 converts to float32 and back to the same bits', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = float16ToFloat32(all);
    assert.equal(floats[0x0001], 2 ** -24);
    assert.equal(floats[0x7bff], 65504);
    assert.equal(floats[0x3555], 0.333251953125);
    assert.equal(floats[0xfc00], -Infinity);
    const back = float32ToFloat16(floats);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(floats[i])) assert.ok((i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0, `0x${i.toString(16)}`);
      else assert.equal(back[i], i, `0x${i.toString(16)}`);
    }
  });

  void test('array conversion agrees with the scalar one', () => {
    const x = new Rng(3).normalArray(1000, 1000);
    const out = float32ToFloat16(x);
    x.forEach((v, i) => assert.equal(out[i], toFloat16Bits(v)));
  });
});

void describe('bfloat16', () => {
  void test('rounds to nearest even, keeps NaN and infinities', () => {
    const input = Float32Array.of(1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2, -Infinity, 3.4028234663852886e38, NaN);
    const out = float32ToBfloat16(input);
    assert.deepEqual(Array.from(out.subarray(0, 6)), [0x3f80, 0x3f80, 0x3f82, 0xc000, 0xff80, 0x7f80]);
    assert.ok(Number.isNaN(bfloat16ToFloat32(out.subarray(6))[0]));
  });

  void test('every bfloat16 converts to float32 and back to the same bits', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = bfloat16ToFloat32(all);
    const back = float32ToBfloat16(floats);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(floats[i])) assert.ok(Number.isNaN(bfloat16ToFloat32(back.subarray(i, i + 1))[0]));
      else assert.equal(back[i], i, `0x${i.toString(16)}`);
    }
  });
});

void describe('speed', () => {
  void test('100 MB of float32 weights quantize in well under 5 s', () => {
    const K = 5000;
    const N = 5000;
    const w = new Float32Array(K * N);
    for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
    const timed = (f: () => unknown) => {
      const start = performance.now();
      f();
      return performance.now() - start;
    };
    const int8 = timed(() => quantizePerChannelInt8(w, [K, N], 1));
    const int4 = timed(() => quantizeInt4Blockwise(w, K, N, 128, true));
    const fp16 = timed(() => float32ToFloat16(w));
    assert.ok(int8 < 2500, `int8 per-channel took ${int8.toFixed(0)} ms`);
    assert.ok(int4 < 2500, `int4 blockwise took ${int4.toFixed(0)} ms`);
    assert.ok(fp16 < 2500, `float16 took ${fp16.toFixed(0)} ms`);
  });
});
