/**
 * Budget files without running anything: units, parsing with spans, defaults, every kind of problem,
 * verdict messages and margins, the static shape check, and that the JSON schema accepts what the
 * parser accepts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { excessOf, judge, shortVerdict } from '../../src/budget/evaluate';
import { EntryError, checkShapes } from '../../src/budget/measure';
import { entryAt, parseBudget } from '../../src/budget/parse';
import { formatBytes, formatFraction, formatMs, parseBytes, parseDuration, parseFraction } from '../../src/budget/units';
import type { BudgetEntry, ParsedBudget } from '../../src/budget/types';

const FILE = '/work/project/onnx-budget.json';

function parse(text: string): ParsedBudget {
  return parseBudget(text, FILE);
}

function value(p: ReturnType<typeof parseDuration>): number {
  assert.ok(p.ok, p.ok ? '' : p.error);
  return p.value;
}

/** The text a problem or entry span covers. */
function at(text: string, span: { offset: number; length: number }): string {
  return text.slice(span.offset, span.offset + span.length);
}

void describe('budget units', () => {
  void it('durations: numbers are milliseconds; ms, s, us suffixes', () => {
    assert.equal(value(parseDuration(15)), 15);
    assert.equal(value(parseDuration('15ms')), 15);
    assert.equal(value(parseDuration('15 ms')), 15);
    assert.equal(value(parseDuration('1.5s')), 1500);
    assert.equal(value(parseDuration('800us')), 0.8);
    assert.equal(value(parseDuration('250µs')), 0.25);
    assert.equal(value(parseDuration('.5ms')), 0.5);
    for (const bad of ['15 parsecs', '15m', '-3ms', 'ms', '', '1e3ms', true, null, [15]]) {
      const r = parseDuration(bad);
      assert.equal(r.ok, false, `${JSON.stringify(bad)} should be refused`);
    }
    assert.match((parseDuration('15 parsecs') as { error: string }).error, /not a duration/);
    assert.match((parseDuration(0) as { error: string }).error, /greater than 0/);
  });

  void it('sizes: decimal KB/MB/GB, binary KiB/MiB/GiB, plain bytes', () => {
    assert.equal(value(parseBytes('20MB')), 20e6);
    assert.equal(value(parseBytes('20 mb')), 20e6);
    assert.equal(value(parseBytes('1.5GB')), 1.5e9);
    assert.equal(value(parseBytes('512KiB')), 512 * 1024);
    assert.equal(value(parseBytes('2MiB')), 2 * 2 ** 20);
    assert.equal(value(parseBytes(4096)), 4096);
    assert.equal(value(parseBytes('100')), 100);
    for (const bad of ['20 megs', '20M', 'MB', -1, '1,5MB']) assert.equal(parseBytes(bad).ok, false, `${String(bad)} should be refused`);
  });

  void it('fractions: 0..1 or a percentage', () => {
    assert.equal(value(parseFraction(0.99)), 0.99);
    assert.equal(value(parseFraction('99%')), 0.99);
    assert.equal(value(parseFraction('99.5 %')), 0.995);
    for (const bad of [1.5, -0.1, '0.99', '101%', 'high']) assert.equal(parseFraction(bad).ok, false, `${String(bad)} should be refused`);
  });

  void it('formats numbers the way budgets are written', () => {
    assert.equal(formatMs(23.14), '23.1 ms');
    assert.equal(formatMs(15), '15 ms');
    assert.equal(formatMs(0.4213), '0.421 ms');
    assert.equal(formatMs(150.4), '150 ms');
    assert.equal(formatMs(12_500), '12.5 s');
    assert.equal(formatBytes(20e6), '20 MB');
    assert.equal(formatBytes(4.1e6), '4.1 MB');
    assert.equal(formatBytes(105061), '105 KB');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatFraction(0.98765), '0.9877');
    assert.equal(formatFraction(0.99999994), '0.99999994');
  });
});

