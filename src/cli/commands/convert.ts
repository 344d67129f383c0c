/** `onnx-lean convert <model> -o <out>`: re-save a model, moving weights into or out of external data. */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { assertWritableTarget } from '../../core/paths';
import { loadModel, saveModel } from '../../onnx';
import { formatBytes, formatMs } from '../format';
import { intParser } from '../options';
import { printJson, printText } from '../output';

interface ConvertFlags {
  output: string;
  externalData?: boolean;
  threshold: number;
  location?: string;
  force?: boolean;
  json?: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('re-save a model (weights inline, or moved to a 4096-aligned external data file)')
    .argument('<model>', 'path to a .onnx file')
    .requiredOption('-o, --output <file>', 'where to write the new model')
    .option('--external-data', 'store tensors of at least --threshold bytes in an external data file')
    .option('--threshold <bytes>', 'smallest tensor moved to external data', intParser(0), 1024)
    .option('--location <name>', 'external data file name, relative to the output (default <output>.data)')
    .option('--force', 'replace the output file if it exists')
    .option('--json', 'print one JSON document')
    .action((model: string, flags: ConvertFlags) => {
      assertWritableTarget(model, flags.output, flags.force === true);
      let t = performance.now();
      const loaded = loadModel(model);
      const loadMs = performance.now() - t;
      t = performance.now();
      const saved = saveModel(loaded.model, flags.output, flags.externalData ? { externalData: { threshold: flags.threshold, location: flags.location } } : {});
      const saveMs = performance.now() - t;
      const result = {
        input: model,
        output: saved.path,
        sizeBytes: { before: loaded.fileBytes + loaded.externalBytes, after: saved.sizeBytes + saved.dataBytes },
        timingsMs: { load: round(loadMs), save: round(saveMs) },
        externalData: saved.dataPath ? { path: saved.dataPath, bytes: fs.statSync(saved.dataPath).size, tensors: saved.externalTensors } : null,
      };
      if (flags.json) printJson(result);
      else printText(renderConvert(result));
    });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function renderConvert(r: { input: string; output: string; sizeBytes: { before: number; after: number }; timingsMs: { load: number; save: number }; externalData: { path: string; bytes: number; tensors: number } | null }): string {
  const lines = [
    `${r.input} -> ${r.output}`,
    `  size   ${formatBytes(r.sizeBytes.before)} -> ${formatBytes(r.sizeBytes.after)}`,
    `  time   load ${formatMs(r.timingsMs.load)} ms, save ${formatMs(r.timingsMs.save)} ms`,
  ];
  if (r.externalData) lines.push(`  external data ${r.externalData.path}: ${r.externalData.tensors} tensors, ${formatBytes(r.externalData.bytes)}`);
  return lines.join('\n');
}
