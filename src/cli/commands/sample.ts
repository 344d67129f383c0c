/** `onnx-lean sample [dir]`: write the generated sample models (for trying the tool and for tests). */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { SAMPLES, writeSamples } from '../../samples';
import { printJson, printText } from '../output';

export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('write small generated sample models (MLP, CNN, attention, If, Constant weights, external data)')
    .argument('[dir]', 'output folder', 'samples')
    .option('--json', 'print one JSON document')
    .action((dir: string, flags: { json?: boolean }) => {
      fs.mkdirSync(dir, { recursive: true });
      const files = writeSamples(dir);
      if (flags.json) printJson({ dir, files });
      else printText(files.map((f) => `wrote ${f}`).join('\n') + `\n(${Object.keys(SAMPLES).length} samples)`);
    });
}
