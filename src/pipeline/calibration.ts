/** Calibration for the optimize pipeline: wired to the runtime's calibration job once it exists. */
import { UserError } from '../core/errors';
import type { CalibrationData } from '../passes/pass';

export function calibrateForPipeline(): Promise<CalibrationData & { source: string }> {
  return Promise.reject(new UserError('calibration is not available yet'));
}
