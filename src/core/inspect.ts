/**
 * `inspect`: what a model is made of, without running it. Per layer (every node of the main graph
 * and of its subgraphs, Constant nodes excepted): weights, sparsity, MACs and output shapes. Model
 * totals count each weight tensor once, wherever it lives.
 */
import { dtypeName, isFloating } from '../onnx/dtypes';
import { constantTensor, type GraphIndex } from '../onnx/graph';
import type { LoadedModel } from '../onnx/io';
import { tensorByteLength, tensorElementCount, zeroFraction } from '../onnx/tensor';
import type { GraphProto, ModelProto, NodeProto, SparseTensorProto, TensorProto, TypeProto, ValueInfoProto } from '../onnx/types';
import { forEachGraph } from '../onnx/walk';
import { countsMacs, nodeMacs } from './macs';
import type { InspectReport, LayerInfo, TensorSummary } from './reports';
import { inferModelShapes, shapeOfType, type GraphShapes, type ModelShapes, type Shape } from './shapes';

export interface InspectOptions {
  /** Input name -> dims, replacing the symbolic dims of those inputs. */
  shapes?: Record<string, number[]>;
}

// ---------------------------------------------------------------------------------------------
// Weight statistics, computed once per tensor

interface WeightStats {
  elements: number;
  bytes: Record<string, number>;
  dtype: string;
  floating: boolean;
  /** Exact zeros among the elements, and how many elements could be read to count them. */
  zeros: number;
  counted: number;
}

type Weight = { kind: 'dense'; tensor: TensorProto } | { kind: 'sparse'; tensor: SparseTensorProto };

function denseStats(t: TensorProto): WeightStats {
  const floating = isFloating(t.data_type);
  const zf = floating ? zeroFraction(t) : undefined;
  const dtype = dtypeName(t.data_type);
  return { elements: tensorElementCount(t), bytes: { [dtype]: tensorByteLength(t) }, dtype, floating, zeros: zf?.zeros ?? 0, counted: zf?.count ?? 0 };
}

/** A sparse tensor stands for its dense shape; the elements it does not store are zeros. */
function sparseStats(s: SparseTensorProto): WeightStats {
  const values = s.values ? denseStats(s.values) : undefined;
  const elements = s.dims.reduce<number>((n, d) => n * Number(d), 1);
  const bytes = { ...(values?.bytes ?? {}) };
  if (s.indices) addBytes(bytes, { [dtypeName(s.indices.data_type)]: tensorByteLength(s.indices) });
  const stored = values?.elements ?? 0;
  const floating = values?.floating ?? false;
  const zeros = floating ? elements - stored + (values?.zeros ?? 0) : 0;
  return { elements, bytes, dtype: values?.dtype ?? dtypeName(undefined), floating, zeros, counted: floating ? elements - stored + (values?.counted ?? 0) : 0 };
}

class StatsCache {
  private readonly cache = new Map<object, WeightStats>();

  of(w: Weight): WeightStats {
    let s = this.cache.get(w.tensor);
    if (!s) {
      s = w.kind === 'dense' ? denseStats(w.tensor) : sparseStats(w.tensor);
      this.cache.set(w.tensor, s);
    }
    return s;
  }
}

