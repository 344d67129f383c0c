/** onnxruntime profile traces -> per-node times under model names, on synthetic traces; latency statistics. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latencyStats, quantile } from '../../src/runtime/stats';
import { mapOrtName, NodeNameIndex, parseTrace, stripOrtDecorations, summarizeTrace, type ModelNodeRef } from '../../src/runtime/trace';

/** A model: Conv -> BatchNormalization -> Relu, Gemm (fused with Relu by ORT), MatMul + Add, numbered Adds. */
const MODEL: ModelNodeRef[] = [
  { name: 'conv1', opType: 'Conv', inputs: ['x', 'w'], outputs: ['conv1_out'] },
  { name: 'bn1', opType: 'BatchNormalization', inputs: ['conv1_out', 's', 'b', 'm', 'v'], outputs: ['bn1_out'] },
  { name: 'relu1', opType: 'Relu', inputs: ['bn1_out'], outputs: ['relu1_out'] },
  { name: 'g0', opType: 'Gemm', inputs: ['relu1_out', 'gw'], outputs: ['g0_out'] },
  { name: 'Relu_4', opType: 'Relu', inputs: ['g0_out'], outputs: ['r'] },
  { name: 'mm', opType: 'MatMul', inputs: ['r', 'mw'], outputs: ['mm_out'] },
  { name: 'add', opType: 'Add', inputs: ['mm_out', 'bias'], outputs: ['y'] },
  { name: 'p2o.Add.2', opType: 'Add', inputs: ['y', 'c'], outputs: ['z2'] },
  { name: 'p2o.Add.20', opType: 'Add', inputs: ['z2', 'c'], outputs: ['z20'] },
];

const index = new NodeNameIndex(MODEL);

interface Kernel {
  name: string;
  op: string;
  dur: number;
}

/** A trace as ORT writes it: session events, model_run windows, kernel and fence events per run. */
function syntheticTrace(runs: Kernel[][]): unknown[] {
  const events: unknown[] = [{ cat: 'Session', name: 'session_initialization', ts: 0, dur: 100, ph: 'X', args: {} }];
  let ts = 1000;
  for (const kernels of runs) {
    const start = ts;
    for (const k of kernels) {
      events.push({ cat: 'Node', name: `${k.name}_fence_before`, ts, dur: 0, ph: 'X', args: { op_name: k.op } });
      events.push({ cat: 'Node', name: `${k.name}_kernel_time`, ts: ts + 1, dur: k.dur, ph: 'X', args: { op_name: k.op, provider: 'CPUExecutionProvider' } });
      ts += k.dur + 5;
    }
    events.push({ cat: 'Session', name: 'model_run', ts: start - 2, dur: ts - start + 4, ph: 'X', args: {} });
    ts += 100;
  }
  return events;
}

void describe('trace parsing', () => {
  void it('keeps kernel events and run windows, ignores fences and other events', () => {
    const parsed = parseTrace(JSON.stringify(syntheticTrace([[{ name: 'conv1', op: 'Conv', dur: 10 }], [{ name: 'conv1', op: 'Conv', dur: 12 }]])));
    assert.deepEqual(
      parsed.kernels.map((k) => [k.name, k.opType, k.durUs]),
      [
        ['conv1', 'Conv', 10],
        ['conv1', 'Conv', 12],
      ],
    );
    assert.equal(parsed.runs.length, 2);
  });

  void it('accepts the {traceEvents: [...]} layout and refuses non-traces', () => {
    assert.equal(parseTrace({ traceEvents: syntheticTrace([[{ name: 'a', op: 'Add', dur: 1 }]]) }).kernels.length, 1);
    assert.throws(() => parseTrace('{"x": 1}'), /not an onnxruntime profile/);
  });
});

void describe('ORT name -> model name', () => {
  const cases: [string, string, string, boolean][] = [
    // ORT name, ORT op, expected name, inserted
    ['conv1', 'Conv', 'conv1', false],
    ['fused g0', 'FusedGemm', 'g0', false],
    ['mm/MatMulAddFusion', 'Gemm', 'mm', false],
    ['bn1_out_nchwc', 'Conv', 'conv1', false], // Conv+BN fused, named after the BN output: walk up to the Conv
    ['relu1_out_nchwc', 'Conv', 'conv1', false], // Conv+BN+Relu
    ['relu1_nchwc', 'Conv', 'conv1', false], // the same chain named after the Relu node itself
    ['relu1', 'FusedConv', 'conv1', false],
    ['bn1_out_nchwc', 'BatchNormalization', 'bn1', false],
    ['conv1_token_3', 'Conv', 'conv1', false],
    ['p2o.Add.2_nchwc', 'Add', 'p2o.Add.2', false],
    ['p2o.Add.20', 'Add', 'p2o.Add.20', false],
    ['Relu_4', 'Relu', 'Relu_4', false],
    ['prefix/add/suffix', 'Add', 'add', false], // containment at a boundary
    ['ReorderInput', 'ReorderInput', 'ReorderInput', true],
    ['ReorderOutput_token_12', 'ReorderOutput', 'ReorderOutput_token_12', true],
    ['address', 'Add', 'address', true], // "add" glued to letters is not a match
  ];
  for (const [ortName, op, expected, inserted] of cases) {
    void it(`${ortName} (${op}) -> ${expected}${inserted ? ' (inserted)' : ''}`, () => {
      const match = mapOrtName(ortName, op, index);
      assert.equal(match.name, expected);
      assert.equal(match.inserted, inserted);
    });
  }

  void it('strips decorations repeatedly', () => {
    assert.equal(stripOrtDecorations('fused conv1_nchwc_token_7'), 'conv1');
    assert.equal(stripOrtDecorations('x_fence_after'), 'x');
  });

  void it('prefers the longest contained name', () => {
    assert.equal(mapOrtName('wrap p2o.Add.20 wrap', 'Add', index).name, 'p2o.Add.20');
  });
});

