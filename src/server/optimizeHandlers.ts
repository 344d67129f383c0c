/** onnxLean/optimize and onnxLean/compare: jobs that execute models, through the shared job queue. */
import type { CancellationToken } from 'vscode-languageserver/node';
import type { CompareReport, OptimizeReport } from '../core/reports';
import { calibrateForPipeline } from '../pipeline/calibration';
import { optimizeModel } from '../pipeline/optimize';
import { compareModels } from '../runtime/compare';
import type { CompareParams, OptimizeParams } from '../shared/protocol';
import { runExecutingJob, type ServerContext } from './handlers';
import { resolveModelPath } from './modelPath';

export function handleOptimize(ctx: ServerContext, params: OptimizeParams, token: CancellationToken): Promise<OptimizeReport> {
  return runExecutingJob(ctx, { path: params.path, workDoneToken: params.workDoneToken, verb: 'Optimizing', what: 'optimization' }, token, (file, signal, progress) =>
    optimizeModel(
      {
        input: file,
        output: params.output,
        force: params.force,
        preset: params.preset,
        passes: params.passes?.map((p) => ({ name: p.name, options: p.options ?? {} })),
        dataDir: params.dataDir,
        exclude: params.exclude,
        shapes: params.shapes,
        threads: params.threads,
      },
      { signal, onProgress: (p) => progress.step(p), calibrate: calibrateForPipeline },
    ),
  );
}

export function handleCompare(ctx: ServerContext, params: CompareParams, token: CancellationToken): Promise<CompareReport> {
  return runExecutingJob(ctx, { path: params.candidate, workDoneToken: params.workDoneToken, verb: 'Comparing', what: 'comparison' }, token, (candidate, signal, progress) =>
    compareModels(resolveModelPath({ path: params.reference }), candidate, params.options ?? {}, { signal, onProgress: (p) => progress.step(p) }),
  );
}
