/**
 * Runtime checks of the Layer Report's messages (`webviewProtocol.ts`): each side accepts only what
 * the protocol allows and drops the rest. Requests from the webview are rebuilt field by field so
 * nothing unexpected reaches a handler; results from the extension get a shape check deep enough
 * for the views to rely on (names are strings, figures are numbers).
 */
import type {
  ErrorKind,
  InputShapes,
  RequestKind,
  ResultOf,
  RunningJob,
  SensitivityLayer,
  SensitivityResult,
  ToExtension,
  ToWebview,
} from './webviewProtocol';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFraction = (v: unknown): v is number => isNum(v) && v >= 0 && v <= 1;
const arrayOf = <T>(v: unknown, item: (x: unknown) => x is T, max = Infinity): v is T[] => Array.isArray(v) && v.length <= max && v.every(item);

const MAX_LAYERS = 100_000;
const MAX_NAME = 4096;
const isName = (v: unknown): v is string => isStr(v) && v.length <= MAX_NAME;

export const REQUEST_KINDS: readonly RequestKind[] = ['inspect', 'weightHistogram', 'prunePreview', 'profile', 'analyzeSensitivity', 'applyPrune'];
const ERROR_KINDS: readonly ErrorKind[] = ['cancelled', 'timeout', 'untrusted', 'unavailable', 'busy', 'failed'];

export const isRequestKind = (v: unknown): v is RequestKind => REQUEST_KINDS.includes(v as RequestKind);

// ---------------------------------------------------------------------------------------------
// Webview -> extension

const MAX_INPUTS = 256;
const MAX_RANK = 16;
const isDim = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 1;

function isShapes(v: unknown): v is InputShapes {
  if (!isObj(v)) return false;
  const entries = Object.entries(v);
  return entries.length <= MAX_INPUTS && entries.every(([name, dims]) => isName(name) && arrayOf(dims, isDim, MAX_RANK));
}

/** A copy on a null-prototype object, so input names like "__proto__" stay plain keys. */
function copyShapes(shapes: InputShapes): InputShapes {
  const out = Object.create(null) as InputShapes;
  for (const [name, dims] of Object.entries(shapes)) out[name] = [...dims];
  return out;
}

