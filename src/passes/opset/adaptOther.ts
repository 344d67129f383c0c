/**
 * Adapters for semantic changes other than attributes turning into inputs: Softmax/LogSoftmax/Hardmax
 * axis (13), BatchNormalization spatial (9) and training outputs (14), Dropout's mask type (10),
 * Scatter -> ScatterElements (11), RoiAlign's coordinate mode (16), GridSample's mode names (20) and
 * Split's num_outputs (18).
 */
import { node as makeNode } from '../../onnx/build';
import { attr, attrInt, attrString } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import { refuse, setAttr, takeAttr, trimOptional, type Step } from './step';

/**
 * Opset 13: before, Softmax (LogSoftmax, Hardmax) coerced its input to 2-D [prod(d[:axis]),
 * prod(d[axis:])] and normalized each row (axis default 1); since 13 it normalizes along one axis
 * (default -1). The same where axis is the last one; otherwise Flatten -> op(axis=-1) -> Reshape back
 * to Shape(input), which is exactly the old definition.
 */
export function softmaxAxis(step: Step): NodeProto[] {
  const node = step.node;
  const x = node.input[0];
  const oldAxis = attrInt(node, 'axis', 1);
  const rank = step.scope.rank(x);
  const axis = rank !== undefined && oldAxis < 0 ? oldAxis + rank : oldAxis;
  if (rank !== undefined && axis === rank - 1) {
    setAttr(node, 'axis', -1);
    step.note('axis is the last one: kept');
    return [node];
  }
  const y = node.output[0];
  const [shape, flat, rows] = [step.tensorName('shape'), step.tensorName('2d'), step.tensorName(`2d_${step.op.toLowerCase()}`)];
  const before = [makeNode('Shape', [x], [shape], {}, step.nodeName('shape')), makeNode('Flatten', [x], [flat], { axis: oldAxis }, step.nodeName('flatten'))];
  node.input = [flat, ...node.input.slice(1)];
  node.output = [rows, ...node.output.slice(1)];
  setAttr(node, 'axis', -1);
  const after = makeNode('Reshape', [rows, shape], [y], {}, step.nodeName('reshape'));
  step.note(`axis ${oldAxis} of a rank-${rank ?? '?'} input: Flatten, ${step.op} on the last axis, Reshape back`);
  return [...before, node, after];
}

/** Opset 9 removed spatial (always 1 from then on). */
export function batchNormSpatial(step: Step): void {
  const spatial = takeAttr(step.node, 'spatial');
  if (spatial && Number(spatial.i ?? 1) !== 1) refuse('spatial=0 (per-activation statistics) was removed from BatchNormalization at opset 9');
  if (spatial) step.note('spatial=1 attribute removed');
}

/** Opset 14 changed the training-mode outputs (running mean/var only); inference nodes are unchanged. */
export function batchNormOutputs(step: Step): void {
  step.node.output = trimOptional(step.node.output);
  if (step.node.output.length > 1) refuse('training-mode outputs (mean, var, saved_mean, saved_var) changed at opset 14');
}

/** Opset 10 made Dropout's mask output bool (it had the data type): only an unread mask can follow. */
export function dropoutMask(step: Step): void {
  const mask = step.node.output[1];
  if (!mask) return;
  if (step.scope.isRead(mask)) refuse(`its mask output ${mask} is read, and its type changes to bool at opset 10`);
  step.node.output = [step.node.output[0]];
  step.scope.droppedInfo.add(mask);
  step.note(`unread mask output ${mask} removed`);
}

/** Opset 11 deprecated Scatter for ScatterElements, which has the same inputs and axis. */
export function scatterToElements(step: Step): void {
  step.node.op_type = 'ScatterElements';
  step.note('Scatter renamed ScatterElements');
}

/** RoiAlign-16 defaults to half_pixel; opset 10's behaviour is output_half_pixel. */
export function roiAlignMode(step: Step): void {
  if (attr(step.node, 'coordinate_transformation_mode')) return;
  setAttr(step.node, 'coordinate_transformation_mode', 'output_half_pixel');
  step.note('coordinate_transformation_mode output_half_pixel (the opset 10 behaviour)');
}

const GRID_SAMPLE_MODES: Record<string, string> = { bilinear: 'linear', bicubic: 'cubic' };

/** GridSample-20 renamed its modes bilinear -> linear and bicubic -> cubic. */
export function gridSampleMode(step: Step): void {
  const mode = attrString(step.node, 'mode');
  const renamed = mode === undefined ? undefined : GRID_SAMPLE_MODES[mode];
  if (mode === undefined || !renamed) return; // the default (bilinear) became the default linear
  setAttr(step.node, 'mode', renamed);
  step.note(`mode ${mode} renamed ${renamed}`);
}

/** Split-18 needs num_outputs when no split input gives the sizes (equal parts, as before). */
export function splitNumOutputs(step: Step): void {
  if (step.node.input[1] || attr(step.node, 'num_outputs')) return;
  setAttr(step.node, 'num_outputs', step.node.output.length);
  step.note(`num_outputs ${step.node.output.length} set`);
}
