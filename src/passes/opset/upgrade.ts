/**
 * Upgrades the default-domain opset of a model, one opset at a time as onnx's version converter does:
 * every node of every graph (If/Loop/Scan bodies included) crosses each boundary between the model's
 * opset and the target, through the adapter for that op and version when its signature or meaning
 * changed. Nodes are rewritten on copies and written back only when every node made it, so a refusal
 * leaves the model untouched. Other domains (ai.onnx.ml, com.microsoft...) are left as they are.
 */
import { UserError } from '../../core/errors';
import { defaultOpset, inferModelShapes, type ModelShapes } from '../../core/shapes';
import type { ModelProto, NodeProto } from '../../onnx/types';
import { forEachGraph } from '../../onnx/walk';
import type { LayerChange, LayerSkip } from '../pass';
import { DEPRECATED_SINCE, minIrVersion, NEWEST_OPSET, OLDEST_OPSET, OP_VERSIONS, REFUSED, versionAt } from './history';
import { ADAPTERS } from './rules';
import { buildScopes, type GraphScope, type Origin } from './scope';
import { Names, Refusal, Step, type UpgradeRun } from './step';

export interface UpgradeResult {
  changed: LayerChange[];
  skipped: LayerSkip[];
  warnings: string[];
  stats: Record<string, number>;
}