/** The message as the protocol allows it, rebuilt with known fields only; undefined when invalid. */
export function parseToExtension(v: unknown): ToExtension | undefined {
  if (!isObj(v)) return undefined;
  switch (v.type) {
    case 'ready':
    case 'manageTrust':
      return { type: v.type };
    case 'cancel':
    case 'analyzeSensitivity':
      return isId(v.requestId) ? { type: v.type, requestId: v.requestId } : undefined;
    case 'inspect':
    case 'profile':
      if (!isId(v.requestId) || !(v.shapes === undefined || isShapes(v.shapes))) return undefined;
      return v.shapes === undefined ? { type: v.type, requestId: v.requestId } : { type: v.type, requestId: v.requestId, shapes: copyShapes(v.shapes) };
    case 'weightHistogram':
      return isId(v.requestId) && isName(v.layer) && Number.isInteger(v.bins) && (v.bins as number) >= 1 && (v.bins as number) <= 1024
        ? { type: 'weightHistogram', requestId: v.requestId, layer: v.layer, bins: v.bins as number }
        : undefined;
    case 'prunePreview':
    case 'applyPrune':
      return isId(v.requestId) && arrayOf(v.layers, isName, MAX_LAYERS) && isFraction(v.sparsity)
        ? { type: v.type, requestId: v.requestId, layers: [...v.layers], sparsity: v.sparsity }
        : undefined;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Extension -> webview: results

const isTensor = (v: unknown): v is unknown => isObj(v) && isStr(v.name) && isStr(v.dtype) && (v.shape === null || Array.isArray(v.shape));
const isLayer = (v: unknown): v is unknown => isObj(v) && isStr(v.name) && isStr(v.opType) && isNum(v.params) && isNum(v.sparsity) && isObj(v.paramBytes) && Array.isArray(v.weightDtypes);
const isNodeTime = (v: unknown): v is unknown => isObj(v) && isStr(v.name) && isStr(v.opType) && isNum(v.meanUs) && isNum(v.share);
const isFidelity = (v: unknown): boolean => isObj(v) && isNum(v.cosine) && isNum(v.sqnrDb);

function isSensitivityLayer(v: unknown): v is SensitivityLayer {
  if (!isObj(v) || !isStr(v.name)) return false;
  if (v.int8 !== undefined && !isFidelity(v.int8)) return false;
  return v.prune === undefined || arrayOf(v.prune, (p): p is unknown => isFidelity(p) && isNum((p as Obj).level));
}

export function isSensitivityResult(v: unknown): v is SensitivityResult {
  return isObj(v) && arrayOf(v.layers, isSensitivityLayer);
}

const RESULT_CHECKS: { [K in RequestKind]: (v: unknown) => v is ResultOf[K] } = {
  inspect: (v): v is ResultOf['inspect'] =>
    isObj(v) && isStr(v.path) && isNum(v.sizeBytes) && isNum(v.paramCount) && arrayOf(v.layers, isLayer) && arrayOf(v.inputs, isTensor) && arrayOf(v.outputs, isTensor) && Array.isArray(v.opsets),
  weightHistogram: (v): v is ResultOf['weightHistogram'] => isObj(v) && isStr(v.layer) && arrayOf(v.counts, isNum) && isNum(v.absMax) && isNum(v.count) && isNum(v.zeros),
  prunePreview: (v): v is ResultOf['prunePreview'] => isObj(v) && Array.isArray(v.layers) && isNum(v.params) && isNum(v.kept) && isNum(v.bytes) && isNum(v.sparseBytes),
  profile: (v): v is ResultOf['profile'] => isObj(v) && isObj(v.latencyMs) && arrayOf(v.nodes, isNodeTime) && isNum(v.runs),
  analyzeSensitivity: isSensitivityResult,
  applyPrune: (v): v is ResultOf['applyPrune'] => isObj(v) && typeof v.applied === 'boolean' && isStr(v.message),
};

export function isResultOf<K extends RequestKind>(kind: K, v: unknown): v is ResultOf[K] {
  return RESULT_CHECKS[kind](v);
}

// ---------------------------------------------------------------------------------------------
// Extension -> webview: messages

const isRunningJob = (v: unknown): v is RunningJob =>
  isObj(v) && isId(v.requestId) && (v.request === 'profile' || v.request === 'analyzeSensitivity') && (v.message === undefined || isStr(v.message));

function isResponse(v: Obj): boolean {
  if (!isId(v.requestId) || !isRequestKind(v.request)) return false;
  if (v.ok === true) return isResultOf(v.request, v.result);
  return v.ok === false && isObj(v.error) && ERROR_KINDS.includes(v.error.kind as ErrorKind) && isStr(v.error.message);
}

function isInit(v: Obj): boolean {
  const optional = (x: unknown, check: (y: unknown) => boolean) => x === undefined || check(x);
  return isStr(v.fileName) && typeof v.trusted === 'boolean' && arrayOf(v.running, isRunningJob) && optional(v.profile, RESULT_CHECKS.profile) && optional(v.sensitivity, isSensitivityResult);
}

const MESSAGE_CHECKS: Record<ToWebview['type'], (v: Obj) => boolean> = {
  init: isInit,
  response: isResponse,
  progress: (v) => isId(v.requestId) && isStr(v.message) && (v.percentage === undefined || isNum(v.percentage)),
  sensitivity: (v) => isSensitivityResult(v.result),
  trust: (v) => typeof v.trusted === 'boolean',
  modelChanged: () => true,
};

/** The message if the protocol allows it; undefined otherwise. */
export function parseToWebview(v: unknown): ToWebview | undefined {
  if (!isObj(v) || !isStr(v.type) || !Object.hasOwn(MESSAGE_CHECKS, v.type)) return undefined;
  return MESSAGE_CHECKS[v.type as ToWebview['type']](v) ? (v as unknown as ToWebview) : undefined;
}
