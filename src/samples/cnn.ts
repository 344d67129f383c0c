/**
 * A small ResNet/MobileNet-flavoured CNN: the conv patterns optimization passes care about (Conv+BN
 * to fold, a residual Add, a strided conv, a depthwise conv) on a 3x32x32 input.
 */
import { Rng } from '../core/random';
import { model } from '../onnx/build';
import type { ModelProto } from '../onnx/types';
import { floatInfo, gemmLayer, GraphBuilder } from './builder';

const CLASSES = 10;

interface ConvShape {
  cin: number;
  cout: number;
  stride?: number;
  group?: number;
  bias?: boolean;
}

/** A 3x3 conv with "same" padding; exporters drop the bias when a BatchNormalization follows. */
function conv3x3(b: GraphBuilder, input: string, prefix: string, { cin, cout, stride = 1, group = 1, bias = false }: ConvShape): string {
  const fanIn = (cin / group) * 9;
  const inputs = [input, b.heWeight(`${prefix}.weight`, [cout, cin / group, 3, 3], fanIn)];
  if (bias) inputs.push(b.around(`${prefix}.bias`, [cout], 0, 0.01));
  return b.op('Conv', inputs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride], group });
}

/** Inference-mode BN with plausible trained statistics (variance kept away from zero). */
function batchNorm(b: GraphBuilder, input: string, channels: number, prefix: string): string {
  const scale = b.around(`${prefix}.weight`, [channels], 1, 0.1);
  const shift = b.around(`${prefix}.bias`, [channels], 0, 0.1);
  const mean = b.around(`${prefix}.running_mean`, [channels], 0, 0.1);
  const variance = b.floats(`${prefix}.running_var`, [channels], Array.from({ length: channels }, () => b.rng.uniform(0.5, 1.5)));
  return b.op('BatchNormalization', [input, scale, shift, mean, variance], { epsilon: 1e-5 });
}

function convBn(b: GraphBuilder, input: string, prefix: string, shape: ConvShape): string {
  return batchNorm(b, conv3x3(b, input, `${prefix}.conv`, shape), shape.cout, `${prefix}.bn`);
}

/** ResNet basic block: relu(x + bn(conv(relu(bn(conv(x)))))). */
function residualBlock(b: GraphBuilder, input: string, channels: number, prefix: string): string {
  const shape = { cin: channels, cout: channels };
  const inner = b.op('Relu', [convBn(b, input, `${prefix}.0`, shape)]);
  const branch = convBn(b, inner, `${prefix}.1`, shape);
  return b.op('Relu', [b.op('Add', [branch, input])]);
}

/** x [batch,3,32,32] -> stem -> residual block -> stride-2 conv -> depthwise conv -> pool -> Gemm -> logits [batch,10]. */
export function cnn(): ModelProto {
  const b = new GraphBuilder(new Rng(11));
  const stem = b.op('Relu', [convBn(b, 'x', 'stem', { cin: 3, cout: 16 })]);
  const block = residualBlock(b, stem, 16, 'layer1');
  const down = b.op('Relu', [convBn(b, block, 'down', { cin: 16, cout: 32, stride: 2 })]);
  const depthwise = b.op('Relu', [conv3x3(b, down, 'dw', { cin: 32, cout: 32, group: 32, bias: true })]);
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [depthwise])], { axis: 1 });
  gemmLayer(b, pooled, 32, CLASSES, 'fc', 'logits');
  return model(b.build('cnn', [floatInfo('x', ['batch', 3, 32, 32])], [floatInfo('logits', ['batch', CLASSES])]));
}
