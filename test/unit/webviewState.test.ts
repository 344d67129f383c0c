/**
 * The Layer Report's pure state logic (webview/state and the message guards), without a DOM: rows,
 * sorting and filtering, selection and cursor, pruning-preview arithmetic, the request client with its
 * timeouts, the persisted view state, and validation of messages in both directions.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InspectReport, LayerInfo, ProfileReport } from '../../src/core/reports';
import { parseToExtension, parseToWebview } from '../../src/shared/webviewGuards';
import { TIMEOUT_MS, WEBVIEW_GRACE_MS, type ToExtension } from '../../src/shared/webviewProtocol';
import { bytes, compact, micros, percent } from '../../webview/state/format';
import { estimateSelection, exactSelection, previewKey, thresholdFromHistogram } from '../../webview/state/prune';
import { buildRows, matchesFilter, nextSort, visibleRows, type Row } from '../../webview/state/rows';
import { RequestClient, RequestFailed, type Timers } from '../../webview/state/rpc';
import { addRange, headerCheckState, keepExisting, moveActive, toggle, toggleAll } from '../../webview/state/selection';
import { parseShape, resolveShapes, sameShapes, suggestShape, symbolicInputs } from '../../webview/state/shapes';
import { initialState, Store } from '../../webview/state/store';
import { DEFAULT_UI, restoreUi } from '../../webview/state/uiState';

function layer(name: string, opType: string, params: number, extra: Partial<LayerInfo> = {}): LayerInfo {
  const bytesOf: Record<string, number> = params > 0 ? { float32: params * 4 } : {};
  return { name, opType, domain: '', params, paramBytes: bytesOf, sparsity: 0, macs: null, outputShapes: [], weightDtypes: params > 0 ? ['float32'] : [], ...extra };
}

function report(layers: LayerInfo[]): InspectReport {
  const paramCount = layers.reduce((s, l) => s + l.params, 0);
  return {
    path: '/m.onnx', sizeBytes: 1000, externalDataBytes: 0, irVersion: 8, producer: '', opsets: [{ domain: '', version: 17 }], inputs: [], outputs: [],
    nodeCount: layers.length, paramCount, paramBytes: { float32: paramCount * 4 }, sparsity: 0, macs: 0, macsUnknown: 0, opCounts: {}, subgraphs: 0, layers, resolvedShapes: {}, warnings: [],
  };
}

function profile(nodes: [string, string, number, number][]): ProfileReport {
  return {
    path: '/m.onnx', sessionCreateMs: 1, latencyMs: { mean: 1, p50: 1, p95: 1, p99: 1, min: 1, max: 1, stdev: 0 }, throughput: 1, runs: 10, warmup: 1, threads: 2,
    graphOptimizationLevel: 'all', executionProvider: 'cpu', peakRssBytes: 0, inputs: [], profiledRuns: 5, warnings: [],
    nodes: nodes.map(([name, opType, meanUs, share]) => ({ name, opType, meanUs, share, ortNames: [name], inserted: false })),
  };
}

const LAYERS = [
  layer('conv2', 'Conv', 500, { sparsity: 0.2, macs: 9000 }),
  layer('relu', 'Relu', 0),
  layer('conv10', 'Conv', 100, { macs: 4000 }),
  layer('fc', 'Gemm', 300, { macs: 300 }),
  layer('ints', 'Gather', 50, { weightDtypes: ['int64'] }),
];
const ROWS = buildRows(report(LAYERS), profile([['conv2', 'Conv', 40, 0.4], ['fc', 'Gemm', 60, 0.6], ['ort_inserted', 'Reorder', 5, 0.05]]), {
  layers: [{ name: 'fc', int8: { cosine: 0.99, sqnrDb: 18 } }, { name: 'conv2', int8: { cosine: 0.999, sqnrDb: 30 } }],
});
const names = (rows: readonly Row[]) => rows.map((r) => r.name);
const byName = (name: string) => ROWS.find((r) => r.name === name) as Row;

void describe('layer table rows', () => {
  void it('joins profile times and sensitivity to layers by name', () => {
    assert.deepEqual([byName('fc').timeUs, byName('fc').share, byName('fc').sensitivity], [60, 0.6, 18]);
    assert.deepEqual([byName('relu').timeUs, byName('relu').sensitivity], [null, null]);
    assert.equal(ROWS.length, 5, 'nodes ORT inserted are not layers');
    assert.deepEqual(ROWS.map((r) => r.prunable), [true, false, true, true, false], 'only layers with floating-point weights are prunable');
  });

  void it('filters on name or op, every term, ignoring case', () => {
    assert.deepEqual(names(visibleRows(ROWS, 'CONV', null)), ['conv2', 'conv10']);
    assert.deepEqual(names(visibleRows(ROWS, 'conv 10', null)), ['conv10']);
    assert.deepEqual(names(visibleRows(ROWS, 'gemm', null)), ['fc']);
    assert.ok(matchesFilter(byName('relu'), '   '));
    assert.deepEqual(names(visibleRows(ROWS, 'nothing', null)), []);
  });

  void it('sorts numbers and names, keeps unknown values last both ways, ties in model order', () => {
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'params', dir: 'desc' })), ['conv2', 'fc', 'conv10', 'ints', 'relu']);
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'macs', dir: 'asc' })), ['fc', 'conv10', 'conv2', 'relu', 'ints']);
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'macs', dir: 'desc' })), ['conv2', 'conv10', 'fc', 'relu', 'ints']);
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'name', dir: 'asc' })), ['conv2', 'conv10', 'fc', 'ints', 'relu'], 'numeric-aware names');
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'sensitivity', dir: 'asc' })), ['fc', 'conv2', 'relu', 'conv10', 'ints']);
    assert.deepEqual(names(visibleRows(ROWS, '', { key: 'dtype', dir: 'asc' })), ['conv2', 'conv10', 'fc', 'ints', 'relu'], 'no dtype sorts last');
  });

  void it('does not reorder its input and sorts 5000 rows quickly', () => {
    const many = buildRows(report(Array.from({ length: 5000 }, (_, i) => layer(`block${i}/matmul`, 'MatMul', (i * 7919) % 5000))));
    const before = names(many);
    const started = performance.now();
    const sorted = visibleRows(many, 'matmul', { key: 'params', dir: 'desc' });
    assert.ok(performance.now() - started < 200, 'sorting 5000 rows');
    assert.deepEqual(names(many), before);
    assert.equal(sorted[0].params, 4999);
  });

  void it('a header click sorts in the column’s natural direction, a second click flips it', () => {
    assert.deepEqual(nextSort(null, 'params'), { key: 'params', dir: 'desc' });
    assert.deepEqual(nextSort(null, 'name'), { key: 'name', dir: 'asc' });
    assert.deepEqual(nextSort(null, 'sensitivity'), { key: 'sensitivity', dir: 'asc' }, 'most sensitive (lowest SQNR) first');
    assert.deepEqual(nextSort({ key: 'params', dir: 'desc' }, 'params'), { key: 'params', dir: 'asc' });
    assert.deepEqual(nextSort({ key: 'params', dir: 'desc' }, 'opType'), { key: 'opType', dir: 'asc' });
  });
});

void describe('selection and cursor', () => {
  void it('toggles prunable layers only', () => {
    assert.deepEqual(toggle([], byName('fc')), ['fc']);
    assert.deepEqual(toggle(['fc'], byName('fc')), []);
    assert.deepEqual(toggle([], byName('relu')), [], 'no weights: not selectable');
  });

  void it('extends a range in display order, skipping layers without weights', () => {
    assert.deepEqual(addRange([], ROWS, 'conv2', 'fc').sort(), ['conv10', 'conv2', 'fc']);
    assert.deepEqual(addRange(['ints'], ROWS, 'fc', 'conv2').sort(), ['conv10', 'conv2', 'fc', 'ints']);
    assert.deepEqual(addRange([], ROWS, null, 'conv10'), ['conv10']);
  });

  void it('selects every prunable layer shown, then none; reports the header state', () => {
    const shown = visibleRows(ROWS, 'conv', null);
    assert.deepEqual(toggleAll(['fc'], shown).sort(), ['conv10', 'conv2', 'fc']);
    assert.deepEqual(toggleAll(['conv2', 'conv10', 'fc'], shown), ['fc']);
    assert.equal(headerCheckState(['conv2'], shown), 'some');
    assert.equal(headerCheckState(['conv2', 'conv10'], shown), 'all');
    assert.equal(headerCheckState(['fc'], shown), 'none');
  });

  void it('drops selected layers that no longer exist or cannot be pruned', () => {
    assert.deepEqual(keepExisting(['fc', 'gone', 'relu'], ROWS), ['fc']);
  });

  void it('moves the cursor within bounds', () => {
    assert.equal(moveActive(ROWS, null, 1), 'conv2');
    assert.equal(moveActive(ROWS, 'conv2', 2), 'conv10');
    assert.equal(moveActive(ROWS, 'conv2', -5), 'conv2');
    assert.equal(moveActive(ROWS, 'relu', 100), 'ints');
    assert.equal(moveActive(ROWS, 'fc', 'first'), 'conv2');
    assert.equal(moveActive(ROWS, 'fc', 'last'), 'ints');
    assert.equal(moveActive(ROWS, 'filtered-away', 1), 'conv2');
    assert.equal(moveActive([], 'fc', 1), null);
  });
});

void describe('pruning preview arithmetic', () => {
  const uniform = { counts: [10, 10, 10, 10], absMax: 4, count: 40 };

  void it('finds the threshold from cumulative counts, interpolating within the bin', () => {
    assert.equal(thresholdFromHistogram(uniform, 0), 0);
    assert.equal(thresholdFromHistogram(uniform, 0.5), 2);
    assert.equal(thresholdFromHistogram(uniform, 0.625), 2.5);
    assert.equal(thresholdFromHistogram(uniform, 1), 4);
    assert.equal(thresholdFromHistogram({ counts: [30, 0, 0, 10], absMax: 8, count: 40 }, 0.8), 6.4, 'empty bins are skipped');
    assert.equal(thresholdFromHistogram({ counts: [], absMax: 0, count: 0 }, 0.5), 0);
  });

  void it('agrees with the exact k-th magnitude on evenly spread weights', () => {
    const magnitudes = Array.from({ length: 1000 }, (_, i) => (i + 1) / 1000);
    const counts = new Array<number>(100).fill(0);
    for (const m of magnitudes) counts[Math.min(99, Math.floor(m * 100))]++;
    const approx = thresholdFromHistogram({ counts, absMax: 1, count: 1000 }, 0.3);
    assert.ok(Math.abs(approx - magnitudes[299]) <= 0.01, `${approx} vs ${magnitudes[299]}`);
  });

  void it('estimates a selection: layers already sparser than the target keep their zeros', () => {
    const conv2 = LAYERS[0];
    const fc = LAYERS[3];
    const e = estimateSelection([conv2, fc], 0.1, { paramCount: 950, sparsity: 100 / 950 });
    assert.equal(e.params, 800);
    assert.equal(e.sparsityNow, 100 / 800);
    assert.equal(e.sparsityAfter, (100 + 30) / 800, 'conv2 stays at 20%, fc goes to 10%');
    assert.equal(e.kept, 670);
    assert.equal(e.bytes, 3200);
    assert.ok(Math.abs(e.modelSparsityAfter - 130 / 950) < 1e-12);
    assert.equal(e.exact, false);
  });

  void it('takes the server’s exact figures as they are', () => {
    const preview = { sparsity: 0.5, params: 800, kept: 390, sparsityAfter: 410 / 800, bytes: 3200, sparseBytes: 4680, layers: [{ layer: 'fc', threshold: 0.1, params: 300, zeros: 0, kept: 150, sparsity: 0.5, bytes: 1200, sparseBytes: 1800 }, { layer: 'conv2', threshold: 0.2, params: 500, zeros: 100, kept: 240, sparsity: 0.52, bytes: 2000, sparseBytes: 2880 }] };
    const e = exactSelection(preview, { paramCount: 950, sparsity: 100 / 950 });
    assert.deepEqual([e.kept, e.exact, e.layers], [390, true, 2]);
    assert.ok(Math.abs(e.modelSparsityAfter - 410 / 950) < 1e-12);
  });

  void it('keys a preview by sparsity and the set of layers, not their order', () => {
    assert.equal(previewKey(['b', 'a'], 0.5), previewKey(['a', 'b'], 0.5));
    assert.notEqual(previewKey(['a'], 0.5), previewKey(['a'], 0.51));
    assert.notEqual(previewKey(['a', 'b'], 0.5), previewKey(['ab'], 0.5));
  });
});

/** Timers the test fires by hand. */
class ManualTimers implements Timers {
  private next = 1;
  readonly active = new Map<number, { fn: () => void; ms: number }>();
  set(fn: () => void, ms: number): number {
    this.active.set(this.next, { fn, ms });
    return this.next++;
  }
  clear(handle: unknown): void {
    this.active.delete(handle as number);
  }
  fireAll(): void {
    for (const [id, t] of [...this.active]) {
      this.active.delete(id);
      t.fn();
    }
  }
}