void describe('parseBudget', () => {
  const text = `// latency budgets for CI
{
  "$schema": "./schemas/onnx-budget.schema.json",
  "defaults": { "threads": 2, "latency": { "p99": "40ms" }, "shapes": { "mask": [1, 16] } },
  "models": {
    /* the encoder */
    "models/encoder.onnx": { "latency": { "p95": 15 }, "size": "20MB", "fidelity": { "cosine": 0.99 }, "shapes": { "x": [1, 3, 224, 224] } },
    "models/decoder.onnx": { "latency": { "p50": "2.5ms", "p99": 10 }, "memory": "300MiB", "threads": 1, "runs": 20, "data": "calib", "provider": "CPU", "reference": "orig/decoder.onnx" },
  },
}`;

  void it('reads entries with absolute paths, limits in base units and defaults merged', () => {
    const b = parse(text);
    assert.deepEqual(b.problems, []);
    assert.equal(b.entries.length, 2);
    const [enc, dec] = b.entries;
    assert.equal(enc.model, '/work/project/models/encoder.onnx');
    assert.deepEqual(enc.limits, { p99: 40, p95: 15, size: 20e6, cosine: 0.99 });
    assert.deepEqual(enc.settings, { threads: 2, runs: 50, provider: 'cpu', shapes: { mask: [1, 16], x: [1, 3, 224, 224] } });
    assert.ok(enc.measurable);
    assert.deepEqual(dec.limits, { p99: 10, p50: 2.5, memory: 300 * 2 ** 20 });
    assert.deepEqual(dec.settings, { threads: 1, runs: 20, provider: 'cpu', shapes: { mask: [1, 16] }, dataDir: '/work/project/calib' });
    assert.equal(dec.reference, '/work/project/orig/decoder.onnx');
  });

  void it('spans: the key (quotes included), the whole property, and each setting key', () => {
    const b = parse(text);
    const enc = b.entries[0];
    assert.equal(at(text, enc.keySpan), '"models/encoder.onnx"');
    assert.ok(at(text, enc.span).startsWith('"models/encoder.onnx": {'));
    assert.ok(at(text, enc.span).endsWith('224] } }'));
    assert.equal(at(text, enc.keySpans.shapes), '"shapes"');
    assert.equal(entryAt(b, text.indexOf('"20MB"'))?.key, 'models/encoder.onnx');
    assert.equal(entryAt(b, text.indexOf('"calib"'))?.key, 'models/decoder.onnx');
    assert.equal(entryAt(b, text.indexOf('"defaults"')), undefined);
  });

  void it('bad units and unknown keys are errors on the offending node; the rest of the entry still counts', () => {
    const t = '{ "models": { "m.onnx": { "latency": { "p95": "15 parsecs", "p90": 3 }, "size": "20MB", "colour": 1, "Threads": 2 } } }';
    const b = parse(t);
    const messages = b.problems.map((p) => [p.severity, p.message, at(t, p.span), p.entry]);
    assert.deepEqual(messages, [
      ['error', 'p95: "15 parsecs" is not a duration: use a number of milliseconds or a unit among ms, s, us', '"15 parsecs"', 'm.onnx'],
      ['error', 'unknown key "p90" in "latency"; expected one of p50, p95, p99', '"p90"', 'm.onnx'],
      ['error', 'unknown key "colour" in the budget of "m.onnx"; expected one of latency, size, memory, fidelity, threads, runs, shapes, data, provider, reference', '"colour"', 'm.onnx'],
      ['error', 'unknown key "Threads" in the budget of "m.onnx" (did you mean "threads"?); expected one of latency, size, memory, fidelity, threads, runs, shapes, data, provider, reference', '"Threads"', 'm.onnx'],
    ]);
    assert.deepEqual(b.entries[0].limits, { size: 20e6 });
    assert.ok(b.entries[0].measurable, 'a bad limit drops that limit, it does not stop measuring');
  });

  void it('invalid settings make the entry unmeasurable', () => {
    const t = '{ "models": { "a.onnx": { "size": 1, "threads": -1 }, "b.onnx": { "size": 1, "shapes": { "x": [1, "n"] } }, "c.onnx": { "size": 1, "runs": 0 } } }';
    const b = parse(t);
    assert.deepEqual(
      b.problems.map((p) => p.message),
      ['"threads" must be an integer >= 0', 'shape of "x" must be an array of positive integers, e.g. [1, 3, 224, 224]', '"runs" must be an integer >= 1'],
    );
    assert.deepEqual(b.entries.map((e) => e.measurable), [false, false, false]);
  });

  void it('syntax errors, wrong top-level shapes, duplicates and entries without limits', () => {
    assert.match(parse('{ "models": { "a.onnx": { "size": } } }').problems[0].message, /^invalid JSON: value expected/);
    assert.equal(parse('[1, 2]').problems[0].message, 'a budget file is an object: { "models": { "model.onnx": { … } } }');
    assert.equal(parse('{ "defaults": {} }').problems[0].message, 'the budget file has no "models" object');
    assert.equal(parse('{ "models": [] }').problems[0].message, '"models" must be an object');
    assert.equal(parse('{ "models": {}, "model": {} }').problems[0].message, 'unknown key "model" in the budget file; expected one of $schema, defaults, models');
    assert.equal(parse('{ "models": { "a.onnx": 3 } }').problems[0].message, 'the budget of "a.onnx" must be an object');
    const dup = parse('{ "models": { "a.onnx": { "size": 1 }, "./a.onnx": { "size": 2 } } }');
    assert.match(dup.problems[0].message, /a\.onnx is budgeted twice/);
    const none = parse('{ "models": { "a.onnx": { "threads": 1 } } }');
    assert.deepEqual(none.problems.map((p) => [p.severity, p.message]), [['warning', 'no limits for a.onnx: add "latency", "size", "memory" or "fidelity"']]);
  });
});

function entry(limits: BudgetEntry['limits']): BudgetEntry {
  return parse(`{ "models": { "m.onnx": ${JSON.stringify({ size: 1 })} } }`).entries.map((e) => ({ ...e, limits }))[0];
}

