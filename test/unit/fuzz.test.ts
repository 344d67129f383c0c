/**
 * Seeded, bounded fuzzing of everything that reads a model file: mutants of the sample models and of
 * the PaddleOCR classifier (bit flips, truncation, dropped fields, huge declared lengths, cycles,
 * dangling names, wrong dtypes, dims that disagree with the stored bytes, NaN/Inf/huge weights; see
 * test/helpers/fuzz.ts)
 * go through
 * - inspect in-process (hundreds of cases): a report or a one-line user error, never a TypeError,
 *   RangeError or stack overflow, and the report serializes and renders;
 * - the built CLI (40 cases: inspect, profile, optimize --preset int8/fp16): exit 0 or 1 with one
 *   line on stderr, never a signal, a usage error or a hang; a failed optimize leaves no file behind;
 * - the built language server (inspect and profile requests): a result or an error reply for each,
 *   and the server stays up.
 * ONNX_LEAN_FUZZ_SEED=<n> explores another corpus; failing mutants are written to test-output/fuzz/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, ResponseError } from 'vscode-languageserver-protocol/node';
import { isUserFacing } from '../../src/core/errors';
import { inspectModel } from '../../src/core/inspect';
import { renderInspect } from '../../src/cli/commands/inspect';
import { decodeModel } from '../../src/onnx/decode';
import { encodeModel } from '../../src/onnx/encode';
import { loadModel } from '../../src/onnx/io';
import { InspectRequest, ProfileRequest } from '../../src/shared/protocol';
import { MUTATION_KINDS, mutants, seedModels, shapeArgs, shapesFor, type Mutant, type MutationKind, type SeedModel } from '../helpers/fuzz';
import { CLI, ROOT, SERVER, ServerProcess, cliProblem, listFiles, runCli, withDeadline, type CliRun } from '../helpers/fuzzProcess';

const SEED = Number(process.env.ONNX_LEAN_FUZZ_SEED ?? 20_240_611);
const IN_PROCESS_CASES = 480;
const CLI_CASES = 40;
const LSP_KINDS: MutationKind[] = ['bitflip', 'hugeLength', 'dropField', 'cycle', 'dangling', 'dtype', 'dims', 'poison'];
const FAILURES = path.join(ROOT, 'test-output/fuzz');

/** Keeps a failing mutant for reproduction and returns where it went. */
function keep(m: Mutant): string {
  fs.mkdirSync(FAILURES, { recursive: true });
  const file = path.join(FAILURES, `${SEED}-${m.label.replace(/[^\w.-]+/g, '_').slice(0, 120)}.onnx`);
  fs.writeFileSync(file, m.bytes);
  return file;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

type Outcome = 'report' | 'error';

/** inspect as the CLI does it, in-process: a report that serializes and renders, or a user-facing one-line error. */
function inspectInProcess(file: string, shapes: Record<string, number[]> | undefined): Outcome {
  let report;
  try {
    report = inspectModel(loadModel(file), { shapes });
  } catch (err) {
    if (!isUserFacing(err)) throw err;
    assert.doesNotMatch(err.message, /\n/, `multi-line error: ${err.message}`);
    assert.ok(err.message.length > 0, 'empty error message');
    return 'error';
  }
  JSON.parse(JSON.stringify(report));
  renderInspect(report, true);
  return 'report';
}

void describe('fuzz: mutated models', () => {
  let scratch = '';
  let seeds: SeedModel[] = [];
  /** TMPDIR of every child process, checked for leftovers at the end. */
  let childTmp = '';
  let env: NodeJS.ProcessEnv = {};

  before(() => {
    assert.ok(fs.existsSync(CLI) && fs.existsSync(SERVER), 'dist/ is missing: run npm run build');
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-fuzz-'));
    childTmp = path.join(scratch, 'tmp');
    fs.mkdirSync(childTmp);
    env = { ...process.env, TMPDIR: childTmp, ONNX_LEAN_DEBUG: '' };
    seeds = seedModels();
  });
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  void it('every seed model inspects cleanly (the mutations start from valid models)', () => {
    for (const s of seeds) {
      const file = path.join(scratch, `seed-${s.name}.onnx`);
      fs.writeFileSync(file, s.bytes);
      assert.equal(inspectInProcess(file, s.shapes), 'report', s.name);
    }
  });

  void it(`in-process inspect: ${IN_PROCESS_CASES} mutants end in a report or a one-line user error`, { timeout: 60_000 }, (t) => {
    const dir = path.join(scratch, 'in-process');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'mutant.onnx');
    const counts: Record<string, number> = {};
    const failures: string[] = [];
    let slowest = { ms: 0, label: '' };
    for (const [i, m] of mutants(seeds, IN_PROCESS_CASES, SEED).entries()) {
      fs.writeFileSync(file, m.bytes);
      const started = performance.now();
      try {
        // Half the cases with the seed's shapes (shape inference and MACs run further), half without.
        const outcome = inspectInProcess(file, i % 2 === 0 ? m.seed.shapes : undefined);
        counts[`${m.kind}:${outcome}`] = (counts[`${m.kind}:${outcome}`] ?? 0) + 1;
      } catch (err) {
        failures.push(`${m.label} -> ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)} (kept as ${keep(m)})`);
      }
      const ms = performance.now() - started;
      if (ms > slowest.ms) slowest = { ms, label: m.label };
    }
    t.diagnostic(`seed ${SEED}: ${JSON.stringify(counts)}; slowest case ${Math.round(slowest.ms)} ms (${slowest.label})`);
    assert.deepEqual(failures, [], `${failures.length} mutants broke inspect`);
    for (const kind of MUTATION_KINDS) {
      assert.ok((counts[`${kind}:report`] ?? 0) + (counts[`${kind}:error`] ?? 0) > 0, `no ${kind} case ran`);
    }
    assert.ok(Object.keys(counts).some((k) => k.endsWith(':error')) && Object.keys(counts).some((k) => k.endsWith(':report')), 'the corpus should give both reports and errors');
    // Hang guard for synchronous code: no single case may take long (the test timeout is the backstop).
    assert.ok(slowest.ms < 5_000, `slowest case took ${Math.round(slowest.ms)} ms: ${slowest.label}`);
  });

  void it(`CLI: ${CLI_CASES} mutants through inspect, profile and optimize end in exit 0 or 1 with one line, nothing left behind`, { timeout: 240_000 }, async (t) => {
    const corpus = mutants(seeds, CLI_CASES, SEED + 1);
    const commands = ['inspect', 'profile', 'optimize'] as const;
    const failures: string[] = [];
    const tally: Record<string, number> = {};
    const runs = await pool(corpus, 2, async (m, i) => {
      // Kinds cycle with period MUTATION_KINDS.length: shift the command every round so each kind meets each command.
      const command = commands[(i + Math.floor(i / MUTATION_KINDS.length)) % commands.length];
      const dir = path.join(scratch, `cli-${i}`);
      fs.mkdirSync(dir);
      const input = path.join(dir, 'in.onnx');
      fs.writeFileSync(input, m.bytes);
      const shapes = shapeArgs(shapesFor(m));
      const output = path.join(dir, 'out.onnx');
      const preset = i % 2 === 0 ? 'int8' : 'fp16';
      const args =
        command === 'inspect'
          ? ['inspect', input, ...shapes, ...(i % 2 ? ['--json'] : ['--all'])]
          : command === 'profile'
            ? ['profile', input, '--runs', '2', '--warmup', '0', '--threads', '1', ...shapes, ...(i % 2 ? ['--no-per-node', '--json'] : [])]
            : ['optimize', input, '--preset', preset, '-o', output, '--samples', '2', '--runs', '2', '--threads', '1', ...shapes];
      const r = await runCli(args, { timeoutMs: command === 'inspect' ? 30_000 : 90_000, env });
      const label = `${command}${command === 'optimize' ? ` ${preset}` : ''} ${m.label}`;
      const problems = [cliProblem(r)];
      if (r.code === 0 && args.includes('--json')) problems.push(parsesAsJson(r));
      if (!Buffer.from(fs.readFileSync(input)).equals(m.bytes)) problems.push('the input file changed');
      const left = listFiles(dir).filter((f) => f !== 'in.onnx');
      if (command === 'optimize' && r.code !== 0 && left.length) problems.push(`a failed optimize left ${left.join(', ')}`);
      if (left.some((f) => f.endsWith('.tmp'))) problems.push(`temp files left: ${left.join(', ')}`);
      if (command === 'optimize' && r.code === 0 && !left.includes('out.onnx')) problems.push('optimize succeeded without writing out.onnx');
      const found = problems.filter(Boolean);
      if (found.length) failures.push(`${label}: ${found.join('; ')} (kept as ${keep(m)})`);
      tally[`${command}:${r.code ?? r.signal}`] = (tally[`${command}:${r.code ?? r.signal}`] ?? 0) + 1;
      return r;
    });
    const slowest = runs.reduce((a, b) => (b.ms > a.ms ? b : a));
    t.diagnostic(`seed ${SEED + 1}: ${JSON.stringify(tally)}; slowest ${Math.round(slowest.ms)} ms: ${slowest.args.slice(0, 4).join(' ')}`);
    assert.deepEqual(failures, [], `${failures.length} CLI cases misbehaved`);
    const leftovers = listFiles(childTmp).filter((f) => /^onnx-lean-(optimize|profile)-/.test(f));
    assert.deepEqual(leftovers, [], 'scratch folders left in TMPDIR');
  });

  void it('regressions found by this fuzzer: input shapes no array can hold are one clear line, not an internal error', { timeout: 120_000 }, async () => {
    // Before the fix these were "internal error: Invalid typed array length: ..." (a RangeError from
    // generating inputs, src/runtime/inputs.ts) in profile, optimize and the server's profile.
    const dir = path.join(scratch, 'regressions');
    fs.mkdirSync(dir);
    const withBatch = (batch: number, name: string) => {
      const m = decodeModel(Buffer.from(seeds[0].bytes));
      const dims = m.graph?.input[0].type?.tensor_type?.shape?.dim;
      assert.ok(dims, 'the mlp sample declares its input shape');
      dims[0] = { dim_value: batch };
      const file = path.join(dir, name);
      fs.writeFileSync(file, encodeModel(m));
      return file;
    };
    const huge = withBatch(2 ** 40, 'huge-batch.onnx');
    const negative = withBatch(-1, 'negative-batch.onnx');
    const valid = path.join(dir, 'valid.onnx');
    fs.writeFileSync(valid, seeds[0].bytes);
    const cases: [string[], RegExp][] = [
      [['profile', huge, '--runs', '1', '--warmup', '0'], /input x of shape \[1099511627776,64\] has 70368744177664 elements: too many to generate/],
      [['profile', negative, '--runs', '1', '--warmup', '0'], /input x has an invalid shape in the model \[-1,64\]: dimensions must be non-negative integers/],
      [['optimize', negative, '--preset', 'int8', '-o', path.join(dir, 'out.onnx'), '--samples', '1', '--runs', '1'], /input x has an invalid shape in the model/],
      [['profile', valid, '--shape', 'x=100000000,64', '--runs', '1'], /input x of shape \[100000000,64\] has 6400000000 elements: too many to generate/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { env });
      assert.equal(cliProblem(r), undefined, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(listFiles(dir), ['huge-batch.onnx', 'negative-batch.onnx', 'valid.onnx'], 'the failed optimize wrote nothing');
    const server = await ServerProcess.start({ trusted: true, env });
    try {
      const reply = await settle(withDeadline(server.conn.sendRequest(ProfileRequest.type, { path: huge, options: { runs: 1, warmup: 0 } }), 60_000, 'profile huge-batch'));
      assert.match(reply, /^error 1000: input x of shape .* too many to generate/);
    } finally {
      await server.stop().catch(() => server.kill());
    }
  });

  void it('language server: inspect and profile of mutants each get a result or an error reply, and the server stays up', { timeout: 180_000 }, async (t) => {
    const server = await ServerProcess.start({ trusted: true, env });
    try {
      const corpus = mutants(seeds, LSP_KINDS.length, SEED + 2, LSP_KINDS);
      const replies: string[] = [];
      for (const [i, m] of corpus.entries()) {
        const file = path.join(scratch, `lsp-${i}.onnx`);
        fs.writeFileSync(file, m.bytes);
        const inspect = await settle(withDeadline(server.conn.sendRequest(InspectRequest.type, { path: file }), 30_000, `inspect ${m.label}`));
        const profile = await settle(
          withDeadline(server.conn.sendRequest(ProfileRequest.type, { path: file, options: { runs: 2, warmup: 0, perNode: false, threads: 1, shapes: shapesFor(m) } }), 90_000, `profile ${m.label}`),
        );
        replies.push(`${m.label}: inspect ${inspect}, profile ${profile}`);
        assert.ok(server.alive, `the server died after ${m.label}`);
      }
      t.diagnostic(replies.join('\n'));
      // Still fully working: a valid model inspects and profiles.
      const valid = path.join(scratch, 'lsp-valid.onnx');
      fs.writeFileSync(valid, seeds[0].bytes);
      const report = await withDeadline(server.conn.sendRequest(InspectRequest.type, { path: valid }), 30_000, 'inspect valid');
      assert.ok(report.nodeCount > 0);
      const profile = await withDeadline(server.conn.sendRequest(ProfileRequest.type, { path: valid, options: { runs: 2, warmup: 0, perNode: false, shapes: seeds[0].shapes } }), 60_000, 'profile valid');
      assert.equal(profile.runs, 2);
    } finally {
      await server.stop().catch(() => server.kill());
    }
  });
});

function parsesAsJson(r: CliRun): string | undefined {
  try {
    JSON.parse(r.stdout);
    return undefined;
  } catch {
    return `--json output is not JSON: ${r.stdout.slice(0, 200)}`;
  }
}

/** "result" or "error <code>: <message>"; fails on an error that is not a one-line reply, or an internal error. */
async function settle(request: Promise<unknown>): Promise<string> {
  try {
    await request;
    return 'result';
  } catch (err) {
    assert.ok(err instanceof ResponseError, `expected an error reply, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n|\bat .+:\d+:\d+/, `one line, no stack trace: ${err.message}`);
    assert.notEqual(err.code, ErrorCodes.InternalError, `internal error reply (a bug): ${err.message}`);
    return `error ${err.code}: ${err.message.slice(0, 120)}`;
  }
}