void describe('request client', () => {
  const setup = () => {
    const sent: ToExtension[] = [];
    const timers = new ManualTimers();
    return { sent, timers, client: new RequestClient((m) => sent.push(m), timers, 100) };
  };

  void it('posts a numbered request and resolves it with the matching response', async () => {
    const { sent, timers, client } = setup();
    const { requestId, result } = client.request('weightHistogram', { layer: 'fc', bins: 8 });
    assert.deepEqual(sent, [{ type: 'weightHistogram', requestId: 100, layer: 'fc', bins: 8 }]);
    assert.equal(requestId, 100);
    const histogram = { layer: 'fc', opType: 'Gemm', tensors: ['w'], count: 1, counts: [1], min: 1, max: 1, absMax: 1, zeros: 0, nonFinite: 0 };
    assert.equal(client.handleResponse({ type: 'response', requestId: 100, request: 'inspect', ok: false, error: { kind: 'failed', message: 'x' } }), false, 'another kind');
    assert.ok(client.handleResponse({ type: 'response', requestId: 100, request: 'weightHistogram', ok: true, result: histogram }));
    assert.deepEqual(await result, histogram);
    assert.equal(timers.active.size, 0, 'its timer is cleared');
    assert.equal(client.handleResponse({ type: 'response', requestId: 100, request: 'weightHistogram', ok: true, result: histogram }), false, 'answered once');
  });

  void it('rejects with the error kind the extension sent', async () => {
    const { client } = setup();
    const { result } = client.request('analyzeSensitivity', {});
    client.handleResponse({ type: 'response', requestId: 100, request: 'analyzeSensitivity', ok: false, error: { kind: 'unavailable', message: 'not available yet' } });
    await assert.rejects(result, (err: unknown) => err instanceof RequestFailed && err.kind === 'unavailable' && err.message === 'not available yet');
  });

  void it('times out (the extension’s limit plus a grace), then asks the extension to cancel', async () => {
    const { sent, timers, client } = setup();
    const { result } = client.request('inspect', {});
    assert.equal([...timers.active.values()][0].ms, TIMEOUT_MS.inspect + WEBVIEW_GRACE_MS);
    timers.fireAll();
    await assert.rejects(result, (err: unknown) => err instanceof RequestFailed && err.kind === 'timeout');
    assert.deepEqual(sent.at(-1), { type: 'cancel', requestId: 100 });
  });

  void it('restarts a request’s timeout on progress and passes the progress on', () => {
    const { timers, client } = setup();
    const seen: string[] = [];
    void client.request('profile', {}, (p) => seen.push(p.message)).result.catch(() => undefined);
    const [firstTimer] = [...timers.active.keys()];
    client.handleProgress({ type: 'progress', requestId: 100, message: 'run 3/50', percentage: 6 });
    assert.deepEqual(seen, ['run 3/50']);
    assert.ok(!timers.active.has(firstTimer) && timers.active.size === 1, 'a fresh timer replaces the old one');
  });

  void it('adopts a job an earlier webview started and numbers new requests after it', async () => {
    const { sent, client } = setup();
    const adopted = client.adopt('profile', 500);
    client.request('inspect', {});
    assert.equal((sent[0] as { requestId: number }).requestId, 501);
    client.cancel(500);
    assert.deepEqual(sent.at(-1), { type: 'cancel', requestId: 500 });
    client.handleResponse({ type: 'response', requestId: 500, request: 'profile', ok: false, error: { kind: 'cancelled', message: 'profiling cancelled' } });
    await assert.rejects(adopted, (err: unknown) => err instanceof RequestFailed && err.kind === 'cancelled');
  });
});

