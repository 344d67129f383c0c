/**
 * Upsample and Resize. Upsample-7 holds its scales in an attribute, Upsample-9 in an input; opset 10
 * deprecates Upsample for Resize-10, which computes the same thing (asymmetric coordinates, output
 * size floor(input * scale)). Resize-11 adds the roi input and the coordinate_transformation_mode and
 * nearest_mode attributes, whose defaults (half_pixel, round_prefer_floor) differ from opset 10:
 * there x_original = x_resized / scale, and the nearest pixel is floor(x_original) when upsampling
 * and ceil(x_original) when downsampling (onnxruntime's upsamplebase.h, nearest mode "SIMPLE").
 */
import { floatTensor, node as makeNode } from '../../onnx/build';
import { attr, attrString } from '../../onnx/graph';
import { tensorValues } from '../../onnx/tensor';
import type { NodeProto } from '../../onnx/types';
import { refuse, setAttr, takeAttr, type Step } from './step';

/** Upsample-9: scales attribute -> float input. */
export function upsampleScalesToInput(step: Step): void {
  const scales = takeAttr(step.node, 'scales');
  if (!scales?.floats.length) refuse('Upsample-7 needs a scales attribute');
  step.node.input = [step.node.input[0], step.constant('scales', floatTensor('', [scales.floats.length], scales.floats))];
  step.note('scales attribute to input');
}

/** Opset 10: Upsample-9 -> Resize-10 with the same inputs and mode. */
export function upsampleToResize(step: Step): NodeProto[] {
  const old = step.node;
  if (old.input.length < 2 || !old.input[1]) refuse('Upsample-9 needs a scales input');
  const resize = makeNode('Resize', old.input.slice(0, 2), [...old.output], { mode: attrString(old, 'mode') ?? 'nearest' }, old.name, old.domain);
  step.run.fromUpsample.add(resize);
  step.note('Upsample replaced by Resize');
  return [resize];
}

/** The nearest_mode that reproduces opset 10's rounding for these scales. */
function nearestMode(step: Step, scalesName: string): string {
  if (step.run.fromUpsample.has(step.node)) return 'floor'; // Upsample scales are >= 1
  const tensor = step.scope.constant(scalesName);
  const values = tensor ? tensorValues(tensor) : undefined;
  if (!values) {
    step.warn(`scales ${scalesName} are computed at run time: assumed >= 1 (nearest_mode floor); opset 10 rounds up instead where a scale is < 1`);
    return 'floor';
  }
  if (values.every((s) => s >= 1)) return 'floor';
  if (values.every((s) => s <= 1)) return 'ceil';
  refuse(`scales [${Array.from(values).join(', ')}] mix up- and downsampling, which Resize-10 rounds differently per axis (no single nearest_mode matches)`);
}

/** Resize-11: [X, scales] -> [X, roi, scales] with opset 10's coordinate transform and rounding. */
export function resizeTo11(step: Step): void {
  const [x, scales] = step.node.input;
  if (!scales) refuse('Resize-10 needs a scales input');
  const mode = attrString(step.node, 'mode') ?? 'nearest';
  // roi is read only by tf_crop_and_resize; from opset 13 it may be omitted.
  const roi = step.run.to >= 13 ? '' : step.constant('roi', floatTensor('', [0], []));
  step.node.input = [x, roi, scales];
  setAttr(step.node, 'coordinate_transformation_mode', 'asymmetric');
  if (mode === 'nearest') setAttr(step.node, 'nearest_mode', nearestMode(step, scales));
  step.note(`roi input added, coordinate_transformation_mode asymmetric${mode === 'nearest' ? ', nearest_mode set' : ''}`);
}

/** Resize-13 dropped tf_half_pixel_for_nn (onnxruntime still reads it, with a deprecation warning). */
export function checkResize13(step: Step): void {
  if (attr(step.node, 'coordinate_transformation_mode') && attrString(step.node, 'coordinate_transformation_mode') === 'tf_half_pixel_for_nn') {
    refuse('coordinate_transformation_mode tf_half_pixel_for_nn was removed from Resize at opset 13');
  }
}
