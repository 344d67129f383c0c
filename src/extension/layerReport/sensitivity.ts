/**
 * Per-layer sensitivity analysis through the server's `onnxLean/sensitivity` request, which another
 * part of ONNX Lean is still building. Until `src/shared/protocol.ts` declares it, the method name and
 * the expected result shape (`SensitivityResult`) are stated here, and a server without the request
 * (JSON-RPC MethodNotFound) is reported as "not available yet": nothing is made up.
 */
import type { LanguageClient } from 'vscode-languageclient/node';
import { ErrorCodes, ResponseError } from 'vscode-languageclient/node';
import { isSensitivityResult } from '../../shared/webviewGuards';
import type { SensitivityResult } from '../../shared/webviewProtocol';
import type { JobControl } from './dispatcher';
import { PanelError } from './errors';
import { withWorkDone } from './workDone';

/** TODO(sensitivity): replace with `SensitivityRequest.method` once src/shared/protocol.ts declares it. */
export const SENSITIVITY_METHOD = 'onnxLean/sensitivity';

export const SENSITIVITY_UNAVAILABLE = 'Sensitivity analysis is not available yet in this version of ONNX Lean.';

export async function requestSensitivity(client: LanguageClient, path: string, job: JobControl): Promise<SensitivityResult> {
  let result: unknown;
  try {
    result = await withWorkDone(client, job, (workDoneToken) => client.sendRequest(SENSITIVITY_METHOD, { path, workDoneToken }, job.token));
  } catch (err) {
    if (err instanceof ResponseError && err.code === ErrorCodes.MethodNotFound) throw new PanelError('unavailable', SENSITIVITY_UNAVAILABLE);
    throw err;
  }
  if (!isSensitivityResult(result)) throw new PanelError('failed', 'the sensitivity result has an unexpected shape (expected { layers: [{ name, int8?, prune? }] })');
  return result;
}