void describe('message validation', () => {
  void it('accepts the webview’s requests rebuilt with known fields only', () => {
    assert.deepEqual(parseToExtension({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseToExtension({ type: 'weightHistogram', requestId: 3, layer: 'fc', bins: 64, extra: '<script>' }), { type: 'weightHistogram', requestId: 3, layer: 'fc', bins: 64 });
    assert.deepEqual(parseToExtension({ type: 'applyPrune', requestId: 4, layers: ['a', 'b'], sparsity: 0.5 }), { type: 'applyPrune', requestId: 4, layers: ['a', 'b'], sparsity: 0.5 });
    assert.deepEqual(parseToExtension({ type: 'cancel', requestId: 9 }), { type: 'cancel', requestId: 9 });
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
    assert.deepEqual(plain(parseToExtension({ type: 'profile', requestId: 5, shapes: { x: [1, 3, 48, 320] } })), { type: 'profile', requestId: 5, shapes: { x: [1, 3, 48, 320] } });
    const proto = parseToExtension(JSON.parse('{"type":"inspect","requestId":6,"shapes":{"__proto__":[1,2]}}')) as { shapes: Record<string, number[]> };
    assert.deepEqual(proto.shapes.__proto__, [1, 2], 'an input named __proto__ stays a plain key');
  });

  void it('refuses malformed requests', () => {
    const bad: unknown[] = [
      null, 'ready', [], { type: 'nope' }, { type: 'inspect' }, { type: 'inspect', requestId: -1 }, { type: 'inspect', requestId: 1.5 },
      { type: 'weightHistogram', requestId: 1, layer: 'fc', bins: 0 }, { type: 'weightHistogram', requestId: 1, layer: 'fc', bins: 5000 }, { type: 'weightHistogram', requestId: 1, layer: 7, bins: 8 },
      { type: 'prunePreview', requestId: 1, layers: ['a'], sparsity: 1.5 }, { type: 'prunePreview', requestId: 1, layers: 'a', sparsity: 0.5 }, { type: 'applyPrune', requestId: 1, layers: [1], sparsity: 0.5 },
      { type: 'prunePreview', requestId: 1, layers: ['a'], sparsity: Number.NaN },
      { type: 'profile', requestId: 1, shapes: { x: [1, 0] } }, { type: 'profile', requestId: 1, shapes: { x: '1,3' } }, { type: 'inspect', requestId: 1, shapes: [[1]] },
    ];
    for (const message of bad) assert.equal(parseToExtension(message), undefined, JSON.stringify(message));
  });

  void it('accepts the extension’s messages only with the shapes the views rely on', () => {
    const good = [
      { type: 'init', fileName: 'm.onnx', trusted: false, running: [{ requestId: 3, request: 'profile', message: 'run 1/5' }] },
      { type: 'response', requestId: 1, request: 'inspect', ok: true, result: report(LAYERS) },
      { type: 'response', requestId: 1, request: 'profile', ok: false, error: { kind: 'untrusted', message: 'needs trust' } },
      { type: 'progress', requestId: 1, message: 'run 3/50', percentage: 6 },
      { type: 'sensitivity', result: { layers: [{ name: 'fc', int8: { cosine: 0.9, sqnrDb: 12 }, prune: [{ level: 0.5, cosine: 0.8, sqnrDb: 9 }] }] } },
      { type: 'trust', trusted: true },
      { type: 'modelChanged' },
    ];
    for (const message of good) assert.ok(parseToWebview(message), JSON.stringify(message).slice(0, 80));
    const bad = [
      { type: 'response', requestId: 1, request: 'inspect', ok: true, result: { layers: 'many' } },
      { type: 'response', requestId: 1, request: 'inspect', ok: true, result: { ...report([]), layers: [{ name: 3, opType: 'Conv' }] } },
      { type: 'response', requestId: 1, request: 'profile', ok: false, error: { kind: 'weird', message: 'x' } },
      { type: 'response', requestId: 1, request: 'delete', ok: true, result: {} },
      { type: 'sensitivity', result: { layers: [{ name: 'fc', int8: { cosine: 'high' } }] } },
      { type: 'init', fileName: 'm.onnx', trusted: 'yes', running: [] },
      { type: 'toString' },
      { type: 'progress', requestId: 1 },
    ];
    for (const message of bad) assert.equal(parseToWebview(message), undefined, JSON.stringify(message).slice(0, 80));
  });
});

void describe('input shapes for symbolic dimensions', () => {
  const withInputs = (inputs: InspectReport['inputs'], resolved: Record<string, number[]> = {}): InspectReport => ({ ...report([]), inputs, resolvedShapes: resolved });
  const rec = withInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 3, 48, 'width'] }, { name: 'mask', dtype: 'float32', shape: [1, 8] }]);

  void it('lists only inputs with a dimension that is not a number', () => {
    assert.deepEqual(symbolicInputs(rec).map((i) => i.name), ['x']);
    assert.deepEqual(symbolicInputs(withInputs([{ name: 'y', dtype: 'float32', shape: [1, null] }])).map((i) => i.name), ['y']);
  });

  void it('suggests batch 1 and leaves other symbolic dims for the user', () => {
    assert.equal(suggestShape(['batch', 3, 48, 'width']), '1, 3, 48, ?');
    assert.equal(suggestShape(['n', 16]), '1, 16');
  });

  void it('parses typed dims and says what is wrong', () => {
    assert.deepEqual(parseShape(' 1, 3 ,48, 320 ', 4), [1, 3, 48, 320]);
    assert.match(parseShape('1, 3, 48', 4) as string, /needs 4 dimensions, got 3/);
    assert.match(parseShape('1, 3, 48, ?', 4) as string, /dimension 4 \("\?"\) must be a positive integer/);
    assert.match(parseShape('1, 0', 2) as string, /dimension 2/);
    assert.match(parseShape('1, 2.5', 2) as string, /dimension 2/);
  });

  void it('resolves shapes only when every symbolic input is complete', () => {
    assert.deepEqual(resolveShapes(rec, {}), { problems: ['x: dimension 4 ("?") must be a positive integer'] });
    assert.deepEqual(resolveShapes(rec, { x: '1,3,48,320' }), { shapes: { x: [1, 3, 48, 320] }, problems: [] });
    assert.deepEqual(resolveShapes(withInputs([{ name: 'x', dtype: 'float32', shape: ['n', 16] }]), {}), { shapes: { x: [1, 16] }, problems: [] }, 'a symbolic batch alone needs no typing');
    assert.deepEqual(resolveShapes(withInputs([{ name: 'x', dtype: 'float32', shape: [1, 16] }]), {}), { problems: [] }, 'nothing symbolic: nothing to send');
  });

  void it('knows whether a report was inspected with the shapes', () => {
    assert.ok(sameShapes(withInputs([], { x: [1, 3, 48, 320] }), { x: [1, 3, 48, 320] }));
    assert.ok(!sameShapes(withInputs([], { x: [1, 3, 48, 160] }), { x: [1, 3, 48, 320] }));
    assert.ok(!sameShapes(withInputs([]), { x: [1, 16] }));
  });
});

