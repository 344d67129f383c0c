/**
 * Calibration for the optimize pipeline: activation statistics of the input model, gathered in a
 * worker. Generated inputs use seeds from 1001 up, so they never coincide with the comparison's
 * samples (seeds 1, 2, ...); real data is split by the pipeline.
 */
import { loadModel } from '../onnx/io';
import type { CalibrationData } from '../passes/pass';
import { int8StaticCalibrationRequest, int8StaticPass } from '../passes/quant/static';
import { calibrateModel } from '../runtime/calibrate';
import type { Progress } from '../runtime/protocol';
import type { OptimizeRequest } from './optimize';

const CALIBRATION_SEED = 1001;

/** The int8-static step's options when the request names it, else its defaults (presets use defaults). */
function staticOptions(request: OptimizeRequest): ReturnType<typeof int8StaticPass.parseOptions> {
  const step = request.passes?.find((p) => p.name === int8StaticPass.name);
  return int8StaticPass.parseOptions(step?.options ?? {});
}

export async function calibrateForPipeline(
  input: string,
  request: OptimizeRequest,
  hooks: { signal?: AbortSignal; onProgress?: (p: Progress) => void },
): Promise<CalibrationData & { source: string }> {
  const wanted = int8StaticCalibrationRequest(loadModel(input).model, staticOptions(request));
  const data = await calibrateModel(
    input,
    { ...wanted, dataDir: request.dataDir, shapes: request.shapes, seed: CALIBRATION_SEED, samples: request.dataDir ? undefined : 16, threads: request.threads },
    hooks,
  );
  const source = request.dataDir ? `--data ${request.dataDir}` : `${data.samples} generated samples (seeds from ${CALIBRATION_SEED}); real data calibrates better`;
  return { ...data, source };
}
