/**
 * Sensitivity analysis: known answers on generated models (a tiny-weight residual branch is the least
 * sensitive layer, level 0 changes nothing, pruning hurts more at every level), the weights-as-inputs
 * rewrite against the original model, the cache, cancellation, bad input, and the pure pieces
 * (magnitude pruning, recommendation).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeSensitivity, rankLayers, recommend } from '../../src/analysis/sensitivity';
import { findLayers, layerWeight } from '../../src/analysis/sensitivity/layers';
import { rewriteForVariants } from '../../src/analysis/sensitivity/rewrite';
import { kthSmallestMagnitude, magnitudePrune } from '../../src/analysis/sensitivity/transforms';
import { UserError } from '../../src/core/errors';
import { Rng } from '../../src/core/random';
import type { LayerSensitivity, SensitivityReport } from '../../src/core/reports';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import { loadModel, saveModel } from '../../src/onnx/io';
import type { ModelProto, TensorProto } from '../../src/onnx/types';
import { cnn, constants, ifModel } from '../../src/samples';
import { runModel, seededInputs, type FloatInput } from '../helpers/ort';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-sensitivity-test-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function gemm(rng: Rng, name: string, input: string, k: number, n: number, scale = 1): { node: ReturnType<typeof node>; weights: TensorProto[] } {
  const w = rng.normalArray(n * k, scale * Math.sqrt(2 / k));
  const b = rng.normalArray(n, 0.01);
  return { node: node('Gemm', [input, `${name}.weight`, `${name}.bias`], [name], { transB: 1 }, name), weights: [floatTensor(`${name}.weight`, [n, k], w), floatTensor(`${name}.bias`, [n], b)] };
}

/**
 * x[batch,32] -> fc1 (64, Relu) -> fc2 (32) + tiny (32, weights 1e-3 of the others: a residual branch
 * that barely contributes) -> Relu -> fc3 -> logits[batch,10].
 */
function residualModel(): ModelProto {
  const rng = new Rng(5);
  const fc1 = gemm(rng, 'fc1', 'x', 32, 64);
  const fc2 = gemm(rng, 'fc2', 'h1', 64, 32);
  const tiny = gemm(rng, 'tiny', 'h1', 64, 32, 1e-3);
  const fc3 = gemm(rng, 'fc3', 'h2', 32, 10);
  const nodes = [fc1.node, node('Relu', ['fc1'], ['h1'], {}, 'relu1'), fc2.node, tiny.node, node('Add', ['fc2', 'tiny'], ['sum'], {}, 'add'), node('Relu', ['sum'], ['h2'], {}, 'relu2'), { ...fc3.node, output: ['logits'] }];
  const g = graph({
    name: 'residual',
    node: nodes,
    initializer: [...fc1.weights, ...fc2.weights, ...tiny.weights, ...fc3.weights],
    input: [valueInfo('x', DataType.FLOAT, ['batch', 32])],
    output: [valueInfo('logits', DataType.FLOAT, ['batch', 10])],
  });
  return model(g);
}

/** A deep wide MLP: slow enough per run that a cancellation lands mid-run. */
function bigModel(): ModelProto {
  const rng = new Rng(9);
  const width = 1024;
  const nodes = [];
  const weights: TensorProto[] = [];
  let x = 'x';
  for (let i = 0; i < 6; i++) {
    const layer = gemm(rng, `fc${i}`, x, width, width);
    nodes.push(layer.node, node('Relu', [`fc${i}`], [`h${i}`], {}, `relu${i}`));
    weights.push(...layer.weights);
    x = `h${i}`;
  }
  const g = graph({ name: 'big', node: nodes, initializer: weights, input: [valueInfo('x', DataType.FLOAT, [256, width])], output: [valueInfo(x, DataType.FLOAT, [256, width])] });
  return model(g);
}

function write(name: string, m: ModelProto): string {
  const file = path.join(dir, name);
  saveModel(m, file);
  return file;
}

const byName = (r: SensitivityReport, name: string): LayerSensitivity => {
  const layer = r.layers.find((l) => l.name === name);
  assert.ok(layer, `no layer ${name} in ${r.layers.map((l) => l.name).join(', ')}`);
  return layer;
};

