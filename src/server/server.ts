/**
 * The ONNX Lean language server: a separate Node process (stdio or node-ipc, chosen by the launcher's
 * arguments) that owns the engine. It answers the custom requests declared in src/shared/protocol.ts.
 *
 * Never write to stdout here (no console.log): with --stdio it carries the protocol. Log through
 * `connection.console`, which the client shows in its output channel.
 */
import { ResponseError, LSPErrorCodes, ProposedFeatures, createConnection, type InitializeResult, type ResponseMessage } from 'vscode-languageserver/node';
import { CompareRequest, DidChangeTrustNotification, InspectRequest, OptimizeRequest, SensitivityRequest, ProfileRequest, PrunePreviewRequest, WeightHistogramRequest, type InitializationOptions } from '../shared/protocol';
import { registerBudget } from './budget';
import { handleInspect, handleProfile, type ServerContext } from './handlers';
import { JobScheduler } from './jobs';
import { ModelCache } from './modelCache';
import { handleCompare, handleOptimize } from './optimizeHandlers';
import { handleSensitivity } from './sensitivityHandler';
import { handlePrunePreview, handleWeightHistogram } from './weightHandlers';

/** A request cancelled before it was dispatched still gets a reply, so no client waits forever. */
function cancelUndispatched(): ResponseMessage {
  const error = new ResponseError(LSPErrorCodes.RequestCancelled, 'request cancelled before it started');
  return { jsonrpc: '2.0', id: null, error: error.toJson() };
}

const connection = createConnection(ProposedFeatures.all, { connectionStrategy: { cancelUndispatched } });
let trusted = false;
const ctx: ServerContext = { connection, jobs: new JobScheduler(), isTrusted: () => trusted };
const budget = registerBudget(ctx);

connection.onInitialize((params): InitializeResult => {
  trusted = (params.initializationOptions as InitializationOptions | undefined)?.trusted === true;
  budget.initialize(params);
  return { capabilities: { ...budget.capabilities }, serverInfo: { name: 'onnx-lean', version: '0.1.0' } };
});

connection.onInitialized(() => {
  connection.console.info(`ONNX Lean server started (pid ${process.pid}, Node ${process.version}, workspace ${trusted ? 'trusted' : 'untrusted'})`);
});

connection.onNotification(DidChangeTrustNotification.type, (params) => {
  trusted = params.trusted === true;
  connection.console.info(`workspace is now ${trusted ? 'trusted' : 'untrusted'}`);
  budget.onTrustChanged();
});

connection.onRequest(InspectRequest.type, (params, token) => handleInspect(ctx, params, token));
connection.onRequest(ProfileRequest.type, (params, token) => handleProfile(ctx, params, token));
connection.onRequest(OptimizeRequest.type, (params, token) => handleOptimize(ctx, params, token));
connection.onRequest(CompareRequest.type, (params, token) => handleCompare(ctx, params, token));
connection.onRequest(SensitivityRequest.type, (params, token) => handleSensitivity(ctx, params, token));
const weights = { ...ctx, models: new ModelCache() };
connection.onRequest(WeightHistogramRequest.type, (params, token) => handleWeightHistogram(weights, params, token));
connection.onRequest(PrunePreviewRequest.type, (params, token) => handlePrunePreview(weights, params, token));

connection.listen();
