/**
 * Which tensors of a graph are constant, and what they hold: initializers (unless the graph also
 * lists them as inputs, which makes them overridable at run time), Constant nodes, values folded so
 * far, and constants of enclosing graphs that the graph does not shadow.
 */
import { GraphIndex } from '../../onnx/graph';
import type { GraphProto, TensorProto } from '../../onnx/types';
import { readConst, type ConstTensor } from './constTensor';
import { constantNodeTensor } from './scope';

export class ConstScope {
  /** Values computed by the folder, by tensor name. */
  private readonly folded = new Map<string, ConstTensor>();
  private readonly decoded = new Map<string, ConstTensor | undefined>();
  private readonly inputs: Set<string>;
  readonly index: GraphIndex;

  constructor(
    readonly graph: GraphProto,
    readonly parent?: ConstScope,
  ) {
    this.index = new GraphIndex(graph, parent?.index);
    this.inputs = new Set(graph.input.map((v) => v.name ?? ''));
  }

  /** The stored tensor behind a constant name, here or in an enclosing graph. */
  tensor(name: string): TensorProto | undefined {
    if (this.inputs.has(name)) return undefined;
    const init = this.index.initializers.get(name);
    if (init) return init;
    const producer = this.index.producer.get(name);
    if (producer !== undefined) return constantNodeTensor(this.index.graph.node[producer]);
    return this.parent?.tensor(name);
  }

  /** The value of a constant tensor, or undefined when it is computed at run time (or not foldable). */
  value(name: string): ConstTensor | undefined {
    const own = this.folded.get(name);
    if (own) return own;
    if (!this.decoded.has(name)) {
      const t = this.tensor(name);
      this.decoded.set(name, t ? readConst(t) : undefined);
    }
    return this.decoded.get(name);
  }

  /** Element type of a constant, whether or not its values can be folded (float16, strings...). */
  dtype(name: string): number | undefined {
    return this.folded.get(name)?.dtype ?? this.tensor(name)?.data_type;
  }

  setFolded(name: string, value: ConstTensor): void {
    this.folded.set(name, value);
  }
}