void describe('sensitivity: known answers (end to end)', () => {
  let file = '';
  let report: SensitivityReport;
  const options = () => ({ shapes: { x: [8, 32] }, levels: [0, 0.25, 0.5, 0.75, 0.9], workers: 2, threads: 1, cacheDir: path.join(dir, 'cache') });
  before(async () => {
    file = write('residual.onnx', residualModel());
    report = await analyzeSensitivity(file, options());
  });

  void it('reports every layer with int8, pruning and channel results in the CLI shape', () => {
    assert.deepEqual(
      report.layers.map((l) => l.name),
      ['fc1', 'fc2', 'tiny', 'fc3'],
    );
    assert.equal(report.method, 'end-to-end');
    assert.equal(report.cached, false);
    for (const l of report.layers) {
      assert.ok(l.int8 && typeof l.int8.cosine === 'number', `${l.name} int8`);
      assert.deepEqual(
        l.prune.map((p) => p.level),
        [0, 0.25, 0.5, 0.75, 0.9],
      );
      for (const p of l.prune) assert.ok(p.cosine <= 1 && (p.sqnrDb === null || typeof p.sqnrDb === 'number'));
    }
    assert.ok(report.recommendation.heuristic.length > 50);
    assert.ok(report.wallMs > 0);
  });

  void it('pruning level 0 changes nothing: cosine exactly 1, identical outputs', () => {
    for (const l of report.layers) {
      const zero = l.prune[0];
      assert.equal(zero.cosine, 1, `${l.name}`);
      assert.equal(zero.sqnrDb, null, `${l.name}: outputs identical`);
    }
  });

  void it('the tiny residual branch is the least sensitive layer', () => {
    const tiny = byName(report, 'tiny');
    for (const other of report.layers.filter((l) => l.name !== 'tiny')) {
      for (let i = 1; i < tiny.prune.length; i++) assert.ok(tiny.prune[i].cosine > other.prune[i].cosine, `level ${tiny.prune[i].level}: tiny ${tiny.prune[i].cosine} vs ${other.name} ${other.prune[i].cosine}`);
    }
    assert.ok(tiny.prune.at(-1)!.cosine > 0.99999, `tiny at 0.9: ${tiny.prune.at(-1)!.cosine}`);
    assert.equal(rankLayers(report.layers).at(-1)?.name, 'tiny');
  });

  void it('sensitivity grows with the pruning level on a typical layer', () => {
    for (const name of ['fc1', 'fc2']) {
      const cosines = byName(report, name).prune.map((p) => p.cosine);
      for (let i = 1; i < cosines.length; i++) assert.ok(cosines[i] < cosines[i - 1], `${name}: ${cosines.join(', ')}`);
    }
  });

  void it('int8 keeps cosine above 0.99 and activations are fake-quantized too', () => {
    for (const l of report.layers) assert.ok((l.int8?.cosine ?? 0) > 0.99, `${l.name}: ${l.int8?.cosine}`);
    assert.ok(report.layers.every((l) => !l.notes.some((n) => n.startsWith('int8: weights only'))));
    // Class-like output: top-1 agreement is reported.
    assert.ok(report.layers.every((l) => typeof l.int8?.top1Agreement === 'number'));
  });

  void it('the weights-as-inputs session reproduces the original model', () => {
    assert.ok(report.rewriteCheck, 'rewrite check measured');
    assert.ok(report.rewriteCheck.maxAbsError <= 1e-6, `max |error| ${report.rewriteCheck.maxAbsError}`);
  });

  void it('channel pruning is measured for the layers of prunable groups', () => {
    const fc1 = byName(report, 'fc1');
    assert.deepEqual(
      fc1.channels.map((c) => c.level),
      [0.25, 0.5],
    );
    assert.ok(fc1.channels[1].cosine < fc1.channels[0].cosine + 1e-9);
    // fc2 and tiny write the same channels through the residual Add: one coupled group.
    assert.deepEqual(byName(report, 'fc2').channels, byName(report, 'tiny').channels);
    assert.equal(byName(report, 'fc3').channels.length, 0);
    assert.ok(byName(report, 'fc3').notes.some((n) => n.includes('not prunable')));
  });

  void it('a second run with the same options comes from the cache; the floor is re-applied', async () => {
    const again = await analyzeSensitivity(file, { ...options(), floor: 0.999, workers: 1 });
    assert.equal(again.cached, true);
    assert.deepEqual(again.layers, report.layers);
    assert.equal(again.recommendation.floor, 0.999);
    assert.ok(again.wallMs < report.wallMs);
    const other = await analyzeSensitivity(file, { ...options(), kinds: ['int8'] });
    assert.equal(other.cached, false, 'other options, other entry');
  });

  void it('recommends per-layer sparsity and precision within the floor', () => {
    const rec = report.recommendation;
    assert.equal(rec.floor, 0.99);
    assert.equal(rec.layers.length, 4);
    assert.ok(rec.predictedCosine >= 0.99, `predicted ${rec.predictedCosine}`);
    const tiny = rec.layers.find((l) => l.name === 'tiny');
    assert.equal(tiny?.sparsity, 0.9);
    assert.equal(tiny?.precision, 'int8');
  });
});

