/**
 * Constant weights wherever a model keeps them (initializers, Constant nodes, an outer graph seen from
 * an If/Loop/Scan body) and the edits weight-rewriting passes make: add new tensors beside the old
 * ones with unique names, then drop the old ones once nothing reads them any more.
 *
 * Also the one place that recognises linear layers (MatMul with a constant 2-D weight, Gemm) for the
 * quantization passes, so int8 and int4 agree on what they can rewrite and why they skip the rest.
 */
import { node, tensorProto, valueInfo } from '../../onnx/build';
import { DataType, dtypeName } from '../../onnx/dtypes';
import { attrFloat, attrInt, GraphIndex } from '../../onnx/graph';
import { dimsOf, isExternal, tensorByteLength, tensorElementCount, tensorValues } from '../../onnx/tensor';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/types';
import type { PassContext, PassReport } from '../pass';
import { transpose2d } from './math';

// ---------------------------------------------------------------------------------------------
// Scopes

/** One graph of the model with its index and the graph whose names it can read (outer scope). */
export interface Scope {
  readonly id: number;
  readonly graph: GraphProto;
  readonly index: GraphIndex;
  readonly parent?: Scope;
  /** "" for the main graph, otherwise e.g. "If_0/then_branch". */
  readonly path: string;
}

function subgraphsOf(n: NodeProto): { graph: GraphProto; label: string }[] {
  const out: { graph: GraphProto; label: string }[] = [];
  for (const a of n.attribute) {
    if (a.g) out.push({ graph: a.g, label: a.name ?? 'graph' });
    a.graphs.forEach((g, i) => out.push({ graph: g, label: `${a.name ?? 'graphs'}[${i}]` }));
  }
  return out;
}

/** Every graph of the model, parents before children, each indexed with its parent as outer scope. */
export function modelScopes(model: ModelProto): Scope[] {
  const scopes: Scope[] = [];
  const visit = (graph: GraphProto, parent: Scope | undefined, path: string, depth: number): void => {
    // Graphs nest through attributes; a hostile file could nest them until the stack overflows.
    if (depth > 100) throw new RangeError(`subgraphs nested more than 100 deep at ${path}`);
    const scope: Scope = { id: scopes.length, graph, index: new GraphIndex(graph, parent?.index), parent, path };
    scopes.push(scope);
    graph.node.forEach((n, i) => {
      for (const sub of subgraphsOf(n)) visit(sub.graph, scope, `${path ? path + '/' : ''}${scope.index.names[i]}/${sub.label}`, depth + 1);
    });
  };
  if (model.graph) visit(model.graph, undefined, '', 0);
  return scopes;
}

/** A node's name for reports: its display name, prefixed by the subgraph path when nested. */
export function reportName(scope: Scope, nodeIndex: number): string {
  const name = scope.index.names[nodeIndex];
  return scope.path ? `${scope.path}/${name}` : name;
}

// ---------------------------------------------------------------------------------------------
// Weights

/** A constant tensor as a node reads it, and the graph that holds it. */
export interface WeightRef {
  readonly name: string;
  readonly tensor: TensorProto;
  readonly owner: Scope;
  readonly holder: 'initializer' | 'constant';
}

function isGraphInput(graph: GraphProto, name: string): boolean {
  return graph.input.some((v) => v.name === name);
}

/**
 * The constant `name` resolves to from `scope`: its own initializers and Constant nodes first, then the
 * enclosing graphs. A name produced by a node or fed as an input is not a constant, and it hides any
 * outer tensor of the same name.
 */
export function resolveWeight(scope: Scope, name: string): WeightRef | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const init = s.index.initializers.get(name);
    if (init) return { name, tensor: init, owner: s, holder: 'initializer' };
    const constant = s.index.constants.get(name);
    if (constant) return { name, tensor: constant, owner: s, holder: 'constant' };
    if (s.index.producer.has(name) || isGraphInput(s.graph, name)) return undefined;
  }
  return undefined;
}

