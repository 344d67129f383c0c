/**
 * What the fp16 pass needs to know about ONNX operators: which ones stay float32 by default and why,
 * which inputs keep a float32 type whatever the node computes in, and the element type of each output
 * (the pass infers types itself: most exported models carry no value_info).
 *
 * Sources: onnxconverter-common float16.py (DEFAULT_OP_BLOCK_LIST), onnxruntime's
 * transformers/float16.py (ALWAYS_FLOAT_INPUTS: Resize scales), the ONNX operator specs (type
 * constraints), and onnxruntime's docs/OperatorKernels.md (which CPU kernels accept float16).
 */
import { attr, attrInt } from '../../onnx/graph';
import { DataType } from '../../onnx/dtypes';
import type { NodeProto } from '../../onnx/types';

/** How a node input wants a float32 tensor delivered once the node computes in float16. */
export type Want = 'fp16' | 'fp32' | 'exact32' | 'any';

const NO_ORT_KERNEL = 'ai.onnx.ml operator: no float16 kernel in onnxruntime';
const DTYPE_ATTR = 'output type fixed by an attribute, no float16 kernel in onnxruntime CPU';

/**
 * Kept in float32 unless the user allows them. The ai.onnx.ml list and most fragile ops come from
 * onnxconverter-common's DEFAULT_OP_BLOCK_LIST; Resize is not here (as in onnxruntime's float16.py):
 * it converts fine once its roi/scales inputs stay float32 (see slotWant).
 */
export const DEFAULT_BLOCK: ReadonlyMap<string, string> = new Map([
  ...[
    'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
    'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'SVMClassifier', 'SVMRegressor',
    'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'TreeEnsemble', 'ZipMap',
  ].map((op): [string, string] => [op, NO_ORT_KERNEL]),
  ['NonMaxSuppression', 'boxes and scores are float32-only in the ONNX spec; IoU tests need the precision'],
  ['TopK', 'float16 rounding ties close scores and changes the selected indices'],
  ['RoiAlign', 'box coordinates lose sub-pixel precision in float16'],
  ['Range', 'the element count depends on (limit - start) / delta, which float16 rounding can change'],
  ['CumSum', 'long running sums lose precision and overflow in float16'],
  ['Min', 'often an epsilon guard (max(x, 1e-12)); the epsilon is below float16 range'],
  ['Max', 'often an epsilon guard (max(x, 1e-12)); the epsilon is below float16 range'],
  ['Upsample', 'deprecated; its scales input is float32-only'],
  ['QuantizeLinear', 'quantization scales are float32-only before opset 19'],
  ['DequantizeLinear', 'quantization scales are float32-only before opset 19'],
  ['DynamicQuantizeLinear', 'its scale output is float32-only'],
  ...['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial', 'EyeLike'].map(
    (op): [string, string] => [op, DTYPE_ATTR],
  ),
  ...['HannWindow', 'HammingWindow', 'BlackmanWindow', 'MelWeightMatrix'].map((op): [string, string] => [op, DTYPE_ATTR]),
]);

/** The ONNX default domain ("" or "ai.onnx"), whose operator specs this file describes. */
export function isDefaultDomain(domain: string | undefined): boolean {
  return !domain || domain === 'ai.onnx';
}

/** Inputs whose type is not tied to the node's data type: reading either precision is valid. */
function isTypeFree(op: string, slot: number, opset: number): boolean {
  switch (op) {
    case 'Shape':
    case 'Size':
    case 'Cast':
    case 'IsNaN':
    case 'IsInf':
      return true;
    case 'CastLike':
      return slot === 0;
    case 'Pow':
      return slot === 1 && opset >= 12; // Pow-12 gave the exponent its own type T1
    case 'Dropout':
      return slot === 1 && opset >= 12; // ratio: T1
    case 'OneHot':
      return slot < 2; // indices and depth: any numeric type
    default:
      return false;
  }
}

/**
 * Inputs fixed to tensor(float) by the spec, or whose values must stay exact: Resize roi/scales
 * (onnxruntime's ALWAYS_FLOAT_INPUTS; a rounded scale changes the output size).
 */
function isFixedFloat(op: string, slot: number, opset: number): boolean {
  if (op === 'Resize') return opset >= 11 ? slot === 1 || slot === 2 : slot === 1;
  return op === 'Upsample' && slot === 1;
}

/** The want of input `slot` of a node that computes in float16. */
export function slotWant(node: NodeProto, slot: number, opset: number): Want {
  const op = node.op_type ?? '';
  if (!isDefaultDomain(node.domain)) return 'fp16';
  if (isFixedFloat(op, slot, opset)) return 'exact32';
  return isTypeFree(op, slot, opset) ? 'any' : 'fp16';
}

/** Outputs that stay float32 when the node computes in float16 (LayerNormalization's Mean/InvStdDev: U). */
export function isFixedFloatOutput(node: NodeProto, slot: number): boolean {
  return node.op_type === 'LayerNormalization' && isDefaultDomain(node.domain) && slot > 0;
}

