/**
 * Multi-layer perceptrons: the plain sample, the same network with its weights in Constant nodes, and
 * a wider one meant to be saved with external data.
 */
import { Rng } from '../core/random';
import { model } from '../onnx/build';
import type { ModelProto } from '../onnx/types';
import { floatInfo, gemmLayer, GraphBuilder, matMulLayer, type WeightStyle } from './builder';

const IN_FEATURES = 64;
const CLASSES = 10;

interface MlpOptions {
  name: string;
  hidden: number;
  seed: number;
  weights: WeightStyle;
}

/** x [batch, 64] -> Gemm+Relu -> MatMul+Add+Relu -> Gemm -> Softmax -> probs [batch, 10]. */
function buildMlp({ name, hidden, seed, weights }: MlpOptions): ModelProto {
  const b = new GraphBuilder(new Rng(seed), weights);
  const h1 = b.op('Relu', [gemmLayer(b, 'x', IN_FEATURES, hidden, 'fc1')]);
  const h2 = b.op('Relu', [matMulLayer(b, h1, hidden, hidden, 'fc2')]);
  b.op('Softmax', [gemmLayer(b, h2, hidden, CLASSES, 'fc3')], { axis: -1 }, 'probs');
  return model(b.build(name, [floatInfo('x', ['batch', IN_FEATURES])], [floatInfo('probs', ['batch', CLASSES])]));
}

export function mlp(): ModelProto {
  return buildMlp({ name: 'mlp', hidden: 128, seed: 1, weights: 'initializer' });
}

/** The mlp with every weight in a Constant node, as paddle2onnx and some torch exports store them. */
export function constants(): ModelProto {
  return buildMlp({ name: 'mlp_constants', hidden: 128, seed: 1, weights: 'constant' });
}

/** A wider mlp (about 340 KB of weights), so that saving it with external data moves real tensors. */
export function externalData(): ModelProto {
  return buildMlp({ name: 'mlp_external', hidden: 256, seed: 2, weights: 'initializer' });
}
