/**
 * Budget diagnostics at the LSP level, against the built server (dist/server.js --stdio) as the
 * extension runs it. Diagnostics are *pushed* (textDocument/publishDiagnostics): measurements finish
 * asynchronously and model files change on disk, and the server publishes whenever a result is in.
 * A test knows a document is fully measured from `onnxLean/status`, which the server sends after
 * publishing and which lists each open budget document's version and pending entries; its `measured`
 * and `cacheHits` counters show whether a reopen measured again (timing-independent).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodeActionRequest,
  CodeLensRequest,
  DiagnosticSeverity,
  DidChangeTextDocumentNotification,
  DidChangeWatchedFilesNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  FileChangeType,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  LogMessageNotification,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type Diagnostic,
  type MarkupContent,
  type ProtocolConnection,
  type Range,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { saveModel } from '../../src/onnx/io';
import { SAMPLES } from '../../src/samples';
import { BudgetStatusNotification, RemeasureRequest, RetargetBudgetRequest, type BudgetStatusParams } from '../../src/shared/protocol';

const ROOT = path.resolve(__dirname, '../..');
const SERVER = path.join(ROOT, 'dist/server.js');
const WAIT_MS = 60_000;

function ensureBuilt(): void {
  const sources = ['src/server', 'src/shared', 'src/budget', 'src/core', 'src/onnx', 'src/runtime', 'src/pipeline', 'src/passes'].flatMap((d) => listTs(path.join(ROOT, d)));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  const bundles = ['dist/server.js', 'dist/ortWorker.js', 'dist/cli.js'].map((f) => path.join(ROOT, f));
  if (bundles.every((b) => fs.existsSync(b) && fs.statSync(b).mtimeMs >= newest)) return;
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

function listTs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

function writeSample(file: string, name: keyof typeof SAMPLES): void {
  saveModel(SAMPLES[name].build(), file);
}

/** A language server process and what it has sent: latest diagnostics per URI, every status. */
class BudgetClient {
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly statuses: BudgetStatusParams[] = [];
  readonly log: string[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly conn: ProtocolConnection,
  ) {
    conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.diagnostics.set(p.uri, p.diagnostics);
      this.wake();
    });
    conn.onNotification(LogMessageNotification.type, (m) => {
      this.log.push(m.message);
      this.wake();
    });
    conn.onNotification(BudgetStatusNotification.type, (s) => {
      this.statuses.push(s);
      this.wake();
    });
  }

  static async start(trusted: boolean, cacheDir: string): Promise<BudgetClient> {
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    const client = new BudgetClient(child, conn);
    const init = await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { trusted, budgetCacheDir: cacheDir } });
    assert.ok(init.capabilities.hoverProvider, 'the server advertises hovers');
    assert.ok(init.capabilities.codeLensProvider, 'the server advertises code lenses');
    await conn.sendNotification(InitializedNotification.type, {});
    return client;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `predicate` holds, re-checked at every notification (no fixed sleeps). */
  waitFor<T>(what: string, predicate: () => T | undefined | false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = predicate();
        if (value === undefined || value === false) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}`));
      }, WAIT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The last status once the document at `version` has nothing pending (sent after its diagnostics). */
  settled(uri: string, version: number, after = 0): Promise<BudgetStatusParams> {
    return this.waitFor(`${uri} v${version} measured`, () => {
      const s = this.statuses.slice(after).reverse().find((x) => x.documents.some((d) => d.uri === uri && d.version === version));
      const doc = s?.documents.find((d) => d.uri === uri);
      return s && doc && doc.pending === 0 ? s : undefined;
    });
  }

  async open(uri: string, text: string, version = 1): Promise<{ diagnostics: Diagnostic[]; status: BudgetStatusParams }> {
    const mark = this.statuses.length;
    await this.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'jsonc', version, text } });
    const status = await this.settled(uri, version, mark);
    return { diagnostics: this.diagnostics.get(uri) ?? [], status };
  }

  async close(uri: string): Promise<void> {
    await this.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
  }

  async stop(): Promise<void> {
    const exited = this.child.exitCode === null ? once(this.child, 'exit') : Promise.resolve();
    await this.conn.sendRequest(ShutdownRequest.type);
    await this.conn.sendNotification(ExitNotification.type);
    await exited;
    this.conn.dispose();
  }
}

/** The range of the first occurrence of `needle` in `text` (single-line text fragments). */
function rangeOfText(text: string, needle: string, from = 0): Range {
  const offset = text.indexOf(needle, from);
  assert.ok(offset >= 0, `${needle} not in the budget`);
  const position = (o: number) => {
    const lines = text.slice(0, o).split('\n');
    return { line: lines.length - 1, character: lines[lines.length - 1].length };
  };
  return { start: position(offset), end: position(offset + needle.length) };
}

function on(diagnostics: Diagnostic[], range: Range): Diagnostic[] {
  return diagnostics.filter((d) => JSON.stringify(d.range) === JSON.stringify(range));
}

void describe('budget diagnostics from the language server', () => {
  let dir: string;
  let cacheDir: string;
  let uri: string;
  let text: string;
  let server: BudgetClient;
  let nearLimit: number;

  before(async () => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-budget-lsp-'));
    cacheDir = path.join(dir, 'cache');
    fs.mkdirSync(path.join(dir, 'models'));
    writeSample(path.join(dir, 'models/slow.onnx'), 'mlp');
    writeSample(path.join(dir, 'models/fine.onnx'), 'attention');
    writeSample(path.join(dir, 'models/near.onnx'), 'cnn');
    writeSample(path.join(dir, 'models/bad.onnx'), 'constants');
    writeSample(path.join(dir, 'models/shaped.onnx'), 'ifModel');
    nearLimit = Math.ceil(fs.statSync(path.join(dir, 'models/near.onnx')).size * 1.05);
    text = [
      '// budgets',
      '{',
      '  "defaults": { "threads": 1, "runs": 5 },',
      '  "models": {',
      '    "models/slow.onnx": { "latency": { "p95": "0.0001ms" }, "shapes": { "x": [1, 64] } },',
      '    "models/fine.onnx": { "latency": { "p95": "60s" }, "size": "10MB" },',
      `    "models/near.onnx": { "size": ${nearLimit} },`,
      '    "models/missing.onnx": { "size": "1MB" },',
      '    "models/bad.onnx": { "latency": { "p95": "15 parsecs" }, "colour": 1 },',
      '    "models/shaped.onnx": { "size": "1MB", "shapes": { "x": [2, 33] } },',
      '  },',
      '}',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'onnx-budget.json'), text);
    uri = pathToFileURL(path.join(dir, 'onnx-budget.json')).toString();
    server = await BudgetClient.start(true, cacheDir);
  });

  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  void it('publishes an Error per exceeded limit, a Warning within 10 %, nothing for a met entry, and errors for bad entries', { timeout: 90_000 }, async () => {
    const { diagnostics, status } = await server.open(uri, text);
    assert.equal(status.state, 'idle');

    const slow = on(diagnostics, rangeOfText(text, '"models/slow.onnx"'));
    assert.equal(slow.length, 1, JSON.stringify(diagnostics));
    assert.equal(slow[0].severity, DiagnosticSeverity.Error);
    assert.equal(slow[0].source, 'onnx-lean');
    assert.equal(slow[0].code, 'budget-p95');
    assert.match(slow[0].message, /^p95 [\d.]+ ms exceeds the 0\.0001 ms budget by \d+ % \(5 runs, 1 thread\)$/);
    const related = slow[0].relatedInformation ?? [];
    assert.equal(related.length, 3, 'the three slowest layers');
    assert.match(related[0].message, /^slowest layer 1: \S+ \((Gemm|MatMul|Add|Relu|Softmax)\) [\d.]+ ms per run, [\d.]+ % of kernel time$/);
    assert.equal(related[0].location.uri, pathToFileURL(path.join(dir, 'models/slow.onnx')).toString());

    assert.deepEqual(on(diagnostics, rangeOfText(text, '"models/fine.onnx"')), [], 'a met budget has no diagnostic');

    const near = on(diagnostics, rangeOfText(text, '"models/near.onnx"'));
    assert.equal(near.length, 1);
    assert.equal(near[0].severity, DiagnosticSeverity.Warning);
    assert.match(near[0].message, /^size [\d.]+ KB is within 10 % of the [\d.]+ KB budget \([\d.]+ % headroom\)$/);

    const missing = on(diagnostics, rangeOfText(text, '"models/missing.onnx"'));
    assert.equal(missing.length, 1);
    assert.equal(missing[0].severity, DiagnosticSeverity.Error);
    assert.equal(missing[0].code, 'budget-missing-model');
    assert.match(missing[0].message, /^model not found: models\/missing\.onnx/);

    const unit = on(diagnostics, rangeOfText(text, '"15 parsecs"'));
    assert.equal(unit.length, 1);
    assert.equal(unit[0].severity, DiagnosticSeverity.Error);
    assert.match(unit[0].message, /^p95: "15 parsecs" is not a duration/);
    const unknown = on(diagnostics, rangeOfText(text, '"colour"'));
    assert.equal(unknown.length, 1);
    assert.match(unknown[0].message, /^unknown key "colour"/);

    const shapes = on(diagnostics, rangeOfText(text, '"shapes"', text.indexOf('"models/shaped.onnx"')));
    assert.equal(shapes.length, 1, JSON.stringify(diagnostics));
    assert.equal(shapes[0].severity, DiagnosticSeverity.Error);
    assert.match(shapes[0].message, /^shapes: \[2, 33\] does not fit input "x": the model fixes dimension 1 to 32/);

    assert.equal(diagnostics.length, 6, diagnostics.map((d) => d.message).join('\n'));
  });

  void it('hovers with numbers against limits and the slowest layers; lenses and the quick fix', async () => {
    const hover = await server.conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: rangeOfText(text, 'slow.onnx').start });
    const markdown = (hover?.contents as MarkupContent).value;
    assert.match(markdown, /\| p95 \| [\d.]+ ms \| 0\.0001 ms \| ✗ \d+ % over \|/);
    assert.match(markdown, /\*\*Slowest layers\*\* \(5 runs, 1 threads, cpu\):/);
    assert.match(markdown, /^1\. `[^`]+` \w+: [\d.]+ ms per run/m);

    const lenses = (await server.conn.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) ?? [];
    const fineLine = rangeOfText(text, '"models/fine.onnx"').start.line;
    const fine = lenses.filter((l) => l.range.start.line === fineLine).map((l) => l.command?.title);
    assert.match(fine[0] ?? '', /^p95 [\d.]+ ms \/ 60 s ✓ · [\d.]+ KB \/ 10 MB ✓$/);
    assert.equal(fine[1], 'Re-measure');
    const slowLine = rangeOfText(text, '"models/slow.onnx"').start.line;
    const slowLenses = lenses.filter((l) => l.range.start.line === slowLine);
    assert.deepEqual(slowLenses.map((l) => l.command?.title).slice(1), ['Re-measure', 'Optimize to meet budget']);
    assert.deepEqual(slowLenses[2].command?.arguments, [uri, 'models/slow.onnx']);

    const diagnostic = on(server.diagnostics.get(uri) ?? [], rangeOfText(text, '"models/slow.onnx"'));
    const actions = await server.conn.sendRequest(CodeActionRequest.type, { textDocument: { uri }, range: diagnostic[0].range, context: { diagnostics: diagnostic } });
    const fix = (actions ?? []).find((a) => 'title' in a && a.title === 'Optimize to meet budget');
    assert.ok(fix && 'kind' in fix, JSON.stringify(actions));
    assert.equal(fix.kind, 'quickfix');
    assert.deepEqual(fix.command?.command, 'onnxLean.budget.optimize');
    assert.deepEqual(fix.command?.arguments, [uri, 'models/slow.onnx']);
  });

  void it('a reopened budget is judged from the cache: nothing is measured again', { timeout: 60_000 }, async () => {
    const before = server.statuses[server.statuses.length - 1];
    const first = server.diagnostics.get(uri) ?? [];
    await server.close(uri);
    const { diagnostics, status } = await server.open(uri, text, 2);
    assert.equal(status.measured, before.measured, 'no new measurement');
    assert.ok(status.cacheHits >= before.cacheHits + 2, `cache hits ${before.cacheHits} -> ${status.cacheHits}`);
    assert.deepEqual(diagnostics.map((d) => d.message).sort(), first.map((d) => d.message).sort());
  });

  void it('a restarted server gets its numbers from the disk cache', { timeout: 60_000 }, async () => {
    const second = await BudgetClient.start(true, cacheDir);
    try {
      const { diagnostics, status } = await second.open(uri, text);
      assert.equal(status.measured, 0, 'nothing measured by the new process');
      assert.ok(status.cacheHits >= 2);
      assert.equal(on(diagnostics, rangeOfText(text, '"models/slow.onnx"'))[0]?.severity, DiagnosticSeverity.Error);
    } finally {
      await second.stop();
    }
  });

  void it('editing a limit re-judges at once; Re-measure measures again', { timeout: 60_000 }, async () => {
    const measuredBefore = server.statuses[server.statuses.length - 1].measured;
    const edited = text.replace('"0.0001ms"', '"60s"');
    const mark = server.statuses.length;
    await server.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 3 }, contentChanges: [{ text: edited }] });
    const status = await server.settled(uri, 3, mark);
    assert.equal(status.measured, measuredBefore, 'a new limit needs no new measurement');
    assert.deepEqual(on(server.diagnostics.get(uri) ?? [], rangeOfText(edited, '"models/slow.onnx"')), []);

    const mark2 = server.statuses.length;
    const { scheduled } = await server.conn.sendRequest(RemeasureRequest.type, { uri, key: 'models/slow.onnx' });
    assert.equal(scheduled, 1);
    const after = await server.waitFor('the re-measurement', () => server.statuses.slice(mark2).find((s) => s.measured > measuredBefore && s.documents.every((d) => d.pending === 0)));
    assert.equal(after.measured, measuredBefore + 1);
    text = edited;
  });

  void it('follows model files changing on disk (workspace/didChangeWatchedFiles)', { timeout: 60_000 }, async () => {
    const model = path.join(dir, 'models/near.onnx');
    writeSample(model, 'mlp');
    await server.conn.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri: pathToFileURL(model).toString(), type: FileChangeType.Changed }] });
    const range = rangeOfText(text, '"models/near.onnx"');
    const [d] = await server.waitFor('the bigger model to exceed its size budget', () => {
      const found = on(server.diagnostics.get(uri) ?? [], range);
      return found[0]?.severity === DiagnosticSeverity.Error ? found : undefined;
    });
    assert.match(d.message, /^size 105 KB exceeds the [\d.]+ KB budget by \d+ %$/);
  });

  void it('retargets an entry at another model with one WorkspaceEdit', async () => {
    const edit = await server.conn.sendRequest(RetargetBudgetRequest.type, { uri, key: 'models/fine.onnx', model: path.join(dir, 'models/fine.budget.onnx') });
    const edits = edit.changes?.[uri] as TextEdit[];
    assert.deepEqual(edits[0], { range: rangeOfText(text, '"models/fine.onnx"'), newText: '"models/fine.budget.onnx"' });
    assert.equal(edits[1].newText, ' "reference": "models/fine.onnx",');
    const brace = rangeOfText(text, '{ "latency": { "p95": "60s" }, "size": "10MB" }').start;
    assert.deepEqual(edits[1].range, { start: { ...brace, character: brace.character + 1 }, end: { ...brace, character: brace.character + 1 } }, 'inserted right after the entry\'s brace');
  });

  void it('cancels a measurement that an edit made stale, and measures what the new text asks', { timeout: 60_000 }, async () => {
    const sub = path.join(dir, 'stale');
    fs.mkdirSync(sub);
    const staleUri = pathToFileURL(path.join(sub, 'onnx-budget.json')).toString();
    const endless = '{ "models": { "../models/slow.onnx": { "latency": { "p95": "60s" }, "shapes": { "x": [1, 64] }, "threads": 1, "runs": 100000000 } } }';
    const mark = server.statuses.length;
    await server.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri: staleUri, languageId: 'jsonc', version: 1, text: endless } });
    await server.waitFor('the endless run to be under way', () => server.statuses.slice(mark).find((s) => /^measuring slow\.onnx: run \d+\/100000000$/.test(s.message)));
    const edited = endless.replace('100000000', '5');
    const mark2 = server.statuses.length;
    await server.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri: staleUri, version: 2 }, contentChanges: [{ text: edited }] });
    await server.settled(staleUri, 2, mark2);
    assert.ok(server.log.some((l) => l === 'budget: cancelled the stale measurement of slow.onnx'), server.log.join('\n'));
    const hover = await server.conn.sendRequest(HoverRequest.type, { textDocument: { uri: staleUri }, position: rangeOfText(edited, 'slow.onnx').start });
    assert.match((hover?.contents as MarkupContent).value, /\| p95 \| [\d.]+ ms \| 60 s \| ✓/);
    assert.match((hover?.contents as MarkupContent).value, /\(5 runs, 1 threads, cpu\)/);
    await server.close(staleUri);
  });

  void it('in an untrusted workspace only the size is checked; the rest says why', { timeout: 60_000 }, async () => {
    const untrusted = await BudgetClient.start(false, path.join(dir, 'cache-untrusted'));
    try {
      const { diagnostics, status } = await untrusted.open(uri, text);
      assert.equal(status.measured, 0);
      const fine = on(diagnostics, rangeOfText(text, '"models/fine.onnx"'));
      assert.equal(fine.length, 1);
      assert.equal(fine[0].severity, DiagnosticSeverity.Information);
      assert.equal(fine[0].message, 'p95 not measured: measuring runs the model, which needs a trusted workspace');
      assert.equal(on(diagnostics, rangeOfText(text, '"models/near.onnx"'))[0]?.severity, DiagnosticSeverity.Error, 'size needs no execution');
    } finally {
      await untrusted.stop();
    }
  });
});
