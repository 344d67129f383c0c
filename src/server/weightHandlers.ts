/**
 * The weight requests behind the Layer Report: a layer's weight-magnitude histogram and a pruning
 * preview. Both only read the model (from ModelCache), so they work in untrusted workspaces.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import { ErrorCodes } from 'vscode-languageserver/node';
import { layerWeights } from '../core/layerWeights';
import { prunePreview, weightHistogram, type PrunePreview, type WeightHistogram } from '../core/magnitude';
import type { PrunePreviewParams, WeightHistogramParams } from '../shared/protocol';
import { RequestRefused, cancelledReply, toResponseError } from './errors';
import type { ServerContext } from './handlers';
import type { ModelCache } from './modelCache';
import { resolveModelPath } from './modelPath';

export interface WeightContext extends ServerContext {
  models: ModelCache;
}

const DEFAULT_BINS = 64;
const MAX_BINS = 1024;
const MAX_LAYERS = 100_000;

export function handleWeightHistogram(ctx: WeightContext, params: WeightHistogramParams, token: CancellationToken): WeightHistogram {
  return answer(ctx, 'weight histogram', token, () => {
    const bins = params.bins ?? DEFAULT_BINS;
    if (!Number.isInteger(bins) || bins < 1 || bins > MAX_BINS) throw invalid(`bins must be an integer from 1 to ${MAX_BINS}, got ${String(bins)}`);
    if (typeof params.layer !== 'string') throw invalid('the request names no layer');
    const { layers } = ctx.models.get(resolveModelPath({ path: params.path }));
    return weightHistogram(layerWeights(layers, params.layer), bins);
  });
}

export function handlePrunePreview(ctx: WeightContext, params: PrunePreviewParams, token: CancellationToken): PrunePreview {
  return answer(ctx, 'prune preview', token, () => {
    const { sparsity, layers: names } = params;
    if (typeof sparsity !== 'number' || !(sparsity >= 0 && sparsity <= 1)) throw invalid(`sparsity must be a number from 0 to 1, got ${String(sparsity)}`);
    if (!Array.isArray(names) || names.length > MAX_LAYERS || !names.every((n) => typeof n === 'string')) throw invalid('layers must be an array of layer names');
    const { layers } = ctx.models.get(resolveModelPath({ path: params.path }));
    return prunePreview([...new Set(names)].map((name) => layerWeights(layers, name)), sparsity);
  });
}

/** Runs a synchronous job, turning whatever it throws into a one-line error reply. */
function answer<T>(ctx: ServerContext, what: string, token: CancellationToken, job: () => T): T {
  try {
    if (token.isCancellationRequested) throw cancelledReply(what);
    return job();
  } catch (err) {
    throw toResponseError(err, what, (text) => ctx.connection.console.error(text));
  }
}

function invalid(message: string): RequestRefused {
  return new RequestRefused(ErrorCodes.InvalidParams, message);
}
