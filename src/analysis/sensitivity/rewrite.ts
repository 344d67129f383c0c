/**
 * The model rewrites that let ONE onnxruntime session evaluate every weight-only variant:
 *
 * - weights as inputs: each analysed layer reads its weight from a new main-graph input instead of a
 *   constant (a layer in an If/Loop/Scan body reads it from the outer scope). A variant feeds the
 *   changed weight for its layer and the original weights for every other one. ORT can no longer
 *   constant-fold or pre-pack those weights, so a run is somewhat slower than the original model's
 *   and rounding may differ in the last bits (the job measures that difference, `rewriteCheck`).
 * - capture outputs (on the original model, constants intact): the layers' input activations become
 *   extra graph outputs, fetched for the calibration ranges (int8) and the layer-local proxy.
 * - gated activation fake-quant (the int8 session): before each layer with a calibrated input range,
 *   x' = Where(flag, DequantizeLinear(QuantizeLinear(x, s, zp), s, zp), x) with `flag` a bool scalar
 *   graph input. Feeding false everywhere computes exactly the original values (Where selects x
 *   untouched); the int8 variant of a layer sets its flag. This costs a Q/DQ/Where per layer on every
 *   run, so it lives in a second session used only for int8 variants.
 */
import { node, valueInfo } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { ModelProto, NodeProto } from '../../onnx/types';
import { defaultOpset, ensureOpset, modelScopes, WeightEditor, type Scope } from '../../passes/quant/weights';
import { capturableActivation, findLayers, type SensitivityLayer } from './layers';

/** Static int8 activation quantization of one layer's input (asymmetric, from calibration). */
export interface ActivationQuant {
  scale: number;
  zeroPoint: number;
}

export interface RewriteOptions {
  /** Layer index -> activation quantization: adds the gated Q/DQ before that layer. */
  activationQuant?: Map<number, ActivationQuant>;
}

export interface RewrittenModel {
  model: ModelProto;
  layers: SensitivityLayer[];
  /** Per layer: the graph input that carries its weight. */
  weightInputs: string[];
  /** Per layer: the bool flag input enabling its activation fake-quant, or undefined. */
  flagInputs: (string | undefined)[];
  /** The model's own outputs, in order. */
  outputs: string[];
}

export interface CaptureModel {
  model: ModelProto;
  layers: SensitivityLayer[];
  /** Per layer: the activation to capture, or undefined (nested layer, constant input). */
  activations: (string | undefined)[];
  /** Activations added as graph outputs (those computed by nodes; graph inputs come from the feeds). */
  captured: string[];
  /** The model's own outputs, in order. */
  outputs: string[];
}

/** First default-domain opset with QuantizeLinear/DequantizeLinear. */
const QDQ_OPSET = 10;
/** First default-domain opset with Where. */
const WHERE_OPSET = 9;
const MS_DOMAIN = 'com.microsoft';

/**
 * Where the Q/DQ ops come from: the default domain from opset 10; below that onnxruntime's own
 * com.microsoft QuantizeLinear/DequantizeLinear (same arithmetic), so the model's opset and the
 * meaning of its other ops stay untouched.
 */
function qdqDomain(model: ModelProto): string {
  if (defaultOpset(model) >= QDQ_OPSET) return '';
  ensureOpset(model, MS_DOMAIN, 1);
  return MS_DOMAIN;
}

/**
 * Rewrites `model` IN PLACE (callers pass a freshly loaded copy). Layer indices match
 * findLayers(model) on the unmodified model.
 */