/** A float32 tensor's values without copying when its raw bytes are aligned; undefined otherwise. */
export function float32Values(t: TensorProto): Float32Array | undefined {
  if (t.data_type !== DataType.FLOAT || isExternal(t)) return undefined;
  const count = tensorElementCount(t);
  const raw = t.raw_data;
  if (raw !== undefined) {
    if (raw.length < count * 4) return undefined;
    if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, count);
    // Misaligned (raw_data views the file buffer): copy. Buffer#slice would not copy.
    const copy = new Uint8Array(count * 4);
    copy.set(raw.subarray(0, count * 4));
    return new Float32Array(copy.buffer);
  }
  if (t.float_data instanceof Float32Array && t.float_data.length >= count) return t.float_data.subarray(0, count);
  if (t.float_data.length >= count) return Float32Array.from(t.float_data.slice(0, count));
  const values = tensorValues(t);
  return values ? Float32Array.from(values) : undefined;
}

/** Every tensor name and node name in the model, so new ones never collide (outer scopes included). */
function collectNames(model: ModelProto): Set<string> {
  const names = new Set<string>();
  const add = (n: string | undefined) => n && names.add(n);
  for (const scope of modelScopes(model)) {
    const g = scope.graph;
    for (const v of [...g.input, ...g.output, ...g.value_info]) add(v.name);
    for (const t of g.initializer) add(t.name);
    for (const n of g.node) {
      add(n.name);
      n.input.forEach(add);
      n.output.forEach(add);
    }
  }
  return names;
}

/** Names read anywhere: node inputs and graph outputs of every graph (subgraphs read outer names). */
function usedNames(model: ModelProto): Set<string> {
  const used = new Set<string>();
  for (const scope of modelScopes(model)) {
    for (const n of scope.graph.node) for (const input of n.input) if (input) used.add(input);
    for (const v of scope.graph.output) if (v.name) used.add(v.name);
  }
  return used;
}

export interface NewTensor {
  dims: number[];
  dataType: number;
  data: ArrayBufferView;
}

/**
 * Adds tensors to a model and retires the ones they replace. Retired weights are removed by
 * `removeRetired` only if no node anywhere still reads them (a weight shared with a node the pass
 * skipped stays).
 */
export class WeightEditor {
  private readonly names: Set<string>;
  private readonly retired = new Map<string, WeightRef>();

  constructor(readonly model: ModelProto) {
    this.names = collectNames(model);
  }

  /** `base` if unused, otherwise `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Adds an initializer to the scope's graph and returns its (unique) name. */
  addInitializer(scope: Scope, base: string, t: NewTensor): string {
    const name = this.uniqueName(base);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    scope.graph.initializer.push(tensorProto({ name, dims: t.dims, data_type: t.dataType, raw_data: bytes }));
    // Before IR 4 every initializer of the main graph must also be listed as a graph input.
    if (!scope.parent && Number(this.model.ir_version ?? 8) < 4) scope.graph.input.push(valueInfo(name, t.dataType, t.dims));
    return name;
  }

  /** Marks a weight the pass no longer reads; it goes away in removeRetired if nothing else does. */
  retire(ref: WeightRef): void {
    this.retired.set(`${ref.owner.id}:${ref.name}`, ref);
  }

  /** Removes retired weights nobody reads; returns how many and their bytes. */
  removeRetired(): { tensors: number; bytes: number } {
    const used = usedNames(this.model);
    let tensors = 0;
    let bytes = 0;
    for (const ref of this.retired.values()) {
      if (used.has(ref.name)) continue;
      removeWeight(ref);
      tensors++;
      bytes += tensorByteLength(ref.tensor);
    }
    this.retired.clear();
    return { tensors, bytes };
  }
}

function removeWeight(ref: WeightRef): void {
  const g = ref.owner.graph;
  if (ref.holder === 'initializer') g.initializer = g.initializer.filter((t) => t !== ref.tensor);
  else g.node = g.node.filter((n) => !(n.op_type === 'Constant' && n.output[0] === ref.name));
  // An initializer listed as an input was overridable; with the tensor gone the input must go too.
  g.input = g.input.filter((v) => v.name !== ref.name);
  g.value_info = g.value_info.filter((v) => v.name !== ref.name);
}

// ---------------------------------------------------------------------------------------------
// Linear layers

