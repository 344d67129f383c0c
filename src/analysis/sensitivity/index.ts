/**
 * Sensitivity analysis: for every quantizable or prunable layer, how faithful the whole model stays
 * when ONLY that layer is changed (SparseML's one-shot per-layer loop, extended to int8 and channel
 * pruning), and a per-layer recommendation for a fidelity floor.
 *
 * Host side: validates options, finds the layers, answers from the on-disk cache when it can, plans
 * the variants and runs them on a pool of worker threads (pool.ts, src/runtime/sensitivityJob.ts),
 * then assembles the report. The end-to-end method runs the full model once per variant on sessions
 * reused across variants (weights fed as inputs, see rewrite.ts); the proxy method (proxyOnly) only
 * runs each layer alone on its captured input, for models too big for the loop.
 */
import { UserError } from '../../core/errors';
import type { LayerSensitivity, SensitivityLevel, SensitivityMetrics, SensitivityOptions, SensitivityReport } from '../../core/reports';
import { loadModel } from '../../onnx/io';
import { AbortError } from '../../runtime/nativeGuard';
import { resolveWorkerScript } from '../../runtime/workerScript';
import { cacheKey, readCache, writeCache } from './cache';
import { findLayers, LAYER_OPS, type LayerScan } from './layers';
import { normalizeSensitivityOptions, type NormalizedSensitivityOptions } from './options';
import { planVariants, type VariantPlan } from './plan';
import { runPool, type PoolHooks } from './pool';
import { recommend } from './recommend';
import { PROXY_CHUNK, type SensitivityJobResult, type SensitivityMethod } from './types';

export { normalizeSensitivityOptions, SensitivityOptionError, SENSITIVITY_DEFAULTS, SENSITIVITY_KINDS } from './options';
export { rankLayers, recommend, sensitivityScore, RECOMMENDATION_HEURISTIC } from './recommend';

export type SensitivityHooks = PoolHooks;

/** Static int8 activation quantization in int8 variants (always on; part of the cache key). */
const ACTIVATION_QUANT = true;

function nothingToAnalyse(modelPath: string, scan: LayerScan): UserError {
  const why = scan.skipped.length ? `; skipped: ${scan.skipped.slice(0, 3).map((s) => `${s.name} (${s.reason})`).join(', ')}` : '';
  return new UserError(`${modelPath} has nothing to analyse: no ${LAYER_OPS.join('/')} layer with a constant float32 weight${why}`);
}

/**
 * Per-layer sensitivity of the model at `modelPath`. Rejects with UserError on bad options or a model
 * with no layer to analyse, AbortError when `hooks.signal` aborts (after every worker has stopped).
 */
export async function analyzeSensitivity(modelPath: string, options: SensitivityOptions = {}, hooks: SensitivityHooks = {}): Promise<SensitivityReport> {
  const started = performance.now();
  const o = normalizeSensitivityOptions(options);
  if (hooks.signal?.aborted) throw new AbortError('sensitivity analysis cancelled');
  const loaded = loadModel(modelPath);
  const scan = findLayers(loaded.model);
  if (scan.layers.length === 0) throw nothingToAnalyse(modelPath, scan);
  const key = cacheKey(loaded, o, ACTIVATION_QUANT);
  const hit = readCache(o.cacheDir, key);
  if (hit) return { ...hit, recommendation: recommend(hit.layers, o.floor), cached: true, wallMs: performance.now() - started };
  const plan = planVariants(loaded.model, scan.layers, o);
  if (plan.variants.length === 0) throw new UserError(`nothing to measure in ${modelPath} with kinds ${o.kinds.join(', ')}${plan.warnings.length ? `: ${plan.warnings[0]}` : ''}`);
  const method: SensitivityMethod = o.proxyOnly ? 'proxy' : 'end-to-end';
  const workers = Math.min(o.workers, workItems(plan, method));
  const params = {
    path: modelPath,
    method,
    layerNames: scan.layers.map((l) => l.name),
    variants: plan.variants,
    shapes: o.shapes,
    dataDir: o.dataDir,
    seed: o.seed,
    samples: o.samples,
    threads: o.threads,
    activationQuant: ACTIVATION_QUANT,
  };
  const results = await runPool(resolveWorkerScript('ortWorker'), params, workers, hooks);
  const wallMs = performance.now() - started;
  const report = assemble(modelPath, o, method, scan, plan, results, { workers, key, wallMs });
  const warning = writeCache(o.cacheDir, key, report);
  return warning ? { ...report, warnings: [...report.warnings, warning] } : report;
}

