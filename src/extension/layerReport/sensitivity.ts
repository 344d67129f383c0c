/**
 * Per-layer sensitivity analysis through the server's `onnxLean/sensitivity` request. The panel shows
 * INT8 and magnitude-pruning fidelity per layer; an older server without the request (JSON-RPC
 * MethodNotFound) is reported as "not available": nothing is made up.
 */
import type { LanguageClient } from 'vscode-languageclient/node';
import { ErrorCodes, ResponseError } from 'vscode-languageclient/node';
import { SensitivityRequest, type SensitivityReport } from '../../shared/protocol';
import { isSensitivityResult } from '../../shared/webviewGuards';
import type { SensitivityResult } from '../../shared/webviewProtocol';
import type { JobControl } from './dispatcher';
import { PanelError } from './errors';
import { withWorkDone } from './workDone';

export const SENSITIVITY_METHOD = SensitivityRequest.method;

export const SENSITIVITY_UNAVAILABLE = 'Sensitivity analysis is not available yet in this version of ONNX Lean.';

/** The panel's view of the report: per layer, INT8 and magnitude-pruning fidelity. */
function panelView(report: SensitivityReport): unknown {
  return { layers: report.layers.map((l) => ({ name: l.name, ...(l.int8 ? { int8: l.int8 } : {}), prune: l.prune })) };
}

export async function requestSensitivity(client: LanguageClient, path: string, job: JobControl, shapes?: Record<string, number[]>): Promise<SensitivityResult> {
  let result: unknown;
  try {
    result = panelView(await withWorkDone(client, job, (workDoneToken) => client.sendRequest(SensitivityRequest.type, { path, shapes, workDoneToken }, job.token)));
  } catch (err) {
    if (err instanceof ResponseError && err.code === ErrorCodes.MethodNotFound) throw new PanelError('unavailable', SENSITIVITY_UNAVAILABLE);
    throw err;
  }
  if (!isSensitivityResult(result)) throw new PanelError('failed', 'the sensitivity result has an unexpected shape (expected { layers: [{ name, int8?, prune? }] })');
  return result;
}