void describe('trace summary', () => {
  const run = (scale: number): Kernel[] => [
    { name: 'bn1_out_nchwc', op: 'Conv', dur: 100 * scale },
    { name: 'ReorderOutput_token_1', op: 'ReorderOutput', dur: 10 * scale },
    { name: 'fused g0', op: 'FusedGemm', dur: 50 * scale },
    { name: 'mm/MatMulAddFusion', op: 'Gemm', dur: 30 * scale },
    { name: 'p2o.Add.2', op: 'Add', dur: 5 * scale },
    { name: 'p2o.Add.2_token_9', op: 'Add', dur: 5 * scale },
  ];
  // The warm-up run is 10x slower: it must not leak into the means.
  const trace = parseTrace(syntheticTrace([run(10), run(1), run(1)]));
  const summary = summarizeTrace(trace, MODEL, { skipRuns: 1 });

  void it('averages over the counted runs, leaving out the warm-up by its window', () => {
    assert.equal(summary.runs, 2);
    const conv = summary.nodes.find((n) => n.name === 'conv1');
    assert.equal(conv?.meanUs, 100);
    assert.equal(conv?.opType, 'Conv');
    assert.deepEqual(conv?.ortNames, ['bn1_out_nchwc']);
  });

  void it('merges ORT kernels of one model node and keeps inserted ones apart', () => {
    const add = summary.nodes.find((n) => n.name === 'p2o.Add.2');
    assert.equal(add?.meanUs, 10);
    assert.deepEqual(add?.ortNames, ['p2o.Add.2', 'p2o.Add.2_token_9']);
    const reorder = summary.nodes.find((n) => n.inserted);
    assert.equal(reorder?.name, 'ReorderOutput_token_1');
    assert.equal(reorder?.opType, 'ReorderOutput');
  });

  void it('has shares in [0, 1] summing to at most 1, largest first', () => {
    const total = summary.nodes.reduce((s, n) => s + n.share, 0);
    assert.ok(total <= 1 + 1e-9 && total > 0.999);
    assert.ok(summary.nodes.every((n) => n.share >= 0 && n.share <= 1));
    assert.deepEqual(
      summary.nodes.map((n) => n.meanUs),
      [...summary.nodes.map((n) => n.meanUs)].sort((a, b) => b - a),
    );
    assert.equal(summary.totalUs, 200);
    assert.equal(summary.nodes[0].share, 0.5);
  });

  void it('without run windows, drops the warm-up as the first 1/n of the kernels by time', () => {
    const events = (syntheticTrace([run(10), run(1), run(1)]) as { name: string }[]).filter((e) => e.name !== 'model_run');
    const s = summarizeTrace(parseTrace(events), MODEL, { skipRuns: 1, runsInTrace: 3 });
    assert.equal(s.runs, 2);
    assert.equal(s.nodes.find((n) => n.name === 'conv1')?.meanUs, 100);
    assert.deepEqual(s.warnings, []);
  });

  void it('without run windows and uneven kernel counts, averages everything and warns', () => {
    const events = (syntheticTrace([run(1), run(1).slice(1)]) as { name: string }[]).filter((e) => e.name !== 'model_run');
    const s = summarizeTrace(parseTrace(events), MODEL, { skipRuns: 1, runsInTrace: 2 });
    assert.equal(s.runs, 2);
    assert.match(s.warnings[0], /include the warm-up/);
  });

  void it('gives an empty summary for an empty trace', () => {
    const s = summarizeTrace(parseTrace([]), MODEL);
    assert.deepEqual(s.nodes, []);
  });
});

void describe('latency statistics', () => {
  void it('interpolates percentiles linearly between closest ranks', () => {
    const sorted = [1, 2, 3, 4];
    assert.equal(quantile(sorted, 0.5), 2.5);
    assert.ok(Math.abs(quantile(sorted, 0.95) - 3.85) < 1e-12);
    assert.equal(quantile(sorted, 0), 1);
    assert.equal(quantile(sorted, 1), 4);
    assert.equal(quantile([7], 0.99), 7);
  });

  void it('computes mean, extremes and sample stdev', () => {
    const s = latencyStats([4, 2, 8, 6]);
    assert.equal(s.mean, 5);
    assert.equal(s.min, 2);
    assert.equal(s.max, 8);
    assert.equal(s.p50, 5);
    assert.ok(Math.abs(s.stdev - Math.sqrt(20 / 3)) < 1e-12);
    assert.equal(latencyStats([3]).stdev, 0);
  });
});
