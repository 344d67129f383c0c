/**
 * A large generated fp32 CNN for I/O benchmarks: VGG-like 3x3 convolutions whose weights add up to
 * about `targetMB` megabytes, plus a 50 000-node graph for protobuf structure speed.
 */
import { DataType } from '../src/onnx/dtypes';
import { floatTensor, graph, model, node, valueInfo } from '../src/onnx/build';
import type { ModelProto } from '../src/onnx/types';
import { Rng } from '../src/core/random';

function convWeights(rng: Rng, name: string, cout: number, cin: number): ReturnType<typeof floatTensor> {
  const n = cout * cin * 9;
  const w = new Float32Array(n);
  // Cheap deterministic fill: a full normal draw for 44M weights would dominate the setup time.
  for (let i = 0; i < n; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5 + rng.next() * 1e-3;
  return floatTensor(name, [cout, cin, 3, 3], w);
}

export function largeCnn(targetMB = 176): ModelProto {
  const rng = new Rng(7);
  const g = graph({ name: 'large_cnn', input: [valueInfo('x', DataType.FLOAT, [1, 3, 32, 32])] });
  let prev = 'x';
  let cin = 3;
  let bytes = 0;
  for (let i = 0; bytes < targetMB * 1e6; i++) {
    const cout = 512;
    const w = convWeights(rng, `conv${i}.w`, cout, cin);
    bytes += (w.raw_data as Uint8Array).length;
    g.initializer.push(w, floatTensor(`conv${i}.b`, [cout], new Float32Array(cout)));
    g.node.push(node('Conv', [prev, `conv${i}.w`, `conv${i}.b`], [`conv${i}`], { pads: [1, 1, 1, 1] }), node('Relu', [`conv${i}`], [`relu${i}`]));
    prev = `relu${i}`;
    cin = cout;
  }
  g.output.push(valueInfo(prev, DataType.FLOAT, undefined));
  return model(g, 17);
}

/** A long chain of small Add nodes: stresses the protobuf structure rather than the weights. */
export function manyNodes(count = 50_000): ModelProto {
  const g = graph({ name: 'many_nodes', input: [valueInfo('x', DataType.FLOAT, [1, 8])] });
  g.initializer.push(floatTensor('one', [1, 8], new Float32Array(8).fill(1)));
  let prev = 'x';
  for (let i = 0; i < count; i++) {
    g.node.push(node('Add', [prev, 'one'], [`t${i}`], {}, `add_${i}`));
    prev = `t${i}`;
  }
  g.output.push(valueInfo(prev, DataType.FLOAT, [1, 8]));
  return model(g, 17);
}

/** A stack of square MatMul+Add+Relu layers whose fp32 weights add up to about `targetMB` megabytes. */
export function largeMlp(targetMB = 100, width = 1024): ModelProto {
  const rng = new Rng(11);
  const g = graph({ name: 'large_mlp', input: [valueInfo('x', DataType.FLOAT, [8, width])] });
  let prev = 'x';
  for (let i = 0; (i + 1) * width * width * 4 <= targetMB * 1e6; i++) {
    g.initializer.push(floatTensor(`fc${i}.w`, [width, width], rng.normalArray(width * width, 1 / Math.sqrt(width))), floatTensor(`fc${i}.b`, [width], rng.normalArray(width, 0.01)));
    g.node.push(node('MatMul', [prev, `fc${i}.w`], [`mm${i}`]), node('Add', [`mm${i}`, `fc${i}.b`], [`add${i}`]), node('Relu', [`add${i}`], [`relu${i}`]));
    prev = `relu${i}`;
  }
  g.output.push(valueInfo(prev, DataType.FLOAT, [8, width]));
  return model(g, 17);
}
