import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { saveModel } from '../../src/onnx/io';
import { calibrateModel, CalibrationOptionError } from '../../src/runtime/calibrate';
import { addToHistogram, chooseRange, entropyThreshold, percentileThreshold, TensorAccumulator, type Histogram } from '../../src/runtime/calibrateStats';
import { AbortError } from '../../src/runtime/nativeGuard';
import { writeNpzFile } from '../../src/runtime/npz';
import { SAMPLES } from '../../src/samples';

let dir: string;

/** x [1, 4] -> Relu -> r -> Mul(2) -> y: statistics of every tensor follow from x by hand. */
function reluModel(): string {
  const g = graph({
    name: 'relu',
    node: [node('Relu', ['x'], ['r']), node('Mul', ['r', 'two'], ['y'])],
    initializer: [floatTensor('two', [], [2])],
    input: [valueInfo('x', DataType.FLOAT, [1, 4])],
    output: [valueInfo('y', DataType.FLOAT, [1, 4])],
  });
  const file = path.join(dir, 'relu.onnx');
  saveModel(model(g, 17), file);
  return file;
}

function writeSamples(folder: string, samples: number[][], shape = [1, 4]): string {
  fs.mkdirSync(folder, { recursive: true });
  samples.forEach((values, i) => writeNpzFile(path.join(folder, `s${i}.npz`), { x: { dtype: 'float32', shape, data: Float32Array.from(values) } }));
  return folder;
}

function cnnFile(): string {
  const file = path.join(dir, 'cnn.onnx');
  if (!fs.existsSync(file)) saveModel(SAMPLES.cnn.build(), file);
  return file;
}

