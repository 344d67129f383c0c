/**
 * The `cleanup` pass: graph tidying that never changes what the model computes beyond float rounding.
 * Steps, each switchable: eliminate_identity (Identity, inference Dropout), fold_constants (Constant
 * nodes to initializers, constant subexpressions to initializers), fold_bn (BatchNormalization into
 * the Conv/ConvTranspose before it), remove_dead (unreachable nodes, unused initializers). They run
 * in that order, over the main graph and every subgraph, because each one exposes work for the next.
 * Dead removal ignores --exclude: a node whose result nobody reads cannot be worth keeping.
 */
import { defaultOpset, inferModelShapes, type ModelShapes } from '../../core/shapes';
import type { GraphProto, ModelProto } from '../../onnx/types';
import { forEachGraph, forEachTensor } from '../../onnx/walk';
import { tensorByteLength } from '../../onnx/tensor';
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { foldBatchNorms } from './bn';
import { ConstScope } from './constScope';
import { pruneValueInfo, removeDead } from './dead';
import { foldConstants } from './fold';
import { eliminateIdentities } from './identity';
import { NameAllocator, subgraphsOf } from './scope';

export interface CleanupOptions {
  fold_bn: boolean;
  fold_constants: boolean;
  eliminate_identity: boolean;
  remove_dead: boolean;
}

/** Node counts by op type and stored tensor bytes over every graph. */
interface Census {
  ops: Map<string, number>;
  nodes: number;
  bytes: number;
}

function census(model: ModelProto): Census {
  const ops = new Map<string, number>();
  let nodes = 0;
  forEachGraph(model, ({ graph }) => {
    nodes += graph.node.length;
    for (const n of graph.node) ops.set(n.op_type ?? '?', (ops.get(n.op_type ?? '?') ?? 0) + 1);
  });
  let bytes = 0;
  forEachTensor(model, ({ tensor }) => (bytes += tensorByteLength(tensor)));
  return { ops, nodes, bytes };
}

/** Calls fn on every graph with a constant scope whose parent reflects the parent's edits. */
function forEachScope(model: ModelProto, fn: (scope: ConstScope) => void): void {
  const visit = (graph: GraphProto, parent?: ConstScope) => {
    fn(new ConstScope(graph, parent));
    const updated = new ConstScope(graph, parent);
    for (const node of graph.node) for (const sub of subgraphsOf(node)) visit(sub, updated);
  };
  if (model.graph) visit(model.graph);
}

/** Shape inference for the folder; a failure only means fewer Shape nodes fold. */
function tryInferShapes(model: ModelProto, report: PassReport): ModelShapes | undefined {
  try {
    return inferModelShapes(model);
  } catch (err) {
    report.warnings.push(`shape inference failed (${err instanceof Error ? err.message : String(err)}); Shape nodes were not folded`);
    return undefined;
  }
}

interface RunState {
  ctx: PassContext;
  report: PassReport;
  opset: number;
  irVersion: number;
}

function runIdentity(s: RunState): void {
  let removed = 0;
  forEachScope(s.ctx.model, (scope) => {
    const out = eliminateIdentities(scope, { opset: s.opset, isExcluded: s.ctx.isExcluded });
    s.report.changed.push(...out.removed);
    s.report.skipped.push(...out.skipped);
    removed += out.removed.length;
  });
  s.report.stats.identitiesRemoved = removed;
}

function runFold(s: RunState): void {
  const shapes = tryInferShapes(s.ctx.model, s.report);
  let [folded, converted] = [0, 0];
  forEachScope(s.ctx.model, (scope) => {
    const out = foldConstants(scope, { opset: s.opset, irVersion: s.irVersion, isExcluded: s.ctx.isExcluded, shapes: shapes?.graphs.get(scope.graph) });
    s.report.changed.push(...out.folded);
    s.report.skipped.push(...out.skipped);
    folded += out.folded.length;
    converted += out.constantsConverted;
  });
  s.report.stats.constantsFolded = folded;
  s.report.stats.constantNodesConverted = converted;
  if (s.irVersion < 4) s.report.warnings.push('IR version < 4: Constant nodes were kept and folded values are stored as Constant nodes');
}

function runBn(s: RunState): void {
  const names = new NameAllocator(s.ctx.model);
  let folded = 0;
  forEachScope(s.ctx.model, (scope) => {
    const out = foldBatchNorms(scope, { irVersion: s.irVersion, names, isExcluded: s.ctx.isExcluded });
    s.report.changed.push(...out.folded);
    s.report.skipped.push(...out.skipped);
    folded += out.folded.length;
  });
  s.report.stats.bnFolded = folded;
}

function runDead(s: RunState): void {
  if (!s.ctx.model.graph) return;
  const out = removeDead(s.ctx.model.graph);
  s.report.stats.deadNodesRemoved = out.nodes.length;
  s.report.stats.initializersRemoved = out.initializers;
}

/** Before/after numbers, and per op type how many nodes went away ("removed.Identity": 3). */
function recordStats(report: PassReport, before: Census, after: Census): void {
  Object.assign(report.stats, { nodesBefore: before.nodes, nodesAfter: after.nodes, bytesBefore: before.bytes, bytesAfter: after.bytes, bytesSaved: before.bytes - after.bytes });
  for (const [op, n] of before.ops) {
    const gone = n - (after.ops.get(op) ?? 0);
    if (gone > 0) report.stats[`removed.${op}`] = gone;
  }
}

function parseOptions(raw: RawOptions): CleanupOptions {
  const r = new OptionReader('cleanup', raw);
  const options: CleanupOptions = {
    fold_bn: r.bool('fold_bn', true),
    fold_constants: r.bool('fold_constants', true),
    eliminate_identity: r.bool('eliminate_identity', true),
    remove_dead: r.bool('remove_dead', true),
  };
  r.done();
  return options;
}

function run(ctx: PassContext, options: CleanupOptions): PassReport {
  const report = emptyReport('cleanup', { ...options });
  const state: RunState = { ctx, report, opset: defaultOpset(ctx.model), irVersion: Number(ctx.model.ir_version ?? 8) };
  const before = census(ctx.model);
  if (options.eliminate_identity) runIdentity(state);
  if (options.fold_constants) runFold(state);
  if (options.fold_bn) runBn(state);
  if (options.remove_dead) runDead(state);
  if (ctx.model.graph) pruneValueInfo(ctx.model.graph);
  recordStats(report, before, census(ctx.model));
  return report;
}

export const cleanupPass: PassDefinition<CleanupOptions> = {
  name: 'cleanup',
  description: 'Fold BatchNormalization into convolutions, fold constant subexpressions, remove Identity/Dropout and dead nodes',
  parseOptions,
  run,
};