/** Ops whose outputs are computed from shapes only (they never read their input's values). */
export const SHAPE_ONLY_OPS: ReadonlySet<string> = new Set(['Shape', 'Size']);

const BOOL_OUTPUT = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf', 'RegexFullMatch', 'OptionalHasElement']);
const INT64_OUTPUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
/** Per-output types of multi-output ops; 'T' is the data type (input 0). */
const OUTPUT_LAYOUT: Readonly<Record<string, (number | 'T')[]>> = {
  TopK: ['T', DataType.INT64],
  MaxPool: ['T', DataType.INT64],
  Unique: ['T', DataType.INT64, DataType.INT64, DataType.INT64],
  Dropout: ['T', DataType.BOOL],
  LayerNormalization: ['T', DataType.FLOAT, DataType.FLOAT],
  DynamicQuantizeLinear: [DataType.UINT8, DataType.FLOAT, DataType.UINT8],
  MatMulInteger: [DataType.INT32],
  ConvInteger: [DataType.INT32],
};

/** ai.onnx.ml classifiers output [label, scores]; these ML ops output float whatever their input. */
const ML_CLASSIFIERS = new Set(['LinearClassifier', 'SVMClassifier', 'TreeEnsembleClassifier']);
const ML_FLOAT_OUTPUT = new Set(['LinearRegressor', 'SVMRegressor', 'TreeEnsembleRegressor', 'Scaler', 'Normalizer', 'OneHotEncoder', 'FeatureVectorizer']);

function mlOutputType(node: NodeProto, slot: number): number | undefined {
  const op = node.op_type ?? '';
  if (ML_FLOAT_OUTPUT.has(op)) return DataType.FLOAT;
  if (!ML_CLASSIFIERS.has(op)) return undefined;
  if (slot === 1) return DataType.FLOAT;
  return attr(node, 'classlabels_strings') ? DataType.STRING : DataType.INT64;
}

function attrTensorType(node: NodeProto, name: string): number | undefined {
  return attr(node, name)?.t?.data_type;
}

function optionalAttr(node: NodeProto, name: string): number | undefined {
  const value = attrInt(node, name, -1);
  return value < 0 ? undefined : value;
}

/** The output type when one rule covers every output; undefined when the layout decides. */
function uniformOutputType(node: NodeProto, inputType: (i: number) => number | undefined): number | undefined {
  const op = node.op_type ?? '';
  if (BOOL_OUTPUT.has(op)) return DataType.BOOL;
  if (INT64_OUTPUT.has(op)) return DataType.INT64;
  switch (op) {
    case 'Cast':
      return optionalAttr(node, 'to');
    case 'CastLike':
    case 'Where':
      return inputType(1);
    case 'OneHot':
      return inputType(2);
    case 'ConstantOfShape':
      return attrTensorType(node, 'value') ?? DataType.FLOAT;
    case 'RandomNormal':
    case 'RandomUniform':
      return optionalAttr(node, 'dtype') ?? DataType.FLOAT;
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'EyeLike':
    case 'Bernoulli':
      return optionalAttr(node, 'dtype') ?? inputType(0);
    case 'Multinomial':
      return optionalAttr(node, 'dtype') ?? DataType.INT32;
    case 'HannWindow':
    case 'HammingWindow':
    case 'BlackmanWindow':
    case 'MelWeightMatrix':
      return optionalAttr(node, 'output_datatype') ?? DataType.FLOAT;
    case 'QuantizeLinear':
      return optionalAttr(node, 'output_dtype') ?? inputType(2) ?? DataType.UINT8;
    case 'DequantizeLinear':
      return optionalAttr(node, 'output_dtype') ?? inputType(1) ?? DataType.FLOAT;
    case 'QLinearConv':
    case 'QLinearMatMul':
      return inputType(7) ?? DataType.UINT8;
    case 'TfIdfVectorizer':
      return DataType.FLOAT;
    default:
      return undefined;
  }
}

/** The data type a node computes in when no rule is known: its first typed input. */
function dataType(node: NodeProto, inputType: (i: number) => number | undefined): number | undefined {
  for (let i = 0; i < node.input.length; i++) {
    const t = node.input[i] ? inputType(i) : undefined;
    if (t !== undefined) return t;
  }
  return undefined;
}

/**
 * Element type of output `slot` of a default-domain (or unknown custom) node, from its inputs' types.
 * Control-flow nodes are typed from their subgraphs by the caller.
 */
export function outputType(node: NodeProto, slot: number, inputType: (i: number) => number | undefined): number | undefined {
  if (node.domain === 'ai.onnx.ml') return mlOutputType(node, slot) ?? dataType(node, inputType);
  if (!isDefaultDomain(node.domain)) return dataType(node, inputType);
  const uniform = uniformOutputType(node, inputType);
  if (uniform !== undefined) return uniform;
  const layout = OUTPUT_LAYOUT[node.op_type ?? ''];
  const entry = layout?.[slot];
  if (typeof entry === 'number') return entry;
  return dataType(node, inputType);
}
