/**
 * The 'optimizedGraph' job: lets onnxruntime optimize a model at a given level and write the graph it
 * actually runs (sessionOptions.optimizedModelFilePath). Used to verify what ORT fused after a pass
 * (level 'all'), and as the `ort-optimize` pass (levels 'basic'/'extended', portable across CPUs).
 */
import type { JobContext } from './jobContext';
import * as ortSession from './ortSession';
import type { OptimizedGraphJobParams } from './protocol';

export async function optimizedGraphJob(params: OptimizedGraphJobParams, ctx: JobContext): Promise<{ sessionCreateMs: number }> {
  ctx.progress.report('session', 0, 1);
  const ort = ortSession.loadOrt(ctx.guard);
  const settings = { executionProvider: 'cpu', graphOptimizationLevel: params.level, threads: 1 };
  const started = performance.now();
  const session = await ortSession.createSession(ort, ctx.guard, params.path, ortSession.sessionOptions(settings, { optimizedModelFilePath: params.outPath }), params.path);
  const sessionCreateMs = performance.now() - started;
  await ortSession.releaseSession(ctx.guard, session);
  return { sessionCreateMs };
}
