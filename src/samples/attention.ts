/**
 * One post-norm transformer self-attention block, in the op-by-op form torch.onnx exports (no fused
 * Attention op): the shape plumbing (Reshape/Transpose with int64 shape initializers) is what
 * attention-aware passes have to recognise.
 */
import { Rng } from '../core/random';
import { model } from '../onnx/build';
import type { ModelProto } from '../onnx/types';
import { floatInfo, GraphBuilder, matMulLayer } from './builder';

const SEQ = 16;
const HIDDEN = 64;
const HEADS = 4;
const HEAD_DIM = HIDDEN / HEADS;

/** [1, seq, hidden] -> [1, heads, seq, head_dim] (or [1, heads, head_dim, seq] for K, ready for Q·Kᵀ). */
function projectToHeads(b: GraphBuilder, input: string, prefix: string, perm: number[]): string {
  const projected = matMulLayer(b, input, HIDDEN, HIDDEN, prefix);
  const headsShape = b.int64s(`${prefix}.heads_shape`, [1, SEQ, HEADS, HEAD_DIM]);
  return b.op('Transpose', [b.op('Reshape', [projected, headsShape])], { perm });
}

/** softmax(Q·Kᵀ / sqrt(head_dim)) · V, heads merged back to [1, seq, hidden]. */
function scaledDotProduct(b: GraphBuilder, q: string, kT: string, v: string): string {
  const scale = b.floats('attn.scale', [], [Math.sqrt(HEAD_DIM)]);
  const scores = b.op('Div', [b.op('MatMul', [q, kT]), scale]);
  const context = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), v]);
  const merged = b.op('Transpose', [context], { perm: [0, 2, 1, 3] });
  return b.op('Reshape', [merged, b.int64s('attn.merge_shape', [1, SEQ, HIDDEN])]);
}

/** x [1,16,64] -> multi-head self-attention -> output projection -> residual Add -> LayerNormalization -> y. */
export function attention(): ModelProto {
  const b = new GraphBuilder(new Rng(21));
  const q = projectToHeads(b, 'x', 'attn.q', [0, 2, 1, 3]);
  const kT = projectToHeads(b, 'x', 'attn.k', [0, 2, 3, 1]);
  const v = projectToHeads(b, 'x', 'attn.v', [0, 2, 1, 3]);
  const projected = matMulLayer(b, scaledDotProduct(b, q, kT, v), HIDDEN, HIDDEN, 'attn.out');
  const residual = b.op('Add', [projected, 'x']);
  const gamma = b.around('norm.weight', [HIDDEN], 1, 0.05);
  const beta = b.around('norm.bias', [HIDDEN], 0, 0.05);
  b.op('LayerNormalization', [residual, gamma, beta], { axis: -1, epsilon: 1e-5 }, 'y');
  const shape = [1, SEQ, HIDDEN];
  return model(b.build('attention', [floatInfo('x', shape)], [floatInfo('y', shape)]));
}
