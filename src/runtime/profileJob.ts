/**
 * The 'profile' job, run inside the ORT worker:
 * 1. load the model and name its unnamed nodes the way reports display them ("<OpType>_<index>"), so
 *    ORT's per-node profile names map back (models with external data are loaded from their file
 *    instead, keeping ORT's own names);
 * 2. build the inputs (generated or from --data);
 * 3. latency: one session WITHOUT profiling, warm-up runs, then timed runs (performance.now());
 * 4. per node: a separate session with ORT's profiler, one warm-up run (left out of the trace by its
 *    model_run window) and K = min(runs, 10) runs, then the trace is mapped to model node names.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NodeTime, ProfileReport } from '../core/reports';
import { encodeModel } from '../onnx/encode';
import { nodeDisplayNames } from '../onnx/graph';
import { loadModel } from '../onnx/io';
import type { GraphProto } from '../onnx/types';
import { buildInputs, type InputSet } from './inputs';
import type { JobContext } from './jobContext';
import * as ortSession from './ortSession';
import type { OrtFeeds, OrtModule, SessionSettings } from './ortSession';
import type { ProfileJobParams } from './protocol';
import { latencyStats } from './stats';
import { parseTrace, summarizeTrace, type ModelNodeRef } from './trace';

/** Profiled runs at most: per-node times are means, and ORT's trace grows with every run. */
const MAX_PROFILED_RUNS = 10;
const PROFILE_PREFIX = 'ort-profile';

interface PreparedModel {
  /** What ORT loads: the file itself, or the re-encoded model with every node named. */
  source: string | Uint8Array;
  graph: GraphProto;
  nodeRefs: ModelNodeRef[];
  warnings: string[];
}

/** Everything the phases share. */
interface Run {
  params: ProfileJobParams;
  ctx: JobContext;
  ort: OrtModule;
  model: PreparedModel;
  feeds: OrtFeeds[];
  settings: SessionSettings;
}

export async function profileJob(params: ProfileJobParams, ctx: JobContext): Promise<ProfileReport> {
  ctx.progress.report('load', 0, 1);
  const ort = ortSession.loadOrt(ctx.guard);
  const model = prepareModel(params.path);
  ctx.guard.checkpoint();
  const inputs = buildInputs(model.graph, params.options);
  const run: Run = { params, ctx, ort, model, feeds: inputs.samples.map((s) => ortSession.toFeeds(ort, s)), settings: settingsOf(params) };
  ortSession.checkExecutionProvider(ort, ctx.guard, run.settings.executionProvider);
  const latency = await measureLatency(run);
  const perNode = params.options.perNode ? await profileNodes(run) : { nodes: [], profiledRuns: 0, warnings: [] };
  return buildReport(run, inputs, latency, perNode);
}

function settingsOf(params: ProfileJobParams): SessionSettings {
  const { executionProvider, graphOptimizationLevel, threads } = params.options;
  return { executionProvider, graphOptimizationLevel, threads };
}

// ---------------------------------------------------------------------------------------------------
// Model

function prepareModel(file: string): PreparedModel {
  const loaded = loadModel(file);
  const graph = loaded.model.graph as GraphProto; // loadModel refuses models without a graph
  const names = nodeDisplayNames(graph);
  const nodeRefs = graph.node.map((n, i) => ({ name: names[i], opType: n.op_type ?? '', inputs: n.input, outputs: n.output }));
  const toRename = graph.node.filter((n, i) => n.name !== names[i]).length;
  if (toRename === 0) return { source: file, graph, nodeRefs, warnings: [] };
  if (loaded.externalFiles.length > 0) {
    // Re-encoding would inline the external weights (and may pass 2 GiB): let ORT read the files.
    const warning = `${toRename} node(s) have no unique name and the model keeps weights in external data, so it runs unchanged: their per-node times use onnxruntime's names`;
    return { source: file, graph, nodeRefs, warnings: [warning] };
  }
  graph.node.forEach((n, i) => (n.name = names[i]));
  return { source: encodeModel(loaded.model), graph, nodeRefs, warnings: [] };
}

// ---------------------------------------------------------------------------------------------------
// Latency

