/**
 * A generated model with thousands of nodes for the Layer Report: `blocks` repetitions of
 * MatMul (16x16 weight, every 7th block with a quarter of its weights zero) -> Relu, i.e. 2 x blocks nodes.
 */
import { Rng } from '../../src/core/random';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { saveModel } from '../../src/onnx/io';
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/types';

const WIDTH = 16;

function blockWeight(rng: Rng, i: number): TensorProto {
  const values = rng.normalArray(WIDTH * WIDTH, 0.25);
  if (i % 7 === 0) for (let k = 0; k < values.length; k += 4) values[k] = 0;
  return floatTensor(`block${i}.weight`, [WIDTH, WIDTH], values);
}

export function wideModel(blocks: number): ModelProto {
  const rng = new Rng(11);
  const nodes: NodeProto[] = [];
  const weights: TensorProto[] = [];
  let current = 'x';
  for (let i = 0; i < blocks; i++) {
    weights.push(blockWeight(rng, i));
    nodes.push(node('MatMul', [current, `block${i}.weight`], [`mm${i}`], {}, `block${i}/matmul`));
    current = i === blocks - 1 ? 'y' : `relu${i}`;
    nodes.push(node('Relu', [`mm${i}`], [current], {}, `block${i}/relu`));
  }
  const g = graph({ name: 'wide', input: [valueInfo('x', DataType.FLOAT, [1, WIDTH])], output: [valueInfo('y', DataType.FLOAT, [1, WIDTH])], initializer: weights, node: nodes });
  return model(g);
}

export function writeWideModel(file: string, blocks: number): void {
  saveModel(wideModel(blocks), file);
}