void describe('sensitivity: other methods and model forms', () => {
  void it('the proxy scores each layer on its own output', async () => {
    const file = write('residual-proxy.onnx', residualModel());
    const r = await analyzeSensitivity(file, { shapes: { x: [8, 32] }, levels: [0, 0.5, 0.9], proxyOnly: true, workers: 1, threads: 1, cacheDir: false });
    assert.equal(r.method, 'proxy');
    for (const l of r.layers) {
      assert.equal(l.prune[0].cosine, 1);
      assert.ok(l.prune[1].cosine > l.prune[2].cosine, `${l.name}`);
      assert.ok((l.int8?.cosine ?? 0) > 0.99);
      assert.equal(l.channels.length, 0);
    }
    assert.ok(r.warnings.some((w) => w.includes('channel pruning is not measured by the proxy')));
  });

  void it('analyses weights in subgraphs and Constant nodes', async () => {
    const ifFile = write('if.onnx', ifModel());
    const r = await analyzeSensitivity(ifFile, { shapes: { x: [2, 32] }, kinds: ['int8', 'prune'], levels: [0, 0.5], workers: 1, threads: 1, cacheDir: false });
    assert.ok(r.layers.length >= 2 && r.layers.some((l) => l.name.includes('/')), `layers ${r.layers.map((l) => l.name).join(', ')}`);
    for (const l of r.layers) assert.equal(l.prune[0].cosine, 1, l.name);
    const nested = r.layers.find((l) => l.name.includes('/'));
    assert.ok(nested?.notes.some((n) => n.startsWith('int8: weights only')));
    const constFile = write('constants.onnx', constants());
    const c = await analyzeSensitivity(constFile, { shapes: { x: [2, 64] }, kinds: ['prune'], levels: [0.5], workers: 1, threads: 1, cacheDir: false });
    assert.equal(c.layers.length, 3);
    assert.ok(c.layers.every((l) => l.prune[0].cosine < 1));
  });
});