export function rewriteForVariants(model: ModelProto, options: RewriteOptions = {}): RewrittenModel {
  const { layers } = findLayers(model);
  const scopes = modelScopes(model);
  const main = scopes[0];
  const outputs = main.graph.output.map((v) => v.name ?? '');
  const editor = new WeightEditor(model);
  // Read before gating rewires the layers' activation inputs.
  const activations = layers.map(capturableActivation);
  const weightInputs = layers.map((layer) => weightToInput(editor, main, layer));
  const domain = options.activationQuant?.size ? qdqDomain(model) : '';
  const flagInputs = layers.map((layer) => {
    const quant = options.activationQuant?.get(layer.index);
    return quant && activations[layer.index] ? gateActivation(editor, main, layer, quant, domain) : undefined;
  });
  editor.removeRetired();
  return { model, layers, weightInputs, flagInputs, outputs };
}

/**
 * The original model (constants intact) with the layers' input activations as extra graph outputs:
 * calibration ranges, the proxy's inputs and the reference outputs all come from it. IN PLACE.
 */
export function captureModel(model: ModelProto): CaptureModel {
  const { layers } = findLayers(model);
  const main = modelScopes(model)[0];
  const outputs = main.graph.output.map((v) => v.name ?? '');
  const activations = layers.map(capturableActivation);
  return { model, layers, activations, captured: addCaptureOutputs(main, activations), outputs };
}

function weightToInput(editor: WeightEditor, main: Scope, layer: SensitivityLayer): string {
  const name = editor.uniqueName(`${layer.weight.name}.sensitivity${layer.index}`);
  layer.node.input[layer.weightSlot] = name;
  main.graph.input.push(valueInfo(name, DataType.FLOAT, layer.dims));
  editor.retire(layer.weight);
  return name;
}

/** Inserts Q -> DQ -> Where(flag) before the layer (main graph only) and returns the flag input's name. */
function gateActivation(editor: WeightEditor, main: Scope, layer: SensitivityLayer, quant: ActivationQuant, domain: string): string {
  const x = layer.node.input[layer.activationSlot];
  const base = `${x}.sensitivity${layer.index}`;
  const scale = editor.addInitializer(main, `${base}.scale`, { dims: [], dataType: DataType.FLOAT, data: Float32Array.of(quant.scale) });
  const zeroPoint = editor.addInitializer(main, `${base}.zero_point`, { dims: [], dataType: DataType.INT8, data: Int8Array.of(quant.zeroPoint) });
  const flag = editor.uniqueName(`${base}.int8`);
  main.graph.input.push(valueInfo(flag, DataType.BOOL, []));
  const [q, dq, gated] = [editor.uniqueName(`${base}.q`), editor.uniqueName(`${base}.dq`), editor.uniqueName(`${base}.gated`)];
  const nodes: NodeProto[] = [
    node('QuantizeLinear', [x, scale, zeroPoint], [q], {}, editor.uniqueName(`${base}.QuantizeLinear`), domain || undefined),
    node('DequantizeLinear', [q, scale, zeroPoint], [dq], {}, editor.uniqueName(`${base}.DequantizeLinear`), domain || undefined),
    node('Where', [flag, dq, x], [gated], {}, editor.uniqueName(`${base}.Where`)),
  ];
  const at = main.graph.node.indexOf(layer.node);
  main.graph.node.splice(at, 0, ...nodes);
  layer.node.input[layer.activationSlot] = gated;
  return flag;
}

/** Adds each capturable activation that is produced by a node as a float graph output (once). */
function addCaptureOutputs(main: Scope, activations: (string | undefined)[]): string[] {
  const existing = new Set(main.graph.output.map((v) => v.name ?? ''));
  const graphInputs = new Set(main.graph.input.map((v) => v.name ?? ''));
  const captured: string[] = [];
  for (const x of activations) {
    if (!x || graphInputs.has(x) || captured.includes(x)) continue;
    captured.push(x);
    if (!existing.has(x)) main.graph.output.push(valueInfo(x, DataType.FLOAT, undefined));
  }
  return captured;
}

/** Whether the model's opset allows the gate (Where needs opset 9). */
export function supportsActivationQuant(model: ModelProto): boolean {
  return defaultOpset(model) >= WHERE_OPSET;
}
