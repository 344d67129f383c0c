/**
 * Writes the planned QDQ graph: for each quantized activation tensor T a QuantizeLinear right after its
 * producer and one DequantizeLinear that every reader of T reads instead (qdq_quantizer.py
 * _add_qdq_pair_for_activation with replace_input_of_all_nodes; ORT's EnsureUniqueDQForNodeUnit gives
 * each fused group its own copy). Names follow ORT's quantizer: T_QuantizeLinear_Output,
 * T_DequantizeLinear_Output. A quantized graph output keeps its name on the DequantizeLinear output
 * and the producer writes T_QuantizeLinear_Input, because ORT does not fuse a node that produces a
 * graph output itself (NodeGroupSelector::CheckQDQNodes).
 */
import { node } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { GraphProto, NodeProto } from '../../onnx/types';
import type { GuardedInput, ParamGroup, Plan } from './qdqPlan';
import type { ActivationParams, WeightArtifacts } from './qdqWeights';
import type { Scope, WeightEditor } from './weights';

interface TensorNames {
  /** What the producer writes and QuantizeLinear reads. */
  float: string;
  quantized: string;
  /** What every reader reads. */
  dequantized: string;
}

interface GroupTensors {
  scale: string;
  zeroPoint: string;
}

function groupInitializers(editor: WeightEditor, scope: Scope, group: ParamGroup, p: ActivationParams): GroupTensors {
  const zeroType = p.type === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const zero = p.type === 'uint8' ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint);
  return {
    scale: editor.addInitializer(scope, `${group.source}_scale`, { dims: [], dataType: DataType.FLOAT, data: Float32Array.of(p.scale) }),
    zeroPoint: editor.addInitializer(scope, `${group.source}_zero_point`, { dims: [], dataType: zeroType, data: zero }),
  };
}

function tensorNames(editor: WeightEditor, graph: GraphProto, tensor: string, floatKept: boolean): TensorNames {
  const isOutput = !floatKept && graph.output.some((o) => o.name === tensor);
  return {
    float: isOutput ? editor.uniqueName(`${tensor}_QuantizeLinear_Input`) : tensor,
    quantized: editor.uniqueName(`${tensor}_QuantizeLinear_Output`),
    dequantized: isOutput ? tensor : editor.uniqueName(`${tensor}_DequantizeLinear_Output`),
  };
}

export interface RewriteInput {
  editor: WeightEditor;
  scope: Scope;
  plan: Plan;
  params: Map<ParamGroup, ActivationParams>;
  artifacts: WeightArtifacts;
}

class Rewriter {
  private readonly names = new Map<string, TensorNames>();
  private readonly groupTensors = new Map<ParamGroup, GroupTensors>();
  /** Input slots each quantized node reads as quantized activations. */
  private readonly quantizedSlots = new Map<NodeProto, Set<number>>();
  readonly nodes: NodeProto[] = [];
  qdqPairs = 0;

  constructor(private readonly input: RewriteInput) {
    const { editor, scope, plan, params } = input;
    for (const group of plan.groups) this.groupTensors.set(group, groupInitializers(editor, scope, group, params.get(group) as ActivationParams));
    for (const tensor of plan.tensors.keys()) this.names.set(tensor, tensorNames(editor, scope.graph, tensor, plan.floatKept.has(tensor)));
    for (const q of plan.nodes) this.quantizedSlots.set(q.node, new Set(q.activations));
  }

  /** QuantizeLinear + DequantizeLinear for one quantized tensor. */
  private emitPair(tensor: string): void {
    const names = this.names.get(tensor) as TensorNames;
    const g = this.groupTensors.get(this.input.plan.tensors.get(tensor) as ParamGroup) as GroupTensors;
    const { editor } = this.input;
    this.nodes.push(node('QuantizeLinear', [names.float, g.scale, g.zeroPoint], [names.quantized], {}, editor.uniqueName(`${tensor}_QuantizeLinear`)));
    this.nodes.push(node('DequantizeLinear', [names.quantized, g.scale, g.zeroPoint], [names.dequantized], {}, editor.uniqueName(`${tensor}_DequantizeLinear`)));
    this.qdqPairs++;
  }

