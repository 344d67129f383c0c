/** The ONNX layer of the headless core: codec, file I/O, graph index. Never imports `vscode`. */
export * from './types';
export * from './dtypes';
export * from './tensor';
export * from './graph';
export * from './walk';
export { decodeModel } from './decode';
export { encodeModel, messageSize } from './encode';
export { loadModel, saveModel, decodeBuffer, ModelFileError, PROTOBUF_LIMIT, type LoadedModel, type SaveOptions, type SaveResult } from './io';
export { OnnxFormatError } from './wire';