/** y = input · W (+ bias), with W a constant [K, N] after Gemm's transB and alpha are applied. */
export interface LinearLayer {
  readonly node: NodeProto;
  readonly scope: Scope;
  readonly input: string;
  readonly output: string;
  readonly weight: WeightRef;
  readonly K: number;
  readonly N: number;
  /** Gemm transB=1: the stored weight is [N, K]. */
  readonly transposed: boolean;
  readonly alpha: number;
  /** Gemm's C (broadcast to [M, N]) times beta. */
  readonly bias?: { name: string; beta: number };
}

export type LinearMatch = { layer: LinearLayer; skip?: undefined } | { layer?: undefined; skip: string };

function isDefaultDomain(n: NodeProto): boolean {
  return n.domain === undefined || n.domain === '' || n.domain === 'ai.onnx';
}

/** Checks the weight input of a MatMul/Gemm; returns the weight or why it cannot be quantized. */
function checkWeight(scope: Scope, name: string): { weight: WeightRef; dims: number[] } | { skip: string } {
  const weight = resolveWeight(scope, name);
  if (!weight) return { skip: `weight ${name} is not a constant (it is computed or fed as an input)` };
  const dims = dimsOf(weight.tensor);
  if (weight.tensor.data_type !== DataType.FLOAT) return { skip: `weight ${name} is ${dtypeName(weight.tensor.data_type)}; only float32 weights are quantized` };
  if (dims.length !== 2) return { skip: `weight ${name} is ${dims.length}-D [${dims.join(', ')}]; only 2-D weights are quantized` };
  if (dims[0] === 0 || dims[1] === 0) return { skip: `weight ${name} is empty` };
  if (!float32Values(weight.tensor)) return { skip: `weight ${name} has no data loaded` };
  return { weight, dims };
}

function matchMatMul(scope: Scope, n: NodeProto): LinearMatch {
  const checked = checkWeight(scope, n.input[1] ?? '');
  if ('skip' in checked) return { skip: checked.skip };
  const [K, N] = checked.dims;
  return { layer: { node: n, scope, input: n.input[0], output: n.output[0], weight: checked.weight, K, N, transposed: false, alpha: 1 } };
}

function matchGemm(scope: Scope, n: NodeProto): LinearMatch {
  if (attrInt(n, 'transA', 0) !== 0) return { skip: 'Gemm with transA=1 is not rewritten' };
  const checked = checkWeight(scope, n.input[1] ?? '');
  if ('skip' in checked) return { skip: checked.skip };
  const transposed = attrInt(n, 'transB', 0) !== 0;
  const [K, N] = transposed ? [checked.dims[1], checked.dims[0]] : checked.dims;
  const beta = attrFloat(n, 'beta', 1);
  const bias = n.input[2] && beta !== 0 ? { name: n.input[2], beta } : undefined;
  const layer: LinearLayer = { node: n, scope, input: n.input[0], output: n.output[0], weight: checked.weight, K, N, transposed, alpha: attrFloat(n, 'alpha', 1), bias };
  return { layer };
}

/** A MatMul or Gemm as a linear layer, a reason it is not one we can rewrite, or undefined for other ops. */
export function matchLinear(scope: Scope, n: NodeProto): LinearMatch | undefined {
  if (!isDefaultDomain(n)) return undefined;
  if (n.op_type === 'MatMul') return matchMatMul(scope, n);
  if (n.op_type === 'Gemm') return matchGemm(scope, n);
  return undefined;
}

/** Identifies the effective weight, so layers sharing a tensor (with the same transB/alpha) share its quantized form. */
export function weightKey(layer: LinearLayer): string {
  return `${layer.weight.owner.id}:${layer.weight.name}:${layer.transposed ? 'T' : 'N'}:${layer.alpha}`;
}

/** The layer's weight as [K, N] row-major float32, with transB and alpha applied. */
export function linearWeight(layer: LinearLayer): Float32Array {
  const stored = float32Values(layer.weight.tensor) as Float32Array;
  const { K, N, alpha } = layer;
  const out = layer.transposed ? transpose2d(stored, N, K) : stored;
  return alpha === 1 ? out : out.map((v) => v * alpha);
}

