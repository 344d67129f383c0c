/**
 * Deterministic sample models for trying the tool and for tests: small, valid for onnxruntime (opset
 * 17, IR 8) and covering the layouts real exporters produce. Headless: never imports `vscode`.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { saveModel } from '../onnx/io';
import type { ModelProto } from '../onnx/types';
import { attention } from './attention';
import { cnn } from './cnn';
import { ifModel } from './ifModel';
import { constants, externalData, mlp } from './mlp';

export { attention, cnn, constants, externalData, ifModel, mlp };

export interface SampleSpec {
  build: () => ModelProto;
  description: string;
  /** A concrete shape for every input (symbolic dims resolved), for generating test inputs. */
  inputShapes: Record<string, number[]>;
  /** Written with its weights in a `<name>.onnx.data` file beside the model. */
  externalData?: boolean;
}

export const SAMPLES: Readonly<Record<string, SampleSpec>> = {
  mlp: {
    build: mlp,
    description: 'MLP 64-128-128-10: Gemm+Relu, MatMul+Add+Relu, Gemm, Softmax',
    inputShapes: { x: [2, 64] },
  },
  cnn: {
    build: cnn,
    description: 'CNN on 3x32x32: Conv+BN+Relu, residual block, strided conv, depthwise conv, pooling, Gemm',
    inputShapes: { x: [2, 3, 32, 32] },
  },
  attention: {
    build: attention,
    description: 'Self-attention block (4 heads, hidden 64, seq 16) with residual Add and LayerNormalization',
    inputShapes: { x: [1, 16, 64] },
  },
  ifModel: {
    build: ifModel,
    description: 'If on sum(x) > 0 with a MatMul per branch: one weight in the subgraph, one from the outer scope',
    inputShapes: { x: [2, 32] },
  },
  constants: {
    build: constants,
    description: 'The MLP with every weight in a Constant node (paddle2onnx / torch style), no initializers',
    inputShapes: { x: [2, 64] },
  },
  externalData: {
    build: externalData,
    description: 'A wider MLP (64-256-256-10) saved with its weights in an external .data file',
    inputShapes: { x: [2, 64] },
    externalData: true,
  },
};

/** Writes every sample as `<dir>/<name>.onnx` (plus `<name>.onnx.data` where external); returns the model paths. */
export function writeSamples(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return Object.entries(SAMPLES).map(([name, spec]) => {
    const file = path.join(dir, `${name}.onnx`);
    saveModel(spec.build(), file, spec.externalData ? { externalData: {} } : {});
    return file;
  });
}
