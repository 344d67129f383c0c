/**
 * A model with control flow: an If whose branches each hold a MatMul. One branch keeps its weight as
 * its own initializer, the other reads an initializer of the main graph (outer scope), so tools that
 * walk weights must handle both.
 */
import { Rng } from '../core/random';
import { floatTensor, graph, model, node, valueInfo } from '../onnx/build';
import { DataType } from '../onnx/dtypes';
import type { GraphProto, ModelProto, TensorProto } from '../onnx/types';
import { floatInfo, GraphBuilder } from './builder';

const FEATURES = 32;

/**
 * A branch graph: no inputs (it reads x from the outer scope) and one output. Both branches must
 * declare the same number of outputs with the same element type; their shapes may differ, since the
 * If output's shape is merged from both. The batch dim is left unnamed: a dim_param here would be a
 * subgraph-local symbol, unrelated to the main graph's "batch".
 */
function branch(name: string, weightName: string, localWeights: TensorProto[]): GraphProto {
  const output = `${name}_out`;
  return graph({
    name,
    node: [node('MatMul', ['x', weightName], [output])],
    initializer: localWeights,
    output: [valueInfo(output, DataType.FLOAT, [undefined, FEATURES])],
  });
}

/** x [batch,32] -> if sum(x) > 0 then x·W_then else x·W_else -> Softmax -> y [batch,32]. */
export function ifModel(): ModelProto {
  const rng = new Rng(31);
  const std = Math.sqrt(1 / FEATURES);
  const thenWeight = floatTensor('then.weight', [FEATURES, FEATURES], rng.normalArray(FEATURES * FEATURES, std));
  const b = new GraphBuilder(rng);
  const elseWeight = b.floats('else.weight', [FEATURES, FEATURES], rng.normalArray(FEATURES * FEATURES, std));
  const zero = b.floats('zero', [], [0]);
  // ReduceSum with no axes input reduces everything; keepdims=0 gives the scalar If needs.
  const cond = b.op('Greater', [b.op('ReduceSum', ['x'], { keepdims: 0 }), zero], {}, 'positive');
  const chosen = b.op('If', [cond], {
    then_branch: branch('then_branch', 'then.weight', [thenWeight]),
    else_branch: branch('else_branch', elseWeight, []),
  });
  b.op('Softmax', [chosen], { axis: -1 }, 'y');
  return model(b.build('if_model', [floatInfo('x', ['batch', FEATURES])], [floatInfo('y', ['batch', FEATURES])]));
}