void describe('view state and store', () => {
  void it('restores the persisted view state, replacing what is missing or invalid', () => {
    assert.deepEqual(restoreUi(undefined), DEFAULT_UI);
    assert.deepEqual(restoreUi('junk'), DEFAULT_UI);
    const restored = restoreUi({ sort: { key: 'params', dir: 'desc' }, filter: 'conv', selected: ['a', 3, 'b'], active: 'a', sparsity: 7, topN: 25, scrollTop: 120 });
    assert.deepEqual(restored, { sort: { key: 'params', dir: 'desc' }, filter: 'conv', selected: ['a', 'b'], active: 'a', sparsity: 0.99, topN: 25, scrollTop: 120, histogramLog: false, shapes: {} });
    assert.equal(restoreUi({ sort: { key: 'evil', dir: 'desc' } }).sort, null);
    assert.equal(restoreUi({ topN: 7 }).topN, DEFAULT_UI.topN);
  });

  void it('tells listeners every state in order, even when a listener changes the state', () => {
    const store = new Store(initialState({ ...DEFAULT_UI }));
    const seen: [number, number][] = [];
    store.subscribe((s) => {
      if (s.ui.topN === 10) store.updateUi({ topN: 25 });
    });
    store.subscribe((s, prev) => seen.push([prev.ui.topN, s.ui.topN]));
    store.updateUi({ topN: 10 });
    assert.deepEqual(seen, [[15, 10], [10, 25]]);
    assert.equal(store.state.ui.topN, 25);
  });
});

void describe('formatting', () => {
  void it('formats counts, bytes, shares and times compactly', () => {
    assert.deepEqual([compact(999), compact(1234), compact(5.6e9), compact(null)], ['999', '1.23 K', '5.60 G', '—']);
    assert.deepEqual([bytes(512), bytes(10 * 1024 * 1024)], ['512 B', '10.0 MiB']);
    assert.deepEqual([percent(0.1234), micros(12.34), micros(2500)], ['12.3%', '12.3 µs', '2.50 ms']);
  });
});