  /** A per-axis DequantizeLinear of the tensor for one float layer (qdqPlan.ts guardFloatLayers). */
  private guardInput(n: NodeProto, guard: GuardedInput): void {
    const { editor, scope, plan, params } = this.input;
    const group = plan.tensors.get(guard.tensor) as ParamGroup;
    const p = params.get(group) as ActivationParams;
    const base = `${n.name || n.output[0]}_input`;
    const scale = editor.addInitializer(scope, `${base}_scale`, { dims: [guard.channels], dataType: DataType.FLOAT, data: new Float32Array(guard.channels).fill(p.scale) });
    const zeroData = p.type === 'uint8' ? new Uint8Array(guard.channels).fill(p.zeroPoint) : new Int8Array(guard.channels).fill(p.zeroPoint);
    const zeroPoint = editor.addInitializer(scope, `${base}_zero_point`, { dims: [guard.channels], dataType: p.type === 'uint8' ? DataType.UINT8 : DataType.INT8, data: zeroData });
    const output = editor.uniqueName(`${base}_DequantizeLinear_Output`);
    const quantized = (this.names.get(guard.tensor) as TensorNames).quantized;
    this.nodes.push(node('DequantizeLinear', [quantized, scale, zeroPoint], [output], { axis: guard.axis }, editor.uniqueName(`${base}_DequantizeLinear`)));
    n.input[0] = output;
  }

  /** What input `slot` of n reads: the DQ output, or the float value when it survives and n is float there. */
  private readName(n: NodeProto, slot: number, name: string): string {
    const names = this.names.get(name);
    if (!names) return name;
    const floatReader = !this.quantizedSlots.get(n)?.has(slot);
    return floatReader && this.input.plan.floatKept.has(name) ? name : names.dequantized;
  }

  /** The node with its constant inputs replaced and its quantized inputs read from their DequantizeLinear. */
  private rewriteNode(n: NodeProto): void {
    const replacements = this.input.artifacts.replacements.get(n);
    for (const [slot, name] of replacements ?? []) {
      while (n.input.length <= slot) n.input.push('');
      n.input[slot] = name;
    }
    n.input = n.input.map((name, slot) => (replacements?.has(slot) ? name : this.readName(n, slot, name)));
    const guard = this.input.plan.guarded.get(n);
    if (guard) this.guardInput(n, guard);
    const produced = n.output.filter((o) => this.names.has(o));
    n.output = n.output.map((o) => this.names.get(o)?.float ?? o);
    this.nodes.push(n);
    for (const tensor of produced) this.emitPair(tensor);
  }

  run(): void {
    const { scope, artifacts } = this.input;
    this.nodes.push(...artifacts.prelude);
    for (const input of scope.graph.input) if (input.name && this.names.has(input.name)) this.emitPair(input.name);
    for (const n of scope.graph.node) this.rewriteNode(n);
    scope.graph.node = this.withoutUnreadDequantize(scope.graph);
  }

  /** Drops pair DequantizeLinear nodes nobody reads (their readers take the float value or a guard DQ). */
  private withoutUnreadDequantize(graph: GraphProto): NodeProto[] {
    const read = new Set([...this.nodes.flatMap((n) => n.input), ...graph.output.map((o) => o.name)]);
    const pairOutputs = new Set([...this.names.values()].map((t) => t.dequantized));
    return this.nodes.filter((n) => !(n.op_type === 'DequantizeLinear' && pairOutputs.has(n.output[0]) && !read.has(n.output[0])));
  }
}

/** Rewrites the scope's graph in place; returns the number of Q/DQ pairs inserted. */
export function writeQdqGraph(input: RewriteInput): number {
  const rewriter = new Rewriter(input);
  rewriter.run();
  return rewriter.qdqPairs;
}
