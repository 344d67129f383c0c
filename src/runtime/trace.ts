/**
 * onnxruntime's profile (a Chrome trace: a JSON array of events) turned into per-node times named the
 * way the model names its nodes. Pure functions: no file access, no onnxruntime.
 *
 * Events used:
 * - `cat: "Session", name: "model_run"`: one per InferenceSession.run(), giving each run's time window;
 * - `cat: "Node"`, name ending in "_kernel_time": one per kernel execution, with `dur` (µs) and
 *   `args.op_name`. (ORT also emits "_fence_before"/"_fence_after" events; they are not kernel time.)
 *
 * ORT's node names differ from the model's where its graph rewrites renamed or created nodes:
 * - fusions keep the first node's name behind a prefix ("fused g0" for Gemm+Relu -> FusedGemm) or add a
 *   suffix ("mm/MatMulAddFusion");
 * - the NCHWc layout transformer names its nodes after their output tensor plus "_nchwc"
 *   ("batch_norm_67.tmp_2_nchwc" is a Conv fused with the BatchNormalization producing that tensor);
 * - names made unique get "_token_<n>";
 * - layout transforms insert nodes of their own (ReorderInput, ReorderOutput) that exist nowhere in the
 *   model; those keep ORT's name and are marked `inserted`.
 */
import type { NodeTime } from '../core/reports';

export interface KernelEvent {
  /** ORT's node name, without the "_kernel_time" suffix. */
  name: string;
  /** The op ORT ran (after fusion, e.g. FusedGemm). */
  opType: string;
  durUs: number;
  /** Start, in µs since the profiler started. */
  ts: number;
}

export interface RunWindow {
  ts: number;
  dur: number;
}

export interface ParsedTrace {
  kernels: KernelEvent[];
  /** model_run windows in time order; empty if the trace has none. */
  runs: RunWindow[];
}

/** The parts of a model node the name mapping needs. */
export interface ModelNodeRef {
  /** Display name: the node's name or "<OpType>_<index>". */
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

const KERNEL_SUFFIX = '_kernel_time';

// ---------------------------------------------------------------------------------------------------
// Parsing

interface RawEvent {
  cat?: unknown;
  name?: unknown;
  dur?: unknown;
  ts?: unknown;
  args?: { op_name?: unknown };
}

/** Reads the trace JSON (text or already parsed); unknown events are ignored. */
export function parseTrace(json: unknown): ParsedTrace {
  const events: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  // Chrome's other trace layout wraps the array: {"traceEvents": [...]}.
  const list = Array.isArray(events) ? events : (events as { traceEvents?: unknown })?.traceEvents;
  if (!Array.isArray(list)) throw new Error('not an onnxruntime profile: expected a JSON array of trace events');
  const kernels: KernelEvent[] = [];
  const runs: RunWindow[] = [];
  for (const raw of list as RawEvent[]) {
    if (raw === null || typeof raw !== 'object') continue;
    const kernel = kernelOf(raw);
    if (kernel) kernels.push(kernel);
    else if (raw.cat === 'Session' && raw.name === 'model_run') runs.push({ ts: Number(raw.ts) || 0, dur: Number(raw.dur) || 0 });
  }
  runs.sort((a, b) => a.ts - b.ts);
  return { kernels, runs };
}

function kernelOf(raw: RawEvent): KernelEvent | undefined {
  if (raw.cat !== 'Node' || typeof raw.name !== 'string' || !raw.name.endsWith(KERNEL_SUFFIX)) return undefined;
  const durUs = Number(raw.dur);
  if (!Number.isFinite(durUs)) return undefined;
  const opType = typeof raw.args?.op_name === 'string' ? raw.args.op_name : '';
  return { name: raw.name.slice(0, -KERNEL_SUFFIX.length), opType, durUs, ts: Number(raw.ts) || 0 };
}

interface CountedKernels {
  kernels: KernelEvent[];
  /** Runs the kernels belong to. */
  runs: number;
  warning?: string;
}

/**
 * Kernels of the runs that count, leaving out the first `skipRuns` (warm-up: profiling starts with the
 * session, so warm-up runs cannot be kept out of the file). Each kernel belongs to the model_run
 * window it starts in. Traces without windows: every run executes the same kernels in the same order,
 * so the warm-up is the first 1/runsInTrace of the kernels by time; if the count does not divide
 * evenly, everything is averaged, warm-up included, with a warning.
 */
export function countedKernels(trace: ParsedTrace, skipRuns: number, runsInTrace = 1): CountedKernels {
  if (trace.runs.length > 0) {
    const counted = trace.runs.slice(skipRuns);
    const inCounted = (k: KernelEvent) => counted.some((r) => k.ts >= r.ts && k.ts <= r.ts + r.dur);
    return { kernels: trace.kernels.filter(inCounted), runs: counted.length };
  }
  const runs = Math.max(1, runsInTrace);
  const perRun = trace.kernels.length / runs;
  if (skipRuns === 0 || trace.kernels.length === 0) return { kernels: trace.kernels, runs };
  if (!Number.isInteger(perRun) || skipRuns >= runs) {
    return { kernels: trace.kernels, runs, warning: 'the profile has no model_run events: per-node times include the warm-up run' };
  }
  const byTime = [...trace.kernels].sort((a, b) => a.ts - b.ts);
  return { kernels: byTime.slice(perRun * skipRuns), runs: runs - skipRuns };
}

// ---------------------------------------------------------------------------------------------------
// Name mapping

export interface NameMatch {
  /** Model display name, or ORT's name when inserted. */
  name: string;
  /** The model node's op type, or ORT's op for inserted nodes. */
  opType: string;
  inserted: boolean;
}

/** Lookups over the model's nodes, built once per trace. */
export class NodeNameIndex {
  private readonly byName = new Map<string, ModelNodeRef>();
  private readonly producerOf = new Map<string, ModelNodeRef>();
  /** Longest first, for the "contains" fallback. */
  private readonly namesByLength: string[];

