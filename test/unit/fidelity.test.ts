/** Fidelity metrics against values computed by hand. */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  absoluteErrors,
  aggregateComparisons,
  compareSamples,
  compareTensors,
  cosineSimilarity,
  looksLikeScores,
  scoreAgreement,
  sqnrDb,
  topK,
} from '../../src/analysis/fidelity';
import { UserError } from '../../src/core/errors';

function close(actual: number, expected: number, tolerance = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`);
}

void describe('fidelity: vector metrics', () => {
  void test('orthogonal vectors', () => {
    assert.equal(cosineSimilarity([1, 0], [0, 1]), 0);
    close(sqnrDb([1, 0], [0, 1]), 20 * Math.log10(1 / Math.SQRT2)); // -3.01 dB
  });

  void test('identical outputs: cosine 1, +Infinity dB, no error', () => {
    const x = Float32Array.from([0.5, -2, 3]);
    assert.equal(cosineSimilarity(x, x.slice()), 1);
    assert.equal(sqnrDb(x, x.slice()), Infinity);
    assert.deepEqual(absoluteErrors(x, x.slice()), { max: 0, mean: 0 });
  });

  void test('small noise: ||x|| = 5, ||x - y|| = 0.05 gives 40 dB', () => {
    close(sqnrDb([3, 4], [3, 4.05]), 40);
    close(cosineSimilarity([3, 4], [3, 4.05]), (9 + 16.2) / (5 * Math.hypot(3, 4.05)));
  });

  void test('opposite and zero vectors', () => {
    close(cosineSimilarity([1, 2, 3], [-1, -2, -3]), -1);
    assert.equal(cosineSimilarity([0, 0], [0, 0]), 1);
    assert.equal(sqnrDb([0, 0], [0, 0]), Infinity);
    assert.equal(cosineSimilarity([0, 0], [1, 0]), 0);
    assert.equal(sqnrDb([0, 0], [1, 0]), -Infinity);
  });

  void test('absolute errors', () => {
    assert.deepEqual(absoluteErrors([1, 2, 3], [1.5, 2, 2]), { max: 1, mean: 0.5 });
  });

  void test('integer and bigint arrays', () => {
    assert.equal(cosineSimilarity(Int32Array.from([1, 0]), Int32Array.from([0, 1])), 0);
    assert.equal(sqnrDb(BigInt64Array.from([3n, 4n]), BigInt64Array.from([3n, 4n])), Infinity);
  });

  void test('different lengths are a clear error', () => {
    assert.throws(() => cosineSimilarity([1, 2], [1]), (e: unknown) => e instanceof UserError && /2 reference values with 1 candidate/.test(e.message));
  });
});

void describe('fidelity: class scores', () => {
  void test('looksLikeScores heuristic', () => {
    assert.equal(looksLikeScores([1, 2]), true); // [batch, classes]
    assert.equal(looksLikeScores([1, 40, 6625]), true); // [batch, positions, classes] (CTC head)
    assert.equal(looksLikeScores([8, 1, 1, 10]), true); // conv classifier head
    assert.equal(looksLikeScores([1, 1, 64, 64]), false); // a probability map
    assert.equal(looksLikeScores([10]), false);
    assert.equal(looksLikeScores([4, 1]), false);
  });

  void test('topK: best first, ties to the lower index, NaN last', () => {
    assert.deepEqual(topK(Float64Array.from([5, 1, 5, 3]), 0, 4, 2), [0, 2]);
    assert.deepEqual(topK(Float64Array.from([NaN, 1, 2]), 0, 3, 3), [2, 1, 0]);
    assert.deepEqual(topK(Float64Array.from([9, 9, 0.1, 0.5, 0.2]), 2, 3, 5), [1, 2, 0]);
  });

  void test('top-1 agreement and top-5 overlap per row', () => {
    const ref = [
      [0.1, 0.5, 0.2, 0.9, 0.0, 0.3, 0.8], // top1 3, top5 {3,6,1,5,2}
      [1, 2, 3, 4, 5, 6, 7], // top1 6, top5 {6,5,4,3,2}
      [0, 0, 1, 0, 0, 0, 0],
    ];
    const cand = [
      [0.1, 0.5, 0.2, 0.7, 0.0, 0.3, 0.8], // top1 6 (differs), same top5 set
      [7, 6, 5, 4, 3, 2, 1], // top1 0 (differs), top5 {0,1,2,3,4}: 3 shared
      [0, 0, 1, 0, 0, 0, 0], // identical
    ];
    const result = scoreAgreement(ref.flat(), cand.flat(), 7);
    assert.equal(result.rows, 3);
    close(result.top1Agreement, 1 / 3);
    close(result.top5Overlap, (1 + 3 / 5 + 1) / 3);
  });

  void test('compareTensors adds score metrics only for score-like float outputs', () => {
    const scores = { data: Float32Array.from([0.1, 0.9, 0.8, 0.2]), dims: [2, 2] };
    const swapped = { data: Float32Array.from([0.9, 0.1, 0.8, 0.2]), dims: [2, 2] };
    assert.deepEqual(compareTensors(scores, swapped).scores, { rows: 2, top1Agreement: 0.5, top5Overlap: 1 });
    const labels = { data: Int32Array.from([1, 0]), dims: [1, 2] };
    assert.equal(compareTensors(labels, labels).scores, undefined);
    const map = { data: new Float32Array(16), dims: [1, 1, 4, 4] };
    assert.equal(compareTensors(map, map).scores, undefined);
    assert.ok(compareTensors(map, map, { scores: true }).scores);
  });
});

void describe('fidelity: NaN, Inf and mismatches', () => {
  void test('non-finite values are counted, metrics stay finite', () => {
    const c = compareTensors({ data: [1, NaN, 3, Infinity], dims: [4] }, { data: [1, NaN, 2, Infinity], dims: [4] });
    assert.equal(c.compared, 2);
    assert.deepEqual(c.nonFinite, { reference: 2, candidate: 2, mismatched: 0 });
    assert.equal(c.maxAbsError, 1);
    assert.ok(Number.isFinite(c.cosine) && Number.isFinite(c.sqnrDb));
  });

  void test('a NaN on one side only is a mismatch and a warning', () => {
    const c = compareTensors({ data: [1, 2, Infinity], dims: [3] }, { data: [1, NaN, -Infinity], dims: [3] });
    assert.deepEqual(c.nonFinite, { reference: 1, candidate: 2, mismatched: 2 });
    assert.equal(c.sqnrDb, Infinity, 'the one finite pair is identical');
    const agg = aggregateComparisons('y', [c]);
    assert.match(agg.warnings.join('\n'), /y: 2 values are NaN or infinite on one side only/);
  });

  void test('shape and length mismatches are clear errors', () => {
    assert.throws(() => compareTensors({ data: [1, 2], dims: [2] }, { data: [1, 2], dims: [1, 2] }, { label: 'output y' }), /output y: reference shape \[2\] differs from candidate shape \[1, 2\]/);
    assert.throws(() => compareTensors({ data: [1, 2, 3], dims: [2] }, { data: [1, 2], dims: [2] }), /the reference has 3 values but its dims \[2\] need 2/);
  });
});

void describe('fidelity: several samples', () => {
  const sample = (x: number[], dims: number[]) => ({ y: { data: Float32Array.from(x), dims } });

  void test('aggregates per output: mean/min cosine, SQNR on concatenated errors', () => {
    const reference = [sample([3, 4], [2]), sample([1, 0], [2])];
    const candidate = [sample([3, 4.05], [2]), sample([1, 0], [2])];
    const [y] = compareSamples(reference, candidate);
    const cos1 = (9 + 4 * Math.fround(4.05)) / (5 * Math.hypot(3, Math.fround(4.05)));
    const noise = (Math.fround(4.05) - 4) ** 2;
    assert.equal(y.output, 'y');
    assert.equal(y.samples, 2);
    close(y.cosineMean, (cos1 + 1) / 2);
    close(y.cosineMin, cos1);
    close(y.sqnrDb, 10 * Math.log10(26 / noise), 1e-6); // ~40.17 dB over both samples
    close(y.sqnrDbMin, 10 * Math.log10(25 / noise), 1e-6); // the first sample alone, ~40 dB
    close(y.maxAbsError, Math.fround(4.05) - 4);
    close(y.meanAbsError, (Math.fround(4.05) - 4) / 4);
    assert.deepEqual(y.warnings, []);
  });

  void test('score rows are pooled across samples', () => {
    const reference = [sample([0.9, 0.1], [1, 2]), sample([0.2, 0.8], [1, 2])];
    const candidate = [sample([0.9, 0.1], [1, 2]), sample([0.7, 0.3], [1, 2])];
    const [y] = compareSamples(reference, candidate);
    assert.deepEqual(y.scores, { rows: 2, top1Agreement: 0.5, top5Overlap: 1 });
  });

  void test('missing outputs and sample count mismatches are errors', () => {
    assert.throws(() => compareSamples([sample([1], [1])], []), /1 reference samples but 0 candidate samples/);
    assert.throws(() => compareSamples([sample([1], [1])], [{ z: { data: [1], dims: [1] } }]), /output y is missing from the candidate/);
  });
});