function workItems(plan: VariantPlan, method: SensitivityMethod): number {
  if (method === 'end-to-end') return plan.variants.length;
  return Math.ceil(new Set(plan.variants.map((v) => v.layer)).size / PROXY_CHUNK);
}

interface RunInfo {
  workers: number;
  key: string;
  wallMs: number;
}

function assemble(modelPath: string, o: NormalizedSensitivityOptions, method: SensitivityMethod, scan: LayerScan, plan: VariantPlan, jobs: SensitivityJobResult[], run: RunInfo): SensitivityReport {
  const first = jobs[0];
  const layers = buildLayers(o, scan, plan, jobs);
  const rewriteCheck = jobs.find((j) => j.rewriteCheck)?.rewriteCheck ?? null;
  const warnings = [...plan.warnings, ...new Set(jobs.flatMap((j) => j.warnings))];
  if (!o.dataDir) warnings.push('inputs are generated (normal(0,1)): sensitivities on real inputs (--data) are more meaningful');
  return {
    path: modelPath,
    method,
    kinds: o.kinds,
    levels: o.levels,
    channelLevels: o.channelLevels,
    samples: first.samples,
    inputs: first.inputs,
    batched: first.batched,
    workers: run.workers,
    layers,
    skipped: scan.skipped.filter((s) => s.reason !== 'not a layer op'),
    recommendation: recommend(layers, o.floor),
    rewriteCheck,
    cached: false,
    cacheKey: run.key,
    wallMs: run.wallMs,
    computeMs: run.wallMs,
    warnings,
  };
}

function buildLayers(o: NormalizedSensitivityOptions, scan: LayerScan, plan: VariantPlan, jobs: SensitivityJobResult[]): LayerSensitivity[] {
  const metrics = new Map<number, SensitivityMetrics>();
  for (const j of jobs) for (const r of j.results) metrics.set(r.variant, { cosine: r.cosine, sqnrDb: r.sqnrDb, ...(r.top1Agreement !== undefined ? { top1Agreement: r.top1Agreement } : {}) });
  const quantized = new Set(jobs.flatMap((j) => j.activationQuantLayers));
  const level = (i: number, lvl: number): SensitivityLevel[] => {
    const m = metrics.get(i);
    return m ? [{ level: lvl, ...m }] : [];
  };
  return scan.layers.map((layer): LayerSensitivity => {
    const notes = [...(plan.notes.get(layer.index) ?? [])];
    const group = plan.groupOfLayer.get(layer.index);
    let int8: SensitivityMetrics | null = null;
    const prune: SensitivityLevel[] = [];
    const channels: SensitivityLevel[] = [];
    plan.variants.forEach((v, i) => {
      if (v.kind === 'channels' && v.group?.id === group) channels.push(...level(i, v.level));
      if (v.layer !== layer.index) return;
      if (v.kind === 'int8') int8 = metrics.get(i) ?? null;
      if (v.kind === 'prune') prune.push(...level(i, v.level));
    });
    if (o.kinds.includes('int8') && int8 && !quantized.has(layer.index)) notes.push('int8: weights only (its input activation cannot be captured: a subgraph or a constant input)');
    return { name: layer.name, opType: layer.opType, params: layer.params, int8, prune, channels, notes };
  });
}