function addBytes(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** Running totals over a set of weights. */
class Totals {
  params = 0;
  readonly bytes: Record<string, number> = {};
  private zeros = 0;
  private counted = 0;

  add(s: WeightStats): void {
    addBytes(this.bytes, s.bytes);
    if (!s.floating) return;
    this.params += s.elements;
    this.zeros += s.zeros;
    this.counted += s.counted;
  }

  get sparsity(): number {
    return this.counted ? this.zeros / this.counted : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Layers

const sparseByGraph = new WeakMap<GraphIndex, Map<string, SparseTensorProto>>();

function sparseInitializers(index: GraphIndex): Map<string, SparseTensorProto> {
  let map = sparseByGraph.get(index);
  if (!map) {
    map = new Map();
    for (const s of index.graph.sparse_initializer) if (s.values?.name) map.set(s.values.name, s);
    sparseByGraph.set(index, map);
  }
  return map;
}

function sparseIn(index: GraphIndex, name: string): SparseTensorProto | undefined {
  for (let g: GraphIndex | undefined = index; g; g = g.outer) {
    const found = sparseInitializers(g).get(name);
    if (found) return found;
  }
  return undefined;
}

/** The constant weight behind an input name: initializer, Constant output or sparse initializer. */
function weightOf(index: GraphIndex, name: string): Weight | undefined {
  if (!name || (index.producer.has(name) && !index.constants.has(name))) return undefined;
  const dense = index.weight(name);
  if (dense) return { kind: 'dense', tensor: dense };
  const sparse = sparseIn(index, name);
  return sparse ? { kind: 'sparse', tensor: sparse } : undefined;
}

function nodeWeights(index: GraphIndex, node: NodeProto): Weight[] {
  const seen = new Set<object>();
  const out: Weight[] = [];
  for (const name of node.input) {
    const w = weightOf(index, name);
    if (w && !seen.has(w.tensor)) {
      seen.add(w.tensor);
      out.push(w);
    }
  }
  return out;
}

function layerInfo(scope: GraphShapes, i: number, path: string, cache: StatsCache): LayerInfo {
  const node = scope.index.graph.node[i];
  const totals = new Totals();
  const stats = nodeWeights(scope.index, node).map((w) => cache.of(w));
  stats.forEach((s) => totals.add(s));
  const shapeOf = (names: string[]) => (k: number) => scope.shape(names[k] ?? '');
  return {
    name: `${path ? path + '/' : ''}${scope.index.names[i]}`,
    opType: node.op_type ?? '',
    domain: node.domain ?? '',
    params: totals.params,
    paramBytes: totals.bytes,
    sparsity: totals.sparsity,
    macs: nodeMacs(node, shapeOf(node.input), shapeOf(node.output)),
    outputShapes: node.output.map((name) => scope.shape(name)),
    weightDtypes: [...new Set(stats.map((s) => s.dtype))],
  };
}

function isConstantNode(node: NodeProto): boolean {
  return node.op_type === 'Constant' && (node.domain ?? '') === '';
}

function opKey(node: NodeProto): string {
  const domain = node.domain ?? '';
  return domain && domain !== 'ai.onnx' ? `${domain}.${node.op_type ?? ''}` : (node.op_type ?? '');
}

// ---------------------------------------------------------------------------------------------
// Model totals

/** Every weight tensor of the model, each once: initializers, sparse initializers, Constant nodes. */
function allWeights(model: ModelProto): Weight[] {
  const out: Weight[] = [];
  const constants = (nodes: NodeProto[]) => {
    for (const node of nodes) {
      const t = constantTensor(node);
      if (t) out.push({ kind: 'dense', tensor: t });
    }
  };
  forEachGraph(model, ({ graph }) => {
    for (const t of graph.initializer) out.push({ kind: 'dense', tensor: t });
    for (const s of graph.sparse_initializer) out.push({ kind: 'sparse', tensor: s });
    constants(graph.node);
  });
  for (const f of model.functions) constants(f.node);
  return out;
}

function weightTotals(model: ModelProto, cache: StatsCache): Totals {
  const totals = new Totals();
  const seen = new Set<object>();
  for (const w of allWeights(model)) {
    if (seen.has(w.tensor)) continue;
    seen.add(w.tensor);
    totals.add(cache.of(w));
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Inputs, outputs, warnings

function typeName(type: TypeProto | undefined): string {
  if (type?.tensor_type) return dtypeName(type.tensor_type.elem_type);
  if (type?.sparse_tensor_type) return `sparse ${dtypeName(type.sparse_tensor_type.elem_type)}`;
  if (type?.sequence_type) return `sequence<${typeName(type.sequence_type.elem_type)}>`;
  if (type?.optional_type) return `optional<${typeName(type.optional_type.elem_type)}>`;
  if (type?.map_type) return 'map';
  return 'unknown';
}

function summary(v: ValueInfoProto, shape: Shape | null): TensorSummary {
  return { name: v.name ?? '', dtype: typeName(v.type), shape };
}

function symbols(shape: Shape | null): string[] {
  return (shape ?? []).filter((d): d is string => typeof d === 'string');
}

function symbolicWarning(name: string, shape: Shape): string {
  const example = shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : `<${d ?? '?'}>`)).join(',');
  return `input ${name} has symbolic dims [${symbols(shape).join(', ')}]; pass --shape ${name}=${example} to compute MACs`;
}

function inputFacts(shapes: ModelShapes): { resolved: Record<string, number[]>; warnings: string[] } {
  const resolved: Record<string, number[]> = {};
  const warnings: string[] = [];
  for (const input of shapes.main.index.graphInputs) {
    const name = input.name ?? '';
    const shape = shapes.main.shape(name);
    if (shape && shape.every((d) => typeof d === 'number')) resolved[name] = shape;
    else if (shape && symbols(shape).length) warnings.push(symbolicWarning(name, shape));
  }
  return { resolved, warnings };
}

function macsWarning(walk: Walk): string[] {
  if (!walk.macsUnknown) return [];
  return [`MACs unknown for ${walk.macsUnknown} layer(s) (${[...walk.unknownOps].join(', ')}): their shapes could not be fully inferred`];
}

// ---------------------------------------------------------------------------------------------
// Entry point

interface Walk {
  layers: LayerInfo[];
  opCounts: Record<string, number>;
  nodeCount: number;
  graphs: number;
  macs: number;
  macsUnknown: number;
  unknownOps: Set<string>;
}

function walkLayers(model: ModelProto, shapes: ModelShapes, cache: StatsCache): Walk {
  const walk: Walk = { layers: [], opCounts: {}, nodeCount: 0, graphs: 0, macs: 0, macsUnknown: 0, unknownOps: new Set() };
  forEachGraph(model, ({ graph, path }) => {
    const scope = scopeOf(shapes, graph);
    walk.graphs++;
    graph.node.forEach((node, i) => visitNode(walk, scope, node, i, path, cache));
  });
  return walk;
}

function visitNode(walk: Walk, scope: GraphShapes, node: NodeProto, i: number, path: string, cache: StatsCache): void {
  walk.nodeCount++;
  const key = opKey(node);
  walk.opCounts[key] = (walk.opCounts[key] ?? 0) + 1;
  if (isConstantNode(node)) return;
  const layer = layerInfo(scope, i, path, cache);
  walk.layers.push(layer);
  if (layer.macs !== null) walk.macs += layer.macs;
  else if (countsMacs(node)) {
    walk.macsUnknown++;
    walk.unknownOps.add(layer.opType);
  }
}

function scopeOf(shapes: ModelShapes, graph: GraphProto): GraphShapes {
  const scope = shapes.graphs.get(graph);
  if (!scope) throw new Error('internal error: a subgraph was not reached by shape inference');
  return scope;
}

function producerOf(model: ModelProto): string {
  return [model.producer_name, model.producer_version].filter(Boolean).join(' ');
}

/** Inspects a loaded model: layers, weights, MACs and shapes. Throws OnnxFormatError on a cyclic graph. */
export function inspectModel(loaded: LoadedModel, options: InspectOptions = {}): InspectReport {
  const { model } = loaded;
  const shapes = inferModelShapes(model, options.shapes ?? {});
  const cache = new StatsCache();
  const walk = walkLayers(model, shapes, cache);
  const totals = weightTotals(model, cache);
  const inputs = inputFacts(shapes);
  const main = shapes.main;
  return {
    path: loaded.path,
    sizeBytes: loaded.fileBytes + loaded.externalBytes,
    externalDataBytes: loaded.externalBytes,
    irVersion: Number(model.ir_version ?? 0),
    producer: producerOf(model),
    opsets: model.opset_import.map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) })),
    inputs: main.index.graphInputs.map((v) => summary(v, shapeOfType(v.type))),
    outputs: main.index.graph.output.map((v) => summary(v, main.shape(v.name ?? ''))),
    nodeCount: walk.nodeCount,
    paramCount: totals.params,
    paramBytes: totals.bytes,
    sparsity: totals.sparsity,
    macs: walk.macs,
    macsUnknown: walk.macsUnknown,
    opCounts: walk.opCounts,
    subgraphs: Math.max(0, walk.graphs - 1),
    layers: walk.layers,
    resolvedShapes: inputs.resolved,
    warnings: [...shapes.warnings, ...inputs.warnings, ...macsWarning(walk)],
  };
}
