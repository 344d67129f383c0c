/**
 * What the Layer Report's requests do in the extension host: ask the engine (the language server) and
 * keep long results on the document. Nothing here reads the model or loads onnxruntime.
 */
import * as vscode from 'vscode';
import { InspectRequest, ProfileRequest, PrunePreviewRequest, WeightHistogramRequest } from '../../shared/protocol';
import type { InputShapes } from '../../shared/webviewProtocol';
import type { Engine } from '../engine';
import type { Handlers, JobControl } from './dispatcher';
import type { LayerReportDocument } from './document';
import { PanelError } from './errors';
import { applyPrune } from './pruneCommand';
import { requestSensitivity } from './sensitivity';
import { withWorkDone } from './workDone';

const UNTRUSTED = 'This workspace is not trusted: profiling and sensitivity analysis run the model with onnxruntime, so they need trust.';

function requireTrust(): void {
  if (!vscode.workspace.isTrusted) throw new PanelError('untrusted', UNTRUSTED);
}

export function layerReportHandlers(engine: Engine, document: LayerReportDocument): Handlers {
  return {
    inspect: async ({ shapes }, job) => (await engine.ready()).sendRequest(InspectRequest.type, { path: document.path, shapes }, job.token),
    weightHistogram: async ({ layer, bins }, job) => (await engine.ready()).sendRequest(WeightHistogramRequest.type, { path: document.path, layer, bins }, job.token),
    prunePreview: async ({ layers, sparsity }, job) => (await engine.ready()).sendRequest(PrunePreviewRequest.type, { path: document.path, layers, sparsity }, job.token),
    profile: ({ shapes }, job) => profile(engine, document, job, shapes),
    analyzeSensitivity: (_params, job) => sensitivity(engine, document, job),
    applyPrune: ({ layers, sparsity }) => applyPrune({ uri: document.uri, layers, sparsity }),
  };
}

async function profile(engine: Engine, document: LayerReportDocument, job: JobControl, shapes: InputShapes | undefined) {
  requireTrust();
  const client = await engine.ready();
  const path = document.path;
  const options = shapes ? { shapes } : {};
  const report = await withWorkDone(client, job, (workDoneToken) => client.sendRequest(ProfileRequest.type, { path, options, workDoneToken }, job.token));
  document.profile = report;
  return report;
}

async function sensitivity(engine: Engine, document: LayerReportDocument, job: JobControl) {
  requireTrust();
  // The shapes the panel last profiled with, if any; otherwise the server binds a symbolic batch to 1.
  const shapes = document.profile ? Object.fromEntries(document.profile.inputs.map((i) => [i.name, i.shape])) : undefined;
  const result = await requestSensitivity(await engine.ready(), document.path, job, shapes);
  document.sensitivity = result;
  return result;
}
