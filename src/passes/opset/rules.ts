/**
 * The adapter for each boundary that needs one, by "Op-version" (the version being entered). Every
 * other boundary listed in history.ts is compatible or refused there.
 */
import type { NodeProto } from '../../onnx/types';
import { axesToInput, clipToInputs, dropoutRatioToInput, padToInputs, sliceToInputs, splitToInput, topkToInput } from './adaptInputs';
import { batchNormOutputs, batchNormSpatial, dropoutMask, gridSampleMode, roiAlignMode, scatterToElements, softmaxAxis, splitNumOutputs } from './adaptOther';
import { checkResize13, resizeTo11, upsampleScalesToInput, upsampleToResize } from './adaptResize';
import type { Step } from './step';

/** Rewrites the step's node in place (void) or returns the nodes that replace it. */
export type Adapter = (step: Step) => NodeProto[] | void;

const REDUCE_18 = ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare'];

export const ADAPTERS: ReadonlyMap<string, Adapter> = new Map<string, Adapter>([
  ['BatchNormalization-9', batchNormSpatial],
  ['Upsample-9', upsampleScalesToInput],
  ['Dropout-10', dropoutMask],
  ['Slice-10', sliceToInputs],
  ['TopK-10', topkToInput],
  ['Upsample-10', upsampleToResize],
  ['Clip-11', clipToInputs],
  ['Pad-11', padToInputs],
  ['Resize-11', resizeTo11],
  ['Scatter-11', scatterToElements],
  ['Dropout-12', dropoutRatioToInput],
  ['Softmax-13', softmaxAxis],
  ['LogSoftmax-13', softmaxAxis],
  ['Hardmax-13', softmaxAxis],
  ['ReduceSum-13', axesToInput],
  ['Squeeze-13', axesToInput],
  ['Unsqueeze-13', axesToInput],
  ['Split-13', splitToInput],
  ['Resize-13', checkResize13],
  ['BatchNormalization-14', batchNormOutputs],
  ['RoiAlign-16', roiAlignMode],
  ['Split-18', splitNumOutputs],
  ...REDUCE_18.map((op): [string, Adapter] => [`${op}-18`, axesToInput]),
  ['GridSample-20', gridSampleMode],
]);