void describe('verdicts', () => {
  void it('exceeded: measured value, limit and margin, with how it was measured', () => {
    const [v] = judge({ p95: 15 }, { p95: 23.1 }, { runs: 50, threads: 2 });
    assert.equal(v.status, 'exceeded');
    assert.equal(v.message, 'p95 23.1 ms exceeds the 15 ms budget by 54 % (50 runs, 2 threads)');
    assert.equal(shortVerdict(v), 'p95 23.1 ms / 15 ms ✗');
  });

  void it('near: within 10 % of the limit is a warning; below that is met', () => {
    const [near] = judge({ p95: 15 }, { p95: 14.2 }, { runs: 50, threads: 1 });
    assert.equal(near.status, 'near');
    assert.equal(near.message, 'p95 14.2 ms is within 10 % of the 15 ms budget (5.3 % headroom; 50 runs, 1 thread)');
    const [met] = judge({ size: 20e6 }, { size: 4.1e6 });
    assert.equal(met.status, 'met');
    assert.equal(shortVerdict(met), '4.1 MB / 20 MB ✓');
    const [edge] = judge({ size: 100 }, { size: 100 });
    assert.equal(edge.status, 'near', 'exactly at the limit is not over it');
  });

  void it('floors are judged on the error they allow', () => {
    assert.ok(Math.abs(excessOf('cosine', 0.991, 0.99) - -0.1) < 1e-9);
    const [below] = judge({ cosine: 0.99 }, { cosine: 0.9812 }, { samples: 8, reference: '/m/encoder.onnx' });
    assert.equal(below.status, 'exceeded');
    assert.equal(below.message, 'cosine 0.9812 is below the 0.99 floor by 0.0088 (8 samples against encoder.onnx)');
    const [near] = judge({ cosine: 0.99 }, { cosine: 0.9905 });
    assert.equal(near.status, 'near');
    assert.match(near.message, /within 10 % of the 0.99 floor \(uses 95 % of the error it allows\)/);
    const [top1] = judge({ top1: 0.95 }, { top1: 1 });
    assert.equal(top1.status, 'met');
  });

  void it('only limits with a measured value get a verdict', () => {
    assert.deepEqual(judge(entry({ p95: 1, size: 10 }).limits, { size: 5 }).map((v) => v.limit), ['size']);
  });
});

void describe('static shape check', () => {
  const inputs = [{ name: 'x', dtype: 'float32' as const, dims: ['batch', 64] }];
  const settings = { threads: 0, runs: 1, provider: 'cpu' };

  void it('accepts shapes that fit, names inputs that do not exist, and rank or fixed-dim mismatches', () => {
    checkShapes(inputs, { ...settings, shapes: { x: [4, 64] } });
    const error = (shapes: Record<string, number[]>) => {
      try {
        checkShapes(inputs, { ...settings, shapes });
      } catch (err) {
        assert.ok(err instanceof EntryError);
        assert.equal(err.setting, 'shapes');
        return err.message;
      }
      return assert.fail('expected an error');
    };
    assert.equal(error({ y: [1] }), 'shapes: the model has no input "y" (inputs: x)');
    assert.match(error({ x: [1, 2, 64] }), /does not fit input "x": the model expects rank 2/);
    assert.match(error({ x: [1, 65] }), /the model fixes dimension 1 to 64/);
  });

  void it('asks for shapes of dynamic inputs, in budget syntax', () => {
    assert.throws(() => checkShapes(inputs, settings), /input "x" has dynamic dimensions \[batch,64\]: add "shapes": \{ "x": \[1, 64\] \}/);
  });
});

void describe('JSON schema', () => {
  const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../schemas/onnx-budget.schema.json'), 'utf8')) as {
    properties: Record<string, unknown>;
    definitions: Record<string, { properties?: Record<string, unknown>; oneOf?: { pattern?: string }[] }>;
  };

  void it('knows exactly the keys the parser knows', () => {
    assert.deepEqual(Object.keys(schema.properties).sort(), ['$schema', 'defaults', 'models']);
    assert.deepEqual(Object.keys(schema.definitions.entry.properties ?? {}).sort(), ['data', 'fidelity', 'latency', 'memory', 'provider', 'reference', 'runs', 'shapes', 'size', 'threads']);
    assert.deepEqual(Object.keys(schema.definitions.settings.properties ?? {}).sort(), ['data', 'fidelity', 'latency', 'memory', 'provider', 'runs', 'shapes', 'size', 'threads']);
  });

  void it('its unit patterns accept what the parser accepts', () => {
    const pattern = (name: string) => new RegExp(schema.definitions[name].oneOf?.find((o) => o.pattern)?.pattern ?? '');
    for (const s of ['15ms', '15', '1.5 s', '800us', '250µs', '15 parsecs', '15m', '.5ms']) assert.equal(pattern('duration').test(s), parseDuration(s).ok, s);
    for (const s of ['20MB', '20 mb', '512KiB', '100', '20M', '20 megs', '1.5GB']) assert.equal(pattern('size').test(s), parseBytes(s).ok, s);
    for (const s of ['99%', '99.5 %', 'high', '0.99']) assert.equal(pattern('fraction').test(s), parseFraction(s).ok, s);
  });
});