void describe('sensitivity: the weights-as-inputs rewrite', () => {
  async function check(m: ModelProto, shapes: Record<string, number[]>): Promise<void> {
    const inputs = seededInputs(shapes, 3);
    const reference = await runModel(encodeModel(m), inputs);
    const copy = loadModel(write('copy.onnx', m)).model;
    const rewritten = rewriteForVariants(copy);
    const feeds: Record<string, FloatInput> = { ...inputs };
    rewritten.weightInputs.forEach((name, i) => (feeds[name] = { data: new Float32Array(layerWeight(rewritten.layers[i])), dims: rewritten.layers[i].dims }));
    assert.equal(rewritten.model.graph?.initializer.some((t) => rewritten.layers.some((l) => l.weight.tensor === t)), false, 'analysed weights are inputs now');
    const outputs = await runModel(encodeModel(rewritten.model), feeds);
    for (const [name, bytes] of Object.entries(reference)) {
      const [a, b] = [new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), new Float32Array(outputs[name].buffer, outputs[name].byteOffset, outputs[name].length / 4)];
      const scale = Math.max(1, ...a.map(Math.abs));
      const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      // ORT folds BatchNormalization into a constant conv weight only in the original: rounding differs.
      assert.ok(worst <= 1e-6 * scale, `${name}: max |error| ${worst} (scale ${scale})`);
    }
  }

  void it('reproduces the original outputs (Gemm, Conv+BN, Constant weights, If subgraph)', async () => {
    await check(residualModel(), { x: [8, 32] });
    await check(cnn(), { x: [2, 3, 32, 32] });
    await check(constants(), { x: [2, 64] });
    await check(ifModel(), { x: [2, 32] });
  });
});

void describe('sensitivity: cancellation and bad input', () => {
  void it('cancelling mid-run rejects promptly and leaves no worker running', { timeout: 60_000 }, async () => {
    const file = write('big.onnx', bigModel());
    const controller = new AbortController();
    let abortedAt = 0;
    let exited = 0;
    const run = analyzeSensitivity(file, { kinds: ['prune'], levels: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], samples: 2, workers: 2, threads: 1, cacheDir: false }, {
      signal: controller.signal,
      onWorkerExit: () => exited++,
      onProgress: (p) => {
        if (p.phase !== 'variants' || controller.signal.aborted) return;
        abortedAt = performance.now();
        controller.abort();
      },
    });
    await assert.rejects(run, { name: 'AbortError' });
    const elapsed = performance.now() - abortedAt;
    assert.ok(abortedAt > 0, 'aborted during the variants phase');
    assert.ok(elapsed < 5000, `rejected ${elapsed.toFixed(0)} ms after the abort`);
    assert.equal(exited, 2, 'both workers have exited when the promise rejects');
  });

  void it('an aborted signal rejects before any work', async () => {
    const file = write('residual-aborted.onnx', residualModel());
    await assert.rejects(analyzeSensitivity(file, { cacheDir: false }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  void it('rejects bad options and models with nothing to analyse as UserErrors', async () => {
    const file = write('residual-bad.onnx', residualModel());
    await assert.rejects(analyzeSensitivity(file, { levels: [0.5, 1] }), (err: Error) => err instanceof UserError && /\[0, 1\)/.test(err.message));
    await assert.rejects(analyzeSensitivity(file, { levels: [-0.1] }), UserError);
    await assert.rejects(analyzeSensitivity(file, { kinds: ['int4' as 'int8'] }), (err: Error) => err instanceof UserError && /unknown kind 'int4'/.test(err.message));
    await assert.rejects(analyzeSensitivity(file, { floor: 1.5 }), UserError);
    await assert.rejects(analyzeSensitivity(file, { workers: 0 }), UserError);
    const g = graph({
      name: 'no-weights',
      node: [node('MatMul', ['a', 'b'], ['c'], {}, 'mm'), node('Relu', ['c'], ['y'], {}, 'relu')],
      input: [valueInfo('a', DataType.FLOAT, [2, 3]), valueInfo('b', DataType.FLOAT, [3, 2])],
      output: [valueInfo('y', DataType.FLOAT, [2, 2])],
    });
    const empty = write('no-weights.onnx', model(g));
    await assert.rejects(analyzeSensitivity(empty, { cacheDir: false }), (err: Error) => err instanceof UserError && /nothing to analyse/.test(err.message) && /mm/.test(err.message));
  });
});

void describe('sensitivity: the CLI', () => {
  const MAIN = path.resolve(__dirname, '../../src/cli/main.ts');
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'sensitivity', ...args], { encoding: 'utf8', timeout: 120_000 });

  void it('prints the JSON contract and a readable table', () => {
    const file = write('residual-cli.onnx', residualModel());
    const cacheDir = path.join(dir, 'cli-cache');
    const json = cli(file, '--shape', 'x=8,32', '--kinds', 'int8,prune', '--levels', '0.5,0.9', '--workers', '1', '--cache-dir', cacheDir, '--json');
    assert.equal(json.status, 0, json.stderr);
    const r = JSON.parse(json.stdout) as SensitivityReport;
    assert.deepEqual(Object.keys(r.layers[0]).sort(), ['channels', 'int8', 'name', 'notes', 'opType', 'params', 'prune']);
    assert.deepEqual(Object.keys(r.layers[0].prune[0]).sort(), ['cosine', 'level', 'sqnrDb', 'top1Agreement']);
    assert.ok(r.recommendation && typeof r.wallMs === 'number');
    const text = cli(file, '--shape', 'x=8,32', '--kinds', 'int8,prune', '--levels', '0.5,0.9', '--workers', '1', '--cache-dir', cacheDir);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /cached/);
    assert.match(text.stdout, /layer\s+op\s+params\s+int8\s+p0\.5\s+p0\.9/);
    assert.match(text.stdout, /least sensitive: tiny/);
    assert.match(text.stdout, /recommendation for cosine >= 0\.99/);
  });

  void it('bad values are one-line errors: exit 1 for the analysis, 2 for usage', () => {
    const file = write('residual-cli-bad.onnx', residualModel());
    const range = cli(file, '--levels', '0.5,1.5');
    assert.equal(range.status, 1, range.stderr);
    assert.equal(range.stderr.trim().split('\n').length, 1);
    assert.match(range.stderr, /every level must be in \[0, 1\)/);
    const kind = cli(file, '--kinds', 'int8,fp16');
    assert.equal(kind.status, 1);
    assert.match(kind.stderr, /unknown kind 'fp16'/);
    assert.equal(cli(file, '--levels', 'half').status, 2);
  });
});