void describe('calibration', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-calibrate-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  void test('MinMax statistics and channel means of a Relu model match values computed by hand', async () => {
    const data = writeSamples(path.join(dir, 'relu-data'), [
      [-1, 2, -3, 4],
      [5, -6, 0.5, 1],
    ]);
    const result = await calibrateModel(reluModel(), { method: 'minmax', dataDir: data, channelMeans: { x: 1, r: -1 } });
    assert.equal(result.samples, 2);
    assert.equal(result.method, 'minmax');
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.ranges.get('x'), { min: -6, max: 5 });
    assert.deepEqual(result.ranges.get('r'), { min: 0, max: 5 });
    assert.deepEqual(result.ranges.get('y'), { min: 0, max: 10 });
    assert.deepEqual([...(result.stats.get('x')?.channelMean ?? [])], [2, -2, -1.25, 2.5]);
    assert.equal(result.stats.get('x')?.channelAxis, undefined, 'axis 1 is the default and not repeated');
    assert.deepEqual([...(result.stats.get('r')?.channelMean ?? [])], [2.5, 1, 0.25, 2.5]);
    assert.equal(result.stats.get('r')?.channelAxis, -1);
  });

  void test('MinMax with a moving average follows ORT: value + c · (new − value) per run', async () => {
    const data = writeSamples(path.join(dir, 'ema-data'), [
      [0, 1, 2, 4],
      [0, 1, 2, 8],
    ]);
    const result = await calibrateModel(reluModel(), { method: 'minmax', dataDir: data, movingAverage: 0.5, tensors: ['y'] });
    assert.deepEqual(result.ranges.get('y'), { min: 0, max: 8 + 0.5 * (16 - 8) });
    assert.deepEqual(result.stats.get('y'), { min: 0, max: 16 }, 'raw statistics keep the true extremes');
    assert.deepEqual([...result.ranges.keys()], ['y'], 'only the requested tensor');
  });

  void test('Percentile on 1..1000: the left edge of the bin where the cumulative share reaches 99.9 %', async () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const data = writeSamples(path.join(dir, 'uniform-data'), [values], [1, 1000]);
    const g = graph({ name: 'id', node: [node('Relu', ['x'], ['y'])], input: [valueInfo('x', DataType.FLOAT, [1, 1000])], output: [valueInfo('y', DataType.FLOAT, [1, 1000])] });
    const file = path.join(dir, 'uniform.onnx');
    saveModel(model(g, 17), file);
    const result = await calibrateModel(file, { method: 'percentile', percentile: 99.9, dataDir: data });
    // 2048 bins over [0, 1000]: 999 of the 1000 values lie below bin ⌊999 / (1000/2048)⌋ = 2045's upper edge.
    const width = 1000 / 2048;
    const expected = Math.floor(999 / width) * width;
    assert.ok(Math.abs((result.ranges.get('y')?.max ?? 0) - expected) < 1e-9, `max ${result.ranges.get('y')?.max} vs ${expected}`);
    assert.equal(result.ranges.get('y')?.min, 1, 'the symmetric threshold is clipped to the smallest value seen');
    assert.equal(result.stats.get('y')?.histogram?.counts.length, 2048);
    assert.equal(result.stats.get('y')?.histogram?.absMax, 1000);
  });

  void test('histogram pieces: widening merges bins, percentile and entropy thresholds', () => {
    const h: Histogram = { counts: new Float64Array(8), absMax: 0 };
    addToHistogram(h, Float32Array.of(1, -2, 3, 4), 4);
    // Bin width 0.5: |x| = 1, 2, 3 land in bins 2, 4, 6; the maximum 4 in the last bin.
    assert.deepEqual([...h.counts], [0, 0, 1, 0, 1, 0, 1, 1]);
    addToHistogram(h, Float32Array.of(7.5), 7.5);
    assert.equal(h.absMax, 8, 'the range doubles');
    assert.deepEqual([...h.counts], [0, 1, 1, 2, 0, 0, 0, 1], 'bins merged in pairs, then 7.5 counted');
    assert.equal(percentileThreshold(h, 75), 3, 'cumulative 0.2, 0.4, 0.8: bin 3, whose left edge is 3');
    assert.equal(percentileThreshold(h, 100), 7);
    // A Gaussian bulk with a few far outliers: the KL search clips well below the largest value.
    const gaussian = new TensorAccumulator({ bins: 2048 });
    const data = new Float32Array(20000);
    let seed = 7;
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const u = (seed + 0.5) / 2 ** 31;
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = (seed + 0.5) / 2 ** 31;
      data[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
    data.set([40, -35, 38], 0);
    gaussian.add(data, [data.length]);
    const threshold = entropyThreshold(gaussian.histogram as Histogram);
    assert.ok(threshold > 2 && threshold < 20, `entropy threshold ${threshold}`);
    const range = chooseRange(gaussian, { method: 'entropy', percentile: 99.999, quantizedBins: 128 });
    assert.deepEqual(range, { min: -threshold, max: threshold });
  });

  void test('generated inputs: 16 seeded samples by default, with a warning that real data calibrates better', async () => {
    const result = await calibrateModel(reluModel(), { method: 'minmax' });
    assert.equal(result.samples, 16);
    assert.equal(result.groups, 1);
    assert.match(result.warnings?.[0] ?? '', /16 generated inputs.*real inputs/);
  });

  void test('a tiny memory budget splits the tensors into groups and gives identical statistics', async () => {
    const options = { method: 'percentile' as const, samples: 3, shapes: { x: [1, 3, 32, 32] }, channelMeans: { relu_0: 1 } };
    const whole = await calibrateModel(cnnFile(), options);
    const split = await calibrateModel(cnnFile(), { ...options, memoryBudgetBytes: 1 });
    assert.equal(whole.groups, 1);
    assert.ok((split.groups ?? 0) > 10, `${split.groups} groups`);
    assert.deepEqual([...split.stats.keys()].sort(), [...whole.stats.keys()].sort());
    assert.deepEqual(split.stats, whole.stats);
    assert.deepEqual(split.ranges, whole.ranges);
  });

  void test('cancelling a long calibration rejects with AbortError soon after', async () => {
    const controller = new AbortController();
    const started = performance.now();
    let abortedAt = 0;
    const run = calibrateModel(cnnFile(), { method: 'minmax', samples: 100000, shapes: { x: [8, 3, 32, 32] } }, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase !== 'calibrate' || abortedAt) return;
        abortedAt = performance.now();
        controller.abort();
      },
    });
    await assert.rejects(run, (err: Error) => err instanceof AbortError);
    assert.ok(abortedAt > 0, 'calibration reported progress');
    const stopMs = performance.now() - abortedAt;
    assert.ok(stopMs < 5000, `stopped ${stopMs.toFixed(0)} ms after the abort (started ${(abortedAt - started).toFixed(0)} ms in)`);
  });

  void test('a wrong-shaped .npz in the data folder is an error naming the file and the input', async () => {
    const data = writeSamples(path.join(dir, 'bad-data'), [[1, 2, 3, 4]]);
    writeNpzFile(path.join(data, 's9.npz'), { x: { dtype: 'float32', shape: [1, 5], data: new Float32Array(5) } });
    await assert.rejects(calibrateModel(reluModel(), { method: 'minmax', dataDir: data }), (err: Error) => {
      assert.equal(err.name, 'InputError');
      assert.match(err.message, /s9\.npz/);
      assert.match(err.message, /input x/);
      return true;
    });
  });

  void test('bad options are refused before a worker starts', async () => {
    await assert.rejects(calibrateModel(reluModel(), { method: 'kl' as 'entropy' }), CalibrationOptionError);
    await assert.rejects(calibrateModel(reluModel(), { method: 'percentile', percentile: 120 }), /percentile must be in/);
    await assert.rejects(calibrateModel(reluModel(), { method: 'minmax', samples: 0 }), /samples must be/);
  });
});