  constructor(nodes: readonly ModelNodeRef[]) {
    for (const node of nodes) {
      if (!this.byName.has(node.name)) this.byName.set(node.name, node);
      for (const out of node.outputs) if (out) this.producerOf.set(out, node);
    }
    this.namesByLength = [...this.byName.keys()].filter((n) => n.length > 0).sort((a, b) => b.length - a.length);
  }

  node(name: string): ModelNodeRef | undefined {
    return this.byName.get(name);
  }

  producer(tensor: string): ModelNodeRef | undefined {
    return this.producerOf.get(tensor);
  }

  /** The longest model node name that `text` contains at word-ish boundaries. */
  longestContained(text: string): ModelNodeRef | undefined {
    const found = this.namesByLength.find((name) => containsAtBoundary(text, name));
    return found === undefined ? undefined : this.byName.get(found);
  }
}

/** A name found inside another must not be glued to letters or digits ("Add.2" is not in "Add.20"). */
function containsAtBoundary(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + 1)) {
    const before = text[at - 1];
    const after = text[at + name.length];
    if (!isAlnum(before) && !isAlnum(after)) return true;
  }
  return false;
}

function isAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9]/.test(ch);
}

const PREFIXES = [/^fused /i];
const SUFFIXES = [/_nchwc$/, /_token_\d+$/, /_fence_(before|after)$/, /\/[A-Za-z0-9]*Fusion$/];

/** ORT's name without the prefixes and suffixes its rewrites add, applied until nothing changes. */
export function stripOrtDecorations(ortName: string): string {
  let name = ortName;
  for (let changed = true; changed; ) {
    const before = name;
    for (const re of [...PREFIXES, ...SUFFIXES]) name = name.replace(re, '');
    changed = name !== before;
  }
  return name;
}

/**
 * The node a tensor's producer stands for: when ORT fused a chain (Conv+BatchNormalization+Relu named
 * after the last output) and reports the op of its head (Conv), walk up the chain to the node of that
 * op. Falls back to the producer itself.
 */
function fusionHead(index: NodeNameIndex, producer: ModelNodeRef, opType: string): ModelNodeRef {
  let node = producer;
  for (let depth = 0; depth < 4 && node.opType !== opType; depth++) {
    const upstream = node.inputs.map((t) => index.producer(t)).find((p) => p !== undefined && p.opType !== 'Constant');
    if (!upstream) break;
    node = upstream;
  }
  return node.opType === opType ? node : producer;
}