void describe('sensitivity: pure pieces', () => {
  void it('magnitude pruning zeroes exactly round(level * n) weights, smallest first', () => {
    const w = Float32Array.of(0.5, -0.1, 0.3, -0.3, 0.2, 0.1, -0.9, 0.3);
    // Ties at the threshold (three 0.3s) go by position: only the first one is zeroed.
    assert.deepEqual(Array.from(magnitudePrune(w, 0.5)), Array.from(Float32Array.of(0.5, 0, 0, -0.3, 0, 0, -0.9, 0.3)));
    assert.deepEqual(magnitudePrune(w, 0), w);
    const big = new Rng(2).normalArray(10_001);
    for (const level of [0.1, 0.5, 0.9]) assert.equal(magnitudePrune(big, level).filter((v) => v === 0).length, Math.round(level * big.length));
    const sorted = big.map(Math.abs).sort();
    for (const k of [0, 17, 5000, 10_000]) assert.equal(kthSmallestMagnitude(big, k), sorted[k]);
  });

  void it('the greedy check steps back the costliest settings until the sum of deficits fits', () => {
    const layer = (name: string, params: number, int8: number, prune: number[]): LayerSensitivity => ({
      name,
      opType: 'Conv',
      params,
      int8: { cosine: int8, sqnrDb: 30 },
      prune: prune.map((cosine, i) => ({ level: [0.25, 0.5][i], cosine, sqnrDb: 20 })),
      channels: [],
      notes: [],
    });
    const layers = [layer('a', 1000, 0.996, [0.997, 0.995]), layer('b', 10, 0.996, [0.999, 0.98]), layer('c', 1000, 0.98, [0.9999, 0.9995])];
    const rec = recommend(layers, 0.99);
    assert.ok(rec.predictedCosine >= 0.99, `${rec.predictedCosine}`);
    const c = rec.layers.find((l) => l.name === 'c');
    assert.equal(c?.precision, 'float32', 'int8 below the floor on its own');
    assert.equal(c?.sparsity, 0.5);
    // Layer b saves the fewest bytes for its deficit, so it is stepped back first.
    assert.equal(rec.backedOff[0]?.name, 'b');
    const loose = recommend(layers, 0.9);
    assert.equal(loose.backedOff.length, 0);
    assert.ok(findLayers(residualModel()).layers.length === 4);
  });
});