/** The layer's weight as [N, K] row-major (one output column after another), transB and alpha applied. */
export function linearWeightColumns(layer: LinearLayer): Float32Array {
  const stored = float32Values(layer.weight.tensor) as Float32Array;
  const { K, N, alpha } = layer;
  const out = layer.transposed ? stored : transpose2d(stored, K, N);
  return alpha === 1 ? out : out.map((v) => v * alpha);
}

/**
 * Nodes that add the Gemm bias to `product` and write the layer's output. The bias is the Add's second
 * input, as onnxruntime's MatMulIntegerToFloatFusion (core/optimizer/matmul_integer_to_float.cc) expects
 * when it folds a constant bias into the fused node. beta != 1 is folded into a constant C, or
 * applied with a Mul when C is computed.
 */
export function biasNodes(editor: WeightEditor, layer: LinearLayer, product: string, baseName: string): NodeProto[] {
  const bias = layer.bias;
  if (!bias) return [];
  const add = (c: string) => node('Add', [product, c], [layer.output], {}, editor.uniqueName(`${baseName}_bias_Add`));
  if (bias.beta === 1) return [add(bias.name)];
  const constant = resolveWeight(layer.scope, bias.name);
  const values = constant && float32Values(constant.tensor);
  if (constant && values) {
    const scaled = values.map((v) => v * bias.beta);
    const name = editor.addInitializer(constant.owner, `${bias.name}_times_beta`, { dims: dimsOf(constant.tensor), dataType: DataType.FLOAT, data: scaled });
    editor.retire(constant);
    return [add(name)];
  }
  const beta = editor.addInitializer(layer.scope, `${baseName}_beta`, { dims: [], dataType: DataType.FLOAT, data: Float32Array.of(bias.beta) });
  const scaledC = editor.uniqueName(`${baseName}_scaled_bias`);
  return [node('Mul', [bias.name, beta], [scaledC], {}, editor.uniqueName(`${baseName}_beta_Mul`)), add(scaledC)];
}

/** What a pass does with each linear layer that passed the shared checks. */
export interface LinearRewriter {
  /** A reason to leave this layer alone (beyond the shared checks), or undefined. */
  check?(layer: LinearLayer): string | undefined;
  /** Nodes replacing the layer's node; they must write the layer's output tensor. */
  rewrite(layer: LinearLayer): NodeProto[];
  /** The report's action text for a rewritten layer. */
  describe(layer: LinearLayer): string;
}

/** The replacement for node i of the scope, recording it as changed or skipped. */
function rewriteNode(ctx: PassContext, report: PassReport, rewriter: LinearRewriter, scope: Scope, i: number): NodeProto[] {
  const n = scope.graph.node[i];
  const match = matchLinear(scope, n);
  if (!match) return [n];
  const name = reportName(scope, i);
  const opType = n.op_type ?? '';
  const reason = ctx.isExcluded(n, scope.index.names[i]) ? 'excluded' : (match.skip ?? rewriter.check?.(match.layer));
  if (reason !== undefined || !match.layer) {
    report.skipped.push({ name, opType, reason: reason ?? 'not a linear layer' });
    return [n];
  }
  const nodes = rewriter.rewrite(match.layer);
  report.changed.push({ name, opType, action: rewriter.describe(match.layer) });
  return nodes;
}

/** Runs the rewriter over every MatMul/Gemm of every graph (subgraphs included), keeping node order. */
export function rewriteLinearLayers(ctx: PassContext, report: PassReport, rewriter: LinearRewriter): void {
  for (const scope of modelScopes(ctx.model)) {
    const count = scope.graph.node.length;
    const out: NodeProto[] = [];
    for (let i = 0; i < count; i++) out.push(...rewriteNode(ctx, report, rewriter, scope, i));
    scope.graph.node = out;
  }
}

/** Default-domain opset the model imports (0 when none is listed). */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? Number(entry.version ?? 0) : 0;
}

/** Adds an opset import for `domain` unless the model already has one. */
export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  if (!model.opset_import.some((o) => o.domain === domain)) model.opset_import.push({ domain, version });
}