interface LatencyResult {
  sessionCreateMs: number;
  samplesMs: number[];
}

async function measureLatency(run: Run): Promise<LatencyResult> {
  const { ctx, params } = run;
  ctx.progress.report('session', 0, 1);
  const started = performance.now();
  const session = await ortSession.createSession(run.ort, ctx.guard, run.model.source, ortSession.sessionOptions(run.settings), params.path);
  const sessionCreateMs = performance.now() - started;
  try {
    const { warmup, runs } = params.options;
    for (let i = 0; i < warmup; i++) {
      ctx.progress.report('warmup', i, warmup);
      await ortSession.runSession(ctx.guard, session, run.feeds[i % run.feeds.length]);
    }
    const samplesMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ctx.progress.report('latency', i, runs);
      const t = performance.now();
      await ortSession.runSession(ctx.guard, session, run.feeds[i % run.feeds.length]);
      samplesMs.push(performance.now() - t);
    }
    return { sessionCreateMs, samplesMs };
  } finally {
    await ortSession.releaseSession(ctx.guard, session);
  }
}

// ---------------------------------------------------------------------------------------------------
// Per-node profile

interface NodeProfile {
  nodes: NodeTime[];
  profiledRuns: number;
  warnings: string[];
}

async function profileNodes(run: Run): Promise<NodeProfile> {
  const { ctx, params } = run;
  const profiledRuns = Math.min(params.options.runs, MAX_PROFILED_RUNS);
  ctx.progress.report('profile', 0, profiledRuns + 1);
  const options = ortSession.sessionOptions(run.settings, { enableProfiling: true, profileFilePrefix: path.join(params.tempDir, PROFILE_PREFIX) });
  const session = await ortSession.createSession(run.ort, ctx.guard, run.model.source, options, params.path);
  try {
    // Run 0 is the warm-up; summarizeTrace leaves it out by its model_run window.
    for (let i = 0; i <= profiledRuns; i++) {
      ctx.progress.report('profile', i, profiledRuns + 1);
      await ortSession.runSession(ctx.guard, session, run.feeds[i % run.feeds.length]);
    }
    await ctx.guard.call(() => session.endProfiling());
  } finally {
    await ortSession.releaseSession(ctx.guard, session);
  }
  return summarizeProfileFile(run, profiledRuns);
}

function summarizeProfileFile(run: Run, profiledRuns: number): NodeProfile {
  const file = findProfileFile(run.params.tempDir);
  if (!file) return { nodes: [], profiledRuns: 0, warnings: ['onnxruntime wrote no profile file: per-node times are missing'] };
  const trace = parseTrace(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  const summary = summarizeTrace(trace, run.model.nodeRefs, { skipRuns: 1, runsInTrace: profiledRuns + 1 });
  return { nodes: summary.nodes, profiledRuns: summary.runs, warnings: summary.warnings };
}

/** ORT names the file "<prefix>_<date>.json"; take the newest in our private folder. */
function findProfileFile(dir: string): string | undefined {
  const candidates = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(`${PROFILE_PREFIX}_`) && n.endsWith('.json'))
    .map((n) => path.join(dir, n));
  return candidates.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

// ---------------------------------------------------------------------------------------------------
// Report

function buildReport(run: Run, inputs: InputSet, latency: LatencyResult, perNode: NodeProfile): ProfileReport {
  const { options } = run.params;
  const latencyMs = latencyStats(latency.samplesMs);
  return {
    path: run.params.path,
    sessionCreateMs: latency.sessionCreateMs,
    latencyMs,
    throughput: 1000 / latencyMs.mean,
    runs: options.runs,
    warmup: options.warmup,
    threads: options.threads > 0 ? options.threads : os.availableParallelism(),
    graphOptimizationLevel: options.graphOptimizationLevel,
    executionProvider: options.executionProvider,
    // Process-wide: the worker shares the host's process, so this includes the host's own memory.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    inputs: inputs.samples[0].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, source: inputs.sources[t.name] })),
    nodes: perNode.nodes,
    profiledRuns: perNode.profiledRuns,
    warnings: [...run.model.warnings, ...perNode.warnings],
  };
}
