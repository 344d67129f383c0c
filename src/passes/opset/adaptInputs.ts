/**
 * Adapters for boundaries where attributes became inputs: Slice-10, TopK-10, Clip-11, Pad-11,
 * Dropout-12, Squeeze/Unsqueeze/ReduceSum/Split-13 and the other Reduce ops at 18. Values move
 * unchanged into new constant initializers; absent attributes become absent (optional) inputs, whose
 * defaults match the old attribute defaults.
 */
import { floatTensor, rawTensor } from '../../onnx/build';
import { DataType, dtypeName } from '../../onnx/dtypes';
import { attrString } from '../../onnx/graph';
import type { TensorProto } from '../../onnx/types';
import { float32ToHalfBits } from '../fp16/half';
import { refuse, setInput, takeAttr, type Step } from './step';

/** A scalar of the given floating type holding `value` (a float32 attribute value). */
function floatScalar(dtype: number | undefined, value: number): TensorProto | undefined {
  if (dtype === DataType.FLOAT) return floatTensor('', [], [value]);
  if (dtype === DataType.DOUBLE) return rawTensor('', [], DataType.DOUBLE, Float64Array.of(value));
  if (dtype === DataType.FLOAT16) return rawTensor('', [], DataType.FLOAT16, Uint16Array.of(float32ToHalfBits(value)));
  return undefined;
}

/** A scalar input of the same element type as input `i` of the node. */
function scalarLikeInput(step: Step, i: number, suffix: string, value: number): string {
  const source = step.node.input[i] ?? '';
  const dtype = step.scope.elemType(source);
  const tensor = floatScalar(dtype, value);
  if (!tensor) refuse(`its ${suffix} becomes an input of the same type as ${source}, whose type is ${dtype ? dtypeName(dtype) : 'unknown'}`);
  return step.constant(suffix, tensor);
}

/** Slice-10: starts, ends and axes attributes -> inputs 1..3. */
export function sliceToInputs(step: Step): void {
  const [starts, ends, axes] = ['starts', 'ends', 'axes'].map((name) => takeAttr(step.node, name));
  if (!starts || !ends) refuse('Slice-1 needs starts and ends attributes');
  step.node.input = [step.node.input[0], step.int64Input('starts', starts.ints), step.int64Input('ends', ends.ints)];
  if (axes) step.node.input.push(step.int64Input('axes', axes.ints));
  step.note('starts/ends/axes attributes to inputs');
}

/** TopK-10: attribute k -> input K of shape [1]. */
export function topkToInput(step: Step): void {
  const k = takeAttr(step.node, 'k');
  if (k?.i === undefined) refuse('TopK-1 needs a k attribute');
  step.node.input = [step.node.input[0], step.int64Input('k', [k.i])];
  step.note('k attribute to input');
}

/** Clip-11: min/max float attributes -> optional scalar inputs of the input's type. */
export function clipToInputs(step: Step): void {
  const min = takeAttr(step.node, 'min');
  const max = takeAttr(step.node, 'max');
  const x = step.node.input[0];
  step.node.input = [x];
  if (min) setInput(step.node, 1, scalarLikeInput(step, 0, 'min', min.f ?? 0));
  if (max) setInput(step.node, 2, scalarLikeInput(step, 0, 'max', max.f ?? 0));
  step.note('min/max attributes to inputs');
}

/** Pad-11: pads attribute -> input; value attribute -> constant_value input (constant mode only). */
export function padToInputs(step: Step): void {
  const pads = takeAttr(step.node, 'pads');
  const value = takeAttr(step.node, 'value');
  if (!pads) refuse('Pad-2 needs a pads attribute');
  step.node.input = [step.node.input[0], step.int64Input('pads', pads.ints)];
  const mode = attrString(step.node, 'mode') ?? 'constant';
  if (mode === 'constant' && value) step.node.input.push(scalarLikeInput(step, 0, 'constant_value', value.f ?? 0));
  step.note('pads/value attributes to inputs');
}

/** Dropout-12: ratio attribute -> ratio input (no training_mode input: inference, as before). */
export function dropoutRatioToInput(step: Step): void {
  const ratio = takeAttr(step.node, 'ratio');
  if (!ratio) return;
  step.node.input = [step.node.input[0], step.constant('ratio', floatTensor('', [], [ratio.f ?? 0.5]))];
  step.note('ratio attribute to input');
}

/** Squeeze/Unsqueeze/ReduceSum-13, Reduce*-18: axes attribute -> input 1. */
export function axesToInput(step: Step): void {
  const axes = takeAttr(step.node, 'axes');
  if (!axes) return;
  step.node.input = [step.node.input[0], step.int64Input('axes', axes.ints)];
  step.note('axes attribute to input');
}

/** Split-13: split attribute -> input 1. */
export function splitToInput(step: Step): void {
  const split = takeAttr(step.node, 'split');
  if (!split) return;
  step.node.input = [step.node.input[0], step.int64Input('split', split.ints)];
  step.note('split attribute to input');
}