/** Maps one ORT node name (and the op it ran) to a model node, or marks it inserted. */
export function mapOrtName(ortName: string, opType: string, index: NodeNameIndex): NameMatch {
  const found = findModelNode(ortName, opType, index);
  return found ? { name: found.name, opType: found.opType, inserted: false } : { name: ortName, opType, inserted: true };
}

/** ORT's fused kernels (FusedConv, FusedGemm, FusedMatMul) stand for the op they start with. */
function headOp(ortOpType: string): string {
  return ortOpType.startsWith('Fused') ? ortOpType.slice('Fused'.length) : ortOpType;
}

/**
 * A node found by name that is not the op ORT ran: ORT named a fused chain after its last node
 * (Conv+BatchNormalization+Relu as "relu_1_nchwc", running Conv), so walk up to the chain's head.
 */
function headOfNamedChain(found: ModelNodeRef, ortOpType: string, index: NodeNameIndex): ModelNodeRef {
  const op = headOp(ortOpType);
  return found.opType === op || !FUSED_TAILS.has(found.opType) ? found : fusionHead(index, found, op);
}

/** Ops ORT folds into the Conv/Gemm/MatMul before them (BatchNorm folding, activation fusion). */
const FUSED_TAILS = new Set(['BatchNormalization', 'Relu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Tanh', 'Add', 'Sum']);

function findModelNode(ortName: string, opType: string, index: NodeNameIndex): ModelNodeRef | undefined {
  const exact = index.node(ortName);
  if (exact) return headOfNamedChain(exact, opType, index);
  const stripped = stripOrtDecorations(ortName);
  const renamed = index.node(stripped);
  if (renamed) return headOfNamedChain(renamed, opType, index);
  const producer = index.producer(stripped);
  if (producer) return fusionHead(index, producer, headOp(opType));
  return index.longestContained(stripped) ?? index.longestContained(ortName);
}

// ---------------------------------------------------------------------------------------------------
// Aggregation

export interface TraceSummaryOptions {
  /** Runs at the start of the trace to leave out (warm-up). */
  skipRuns?: number;
  /** Total runs in the trace (warm-up included), used only when it has no model_run events. */
  runsInTrace?: number;
}

export interface TraceSummary {
  nodes: NodeTime[];
  /** Runs the means are over. */
  runs: number;
  /** Sum of the counted kernels' mean times per run, µs. */
  totalUs: number;
  warnings: string[];
}

interface Accumulator {
  match: NameMatch;
  totalUs: number;
  ortNames: Set<string>;
}

/** Per-node mean time and share of kernel time, largest first. */
export function summarizeTrace(trace: ParsedTrace, modelNodes: readonly ModelNodeRef[], options: TraceSummaryOptions = {}): TraceSummary {
  const counted = countedKernels(trace, options.skipRuns ?? 0, options.runsInTrace);
  const { runs } = counted;
  const entries = accumulate(counted.kernels, new NodeNameIndex(modelNodes));
  const grandTotal = entries.reduce((s, e) => s + e.totalUs, 0);
  const nodes = entries.map((e) => toNodeTime(e, runs, grandTotal)).sort((a, b) => b.meanUs - a.meanUs || a.name.localeCompare(b.name));
  return { nodes, runs, totalUs: runs > 0 ? grandTotal / runs : 0, warnings: counted.warning ? [counted.warning] : [] };
}

function accumulate(kernels: KernelEvent[], index: NodeNameIndex): Accumulator[] {
  const byOrtName = new Map<string, NameMatch>();
  const byTarget = new Map<string, Accumulator>();
  for (const k of kernels) {
    let match = byOrtName.get(k.name);
    if (!match) byOrtName.set(k.name, (match = mapOrtName(k.name, k.opType, index)));
    const key = `${match.inserted ? 'ort' : 'model'}:${match.name}`;
    let acc = byTarget.get(key);
    if (!acc) byTarget.set(key, (acc = { match, totalUs: 0, ortNames: new Set() }));
    acc.totalUs += k.durUs;
    acc.ortNames.add(k.name);
  }
  return [...byTarget.values()];
}

function toNodeTime(acc: Accumulator, runs: number, grandTotal: number): NodeTime {
  return {
    name: acc.match.name,
    opType: acc.match.opType,
    meanUs: acc.totalUs / runs,
    share: grandTotal > 0 ? acc.totalUs / grandTotal : 0,
    ortNames: [...acc.ortNames].sort(),
    inserted: acc.match.inserted,
  };
}
