/**
 * One node crossing one opset boundary, and the helpers adapters use to rewrite it: attribute edits,
 * constant inputs (new initializers with model-unique names), fresh names for new tensors and nodes,
 * and Refusal for what cannot be rewritten faithfully.
 */
import { attribute, int64Tensor, type AttrValue } from '../../onnx/build';
import type { AttributeProto, Int64, ModelProto, NodeProto, TensorProto } from '../../onnx/types';
import { forEachGraph } from '../../onnx/walk';
import type { GraphScope, Origin } from './scope';

/** Thrown by an adapter that cannot keep the node's meaning; the upgrade turns it into a UserError. */
export class Refusal extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Refusal';
  }
}

export function refuse(reason: string): never {
  throw new Refusal(reason);
}

/** Every tensor and node name in the model, so that new ones never collide. */
export class Names {
  private readonly tensors = new Set<string>();
  private readonly nodes = new Set<string>();

  constructor(model: ModelProto) {
    forEachGraph(model, ({ graph }) => {
      for (const v of [...graph.input, ...graph.output, ...graph.value_info, ...graph.initializer]) if (v.name) this.tensors.add(v.name);
      for (const node of graph.node) {
        for (const out of node.output) if (out) this.tensors.add(out);
        if (node.name) this.nodes.add(node.name);
      }
    });
  }

  private static fresh(used: Set<string>, base: string): string {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  }

  tensor(base: string): string {
    return Names.fresh(this.tensors, base);
  }

  node(base: string): string {
    return Names.fresh(this.nodes, base);
  }
}

/** What every step of one upgrade shares. */
export interface UpgradeRun {
  from: number;
  to: number;
  names: Names;
  warnings: string[];
  /** Resize nodes made from Upsample, whose scales are >= 1 by Upsample's spec. */
  fromUpsample: WeakSet<NodeProto>;
}

export class Step {
  readonly notes: string[] = [];

  constructor(
    /** A working copy: adapters edit it freely, or return other nodes to replace it. */
    readonly node: NodeProto,
    /** The opset being entered. */
    readonly version: number,
    readonly scope: GraphScope,
    readonly run: UpgradeRun,
    readonly origin: Origin,
  ) {}

  get op(): string {
    return this.node.op_type ?? '';
  }

  note(action: string): void {
    this.notes.push(`${action} (opset ${this.version})`);
  }

  warn(message: string): void {
    this.run.warnings.push(`${this.origin.name} (${this.origin.opType}): ${message}`);
  }

  tensorName(suffix: string): string {
    return this.run.names.tensor(`${this.node.output[0] || this.origin.name}_${suffix}`);
  }

  nodeName(suffix: string): string {
    return this.run.names.node(`${this.node.name || this.origin.name}_${suffix}`);
  }

  /** Adds `tensor` as a new initializer of this graph and returns its name. */
  constant(suffix: string, tensor: TensorProto): string {
    const name = this.tensorName(suffix);
    this.scope.addInitializer({ ...tensor, name });
    return name;
  }

  int64Input(suffix: string, values: Int64[]): string {
    return this.constant(suffix, int64Tensor('', [values.length], values));
  }
}

/** Removes an attribute from the node and returns it. */
export function takeAttr(node: NodeProto, name: string): AttributeProto | undefined {
  const found = node.attribute.find((a) => a.name === name);
  if (found) node.attribute = node.attribute.filter((a) => a !== found);
  return found;
}

export function setAttr(node: NodeProto, name: string, value: AttrValue): void {
  node.attribute = [...node.attribute.filter((a) => a.name !== name), attribute(name, value)];
}

/** Sets input `i`, filling skipped optional inputs with "". */
export function setInput(node: NodeProto, i: number, name: string): void {
  while (node.input.length < i) node.input.push('');
  node.input[i] = name;
}

/** Drops trailing empty (absent optional) inputs and outputs. */
export function trimOptional(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && !names[end - 1]) end--;
  return names.slice(0, end);
}
