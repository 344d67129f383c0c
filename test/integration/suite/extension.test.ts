/** The extension in a real VS Code: activation and the profile command on a generated model. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProfileReport } from '../../../src/core/reports';
import { Rng } from '../../../src/core/random';
import { floatTensor, graph, model, node, valueInfo } from '../../../src/onnx/build';
import { DataType } from '../../../src/onnx/dtypes';
import { saveModel } from '../../../src/onnx/io';
import { test } from './harness';

const EXTENSION_ID = 'onnx-lean.onnx-lean';

function writeMlp(file: string): void {
  const rng = new Rng(7);
  const weights = (name: string, dims: number[]) => floatTensor(name, dims, rng.normalArray(dims.reduce((a, b) => a * b, 1)));
  const g = graph({
    name: 'mlp',
    input: [valueInfo('x', DataType.FLOAT, [1, 32])],
    output: [valueInfo('y', DataType.FLOAT, [1, 4])],
    initializer: [weights('w1', [32, 64]), weights('b1', [64]), weights('w2', [64, 4]), weights('b2', [4])],
    node: [node('Gemm', ['x', 'w1', 'b1'], ['h'], {}, 'fc1'), node('Relu', ['h'], ['r'], {}, 'relu1'), node('Gemm', ['r', 'w2', 'b2'], ['y'], {}, 'fc2')],
  });
  saveModel(model(g), file);
}

test('the profile command activates the extension and profiles a model', async () => {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not installed`);
  const dir = process.env.ONNX_LEAN_TEST_WORKSPACE ?? fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-it-'));
  const file = path.join(dir, 'mlp.onnx');
  writeMlp(file);
  const report = await vscode.commands.executeCommand<ProfileReport | undefined>('onnxLean.profileModel', vscode.Uri.file(file), { runs: 5, warmup: 1 });
  assert.ok(extension.isActive, 'the command activates the extension');
  assert.ok(report, 'the command returned no report: see the "ONNX Lean" output channel');
  assert.equal(report.runs, 5);
  assert.ok(report.latencyMs.p50 <= report.latencyMs.p95);
  assert.ok(report.nodes.length > 0);
});
