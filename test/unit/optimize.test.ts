/**
 * `onnx-lean optimize` and `compare` through the built CLI: presets and passes produce verified models
 * beside the input, reports carry fusions and fidelity, and bad requests leave nothing behind.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CompareReport, OptimizeReport } from '../../src/core/reports';
import { graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { saveModel } from '../../src/onnx/io';

const CLI = path.resolve(__dirname, '../../dist/cli.js');

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok<T>(...args: string[]): T {
  const r = cli(...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

function filesIn(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Relu only: nothing a quantization preset could change. */
function nothingToQuantize(file: string): void {
  const g = graph({ name: 'relu', input: [valueInfo('x', DataType.FLOAT, [1, 4])], output: [valueInfo('y', DataType.FLOAT, [1, 4])] });
  g.node.push(node('Relu', ['x'], ['y']));
  saveModel(model(g), file);
}

describe('optimize and compare', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-opt-'));
    assert.equal(cli('sample', dir).code, 0);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('preset int8 on an MLP: dynamic quantization that ORT fuses, beside the input', () => {
    const input = path.join(dir, 'mlp.onnx');
    const original = fs.readFileSync(input);
    const r = ok<OptimizeReport>('optimize', input, '--preset', 'int8', '--shape', 'x=4,64', '--runs', '5', '--samples', '4');
    assert.equal(r.output, path.join(dir, 'mlp.int8.onnx'));
    assert.ok(fs.existsSync(r.output));
    assert.ok(fs.readFileSync(input).equals(original), 'the input must not change');
    assert.deepEqual(r.passes.map((p) => p.pass), ['cleanup', 'int8-dynamic']);
    assert.ok((r.fusions.fused.DynamicQuantizeMatMul ?? 0) >= 3, JSON.stringify(r.fusions));
    assert.equal(r.fusions.unfused.MatMulInteger ?? 0, 0);
    assert.ok(r.sizeBytes.ratio < 0.35, `size ratio ${r.sizeBytes.ratio}`);
    assert.ok(r.fidelity[0].cosineMean > 0.99, `cosine ${r.fidelity[0].cosineMean}`);
    assert.ok(r.latencyMs && r.latencyMs.before.p50 > 0);
  });

  it('refuses to overwrite an existing output without --force', () => {
    const input = path.join(dir, 'mlp.onnx');
    const existing = path.join(dir, 'taken.onnx');
    fs.writeFileSync(existing, 'keep me');
    const r = cli('optimize', input, '--preset', 'fp16', '-o', existing);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists.*--force/);
    assert.equal(fs.readFileSync(existing, 'utf8'), 'keep me');
  });

  it('passes run in the order given, with options', () => {
    const input = path.join(dir, 'cnn.onnx');
    const r = ok<OptimizeReport>('optimize', input, '--pass', 'cleanup:fold_bn=true', '--pass', 'fp16', '-o', path.join(dir, 'cnn.custom.onnx'), '--shape', 'x=1,3,32,32', '--runs', '3', '--samples', '2');
    assert.deepEqual(r.passes.map((p) => p.pass), ['cleanup', 'fp16']);
    assert.ok(r.sizeBytes.ratio < 0.6);
    assert.ok((r.fidelity[0].sqnrDb ?? Infinity) > 40, `SQNR ${r.fidelity[0].sqnrDb}`);
  });

  it('a preset with nothing to quantize is a clear error and leaves nothing behind', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'empty-'));
    const input = path.join(sub, 'relu.onnx');
    nothingToQuantize(input);
    const before = filesIn(sub);
    const r = cli('optimize', input, '--preset', 'int8');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nothing to quantize|no Conv, MatMul or Gemm/);
    assert.deepEqual(filesIn(sub), before);
  });

  it('bad pass names and options are errors naming them, before any work', () => {
    const input = path.join(dir, 'mlp.onnx');
    const before = filesIn(dir);
    const unknownPass = cli('optimize', input, '--pass', 'quantize-everything');
    assert.equal(unknownPass.code, 1);
    assert.match(unknownPass.stderr, /unknown pass 'quantize-everything'/);
    const badKey = cli('optimize', input, '--pass', 'int4-weights:blok=32');
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /blok/);
    assert.deepEqual(filesIn(dir), before);
  });

  it('an output folder that cannot be written is a clear error', () => {
    const r = cli('optimize', path.join(dir, 'mlp.onnx'), '--preset', 'fp16', '-o', path.join(dir, 'no-such-folder', 'out.onnx'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not exist/);
  });

  it('compare reports fidelity, latency ratio and size ratio', () => {
    const input = path.join(dir, 'mlp.onnx');
    const fp16 = path.join(dir, 'mlp.fp16.onnx');
    ok('optimize', input, '--preset', 'fp16', '--shape', 'x=2,64', '--no-compare');
    const r = ok<CompareReport>('compare', input, fp16, '--shape', 'x=2,64', '--samples', '3', '--runs', '5');
    assert.equal(r.samples, 3);
    assert.equal(r.outputs.length, 1);
    assert.ok(r.outputs[0].cosineMean > 0.999);
    assert.ok(r.sizeBytes.ratio < 0.6 && r.sizeBytes.ratio > 0.4, `size ratio ${r.sizeBytes.ratio}`);
    assert.ok(r.latencyMs.ratioP50 > 0);
    const self = ok<CompareReport>('compare', input, input, '--shape', 'x=2,64', '--samples', '2', '--runs', '2');
    assert.equal(self.outputs[0].sqnrDb, null, 'identical outputs have infinite SQNR, null in JSON');
    assert.equal(self.outputs[0].maxAbsError, 0);
  });
});