function isDefaultDomain(domain: string | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

function countNodes(model: ModelProto): number {
  let n = 0;
  forEachGraph(model, ({ graph }) => (n += graph.node.length));
  return n;
}

/** Upgrade state: the run shared by steps, the refusals and the notes per original node. */
class Upgrade {
  readonly refusals: string[] = [];
  private readonly refused = new WeakSet<NodeProto>();
  readonly notes = new Map<Origin, string[]>();

  constructor(
    readonly run: UpgradeRun,
    readonly origins: WeakMap<NodeProto, Origin>,
  ) {}

  refuse(node: NodeProto, reason: string): void {
    const origin = this.origins.get(node);
    this.refusals.push(`${node.op_type ?? '?'} (node ${origin?.name ?? '?'}): ${reason}`);
    this.refused.add(node);
  }

  /** Whether the node exists as a live op at the source opset. */
  check(node: NodeProto): void {
    const op = node.op_type ?? '';
    const { from, to } = this.run;
    if (!OP_VERSIONS.has(op)) return this.refuse(node, `not an operator of the default domain known up to opset ${NEWEST_OPSET}; cannot tell whether it changed between opset ${from} and ${to}`);
    if (versionAt(op, from) === undefined) return this.refuse(node, `not defined in opset ${from}`);
    const deprecated = DEPRECATED_SINCE.get(op);
    if (deprecated !== undefined && deprecated <= from) this.refuse(node, `deprecated since opset ${deprecated}`);
  }

  /** The node as it enters opset `version`: itself, or the nodes that replace it. */
  cross(node: NodeProto, version: number, scope: GraphScope): NodeProto[] {
    const op = node.op_type ?? '';
    if (!isDefaultDomain(node.domain) || this.refused.has(node) || !OP_VERSIONS.get(op)?.includes(version)) return [node];
    const key = `${op}-${version}`;
    const reason = REFUSED.get(key);
    if (reason) {
      this.refuse(node, reason);
      return [node];
    }
    const adapter = ADAPTERS.get(key);
    return adapter ? this.adapt(node, version, scope, adapter) : [node];
  }

  private adapt(node: NodeProto, version: number, scope: GraphScope, adapter: (step: Step) => NodeProto[] | void): NodeProto[] {
    const origin = this.origins.get(node) ?? { name: node.name ?? '?', opType: node.op_type ?? '?' };
    const step = new Step(node, version, scope, this.run, origin);
    try {
      const out = adapter(step) ?? [node];
      for (const n of out) this.origins.set(n, origin);
      if (step.notes.length) this.notes.set(origin, [...(this.notes.get(origin) ?? []), ...step.notes]);
      return out;
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.refuse(node, `${err.message} (at opset ${version})`);
      return [node];
    }
  }
}

function tryInferShapes(model: ModelProto, warnings: string[]): ModelShapes | undefined {
  try {
    return inferModelShapes(model);
  } catch (err) {
    warnings.push(`shape inference failed (${err instanceof Error ? err.message : String(err)}): Softmax-like ops are rewritten without knowing ranks`);
    return undefined;
  }
}

function checkTarget(target: number): void {
  if (!Number.isInteger(target) || target < OLDEST_OPSET || target > NEWEST_OPSET) {
    throw new UserError(`opset-upgrade: target opset must be an integer from ${OLDEST_OPSET} to ${NEWEST_OPSET} (got ${target})`);
  }
}

/** Model-local functions carry their own opset imports, which this pass does not rewrite. */
function checkFunctions(model: ModelProto, from: number, target: number): void {
  for (const f of model.functions) {
    if (f.opset_import.some((o) => isDefaultDomain(o.domain)) || f.node.some((n) => isDefaultDomain(n.domain))) {
      throw new UserError(`opset-upgrade: cannot upgrade from opset ${from} to ${target}: model-local function ${f.name ?? '?'} uses the default domain, and functions are not upgraded`);
    }
  }
}

function skippedDomains(upgrade: GraphScope[]): LayerSkip[] {
  const counts = new Map<string, { domain: string; op: string; n: number }>();
  for (const scope of upgrade) {
    for (const node of scope.nodes) {
      if (isDefaultDomain(node.domain)) continue;
      const key = `${node.domain}:${node.op_type ?? '?'}`;
      const entry = counts.get(key) ?? { domain: node.domain ?? '', op: node.op_type ?? '?', n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
  }
  return [...counts.values()].map((e) => ({ name: `${e.domain}.${e.op}`, opType: e.op, reason: `${e.n} node${e.n > 1 ? 's' : ''} of domain ${e.domain}: left at their own opset` }));
}

function refusalError(refusals: string[], from: number, target: number): UserError {
  const more = refusals.length > 3 ? `; and ${refusals.length - 3} more` : '';
  return new UserError(`opset-upgrade: cannot upgrade from opset ${from} to ${target} without changing what the model computes: ${refusals.slice(0, 3).join('; ')}${more}`);
}

/** Sets the default-domain import to `target` and raises the IR version to what that opset needs. */
function setOpset(model: ModelProto, target: number): void {
  for (const entry of model.opset_import) if (isDefaultDomain(entry.domain)) entry.version = target;
  if (Number(model.ir_version ?? 3) < minIrVersion(target)) model.ir_version = minIrVersion(target);
}

/**
 * Upgrades the model's default-domain opset to `target` in place. Throws UserError (and leaves the
 * model unchanged) when an op cannot be upgraded faithfully; a model already at or above the target
 * is left unchanged with a note in `warnings`.
 */
export function upgradeOpset(model: ModelProto, target: number): UpgradeResult {
  checkTarget(target);
  const from = defaultOpset(model);
  const result: UpgradeResult = { changed: [], skipped: [], warnings: [], stats: { fromOpset: from, toOpset: Math.max(from, target), nodesRewritten: 0 } };
  if (from >= target || !model.graph) {
    result.warnings.push(`the model already imports opset ${from} (target ${target}): nothing to upgrade`);
    return result;
  }
  if (from < OLDEST_OPSET) throw new UserError(`opset-upgrade: models from opset ${from} cannot be upgraded (oldest supported: opset ${OLDEST_OPSET}, as in onnxruntime)`);
  checkFunctions(model, from, target);
  const [nodesBefore, irBefore] = [countNodes(model), Number(model.ir_version ?? 3)];
  const shapes = tryInferShapes(model, result.warnings);
  const { scopes, origins } = buildScopes(model.graph, shapes?.graphs);
  const upgrade = new Upgrade({ from, to: target, names: new Names(model), warnings: result.warnings, fromUpsample: new WeakSet() }, origins);
  for (const scope of scopes) for (const node of scope.nodes) if (isDefaultDomain(node.domain)) upgrade.check(node);
  for (let version = from + 1; version <= target; version++) {
    for (const scope of scopes) scope.nodes = scope.nodes.flatMap((node) => upgrade.cross(node, version, scope));
  }
  if (upgrade.refusals.length) throw refusalError(upgrade.refusals, from, target);
  for (const scope of scopes) scope.commit();
  setOpset(model, target);
  result.changed = [...upgrade.notes].map(([origin, notes]) => ({ name: origin.name, opType: origin.opType, action: notes.join('; ') }));
  result.skipped = skippedDomains(scopes);
  const initializersAdded = scopes.reduce((n, s) => n + s.added.length, 0);
  Object.assign(result.stats, { nodesRewritten: result.changed.length, nodesBefore, nodesAfter: countNodes(model), initializersAdded, irVersionBefore: irBefore, irVersionAfter: Number(model.ir_version) });
  return result;
}
