/**
 * Synthetic photos of text, normalized as PaddleOCR does ((v - mean) / std per channel): a light
 * background with dark stroke groups. OCR models give meaningful outputs on these (a detector's
 * output on random noise is ~1e-5 everywhere, "no text", where fidelity numbers mean little).
 */
import * as path from 'node:path';
import { Rng } from '../core/random';
import { writeNpzFile } from '../runtime/npz';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export function textImage(height: number, width: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const bars = Array.from({ length: 6 }, () => ({ y: rng.int(0, height - 8), x: rng.int(0, width - 16), h: rng.int(3, 7), w: rng.int(8, 30) }));
  const inStroke = (y: number, x: number) => bars.some((s) => y >= s.y && y < s.y + s.h && x >= s.x && x < s.x + s.w && (x - s.x) % 4 < 3);
  const image = new Float32Array(3 * height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = (inStroke(y, x) ? 0.1 : 0.9) + 0.05 * rng.normal();
      for (let c = 0; c < 3; c++) image[(c * height + y) * width + x] = (v - MEAN[c]) / STD[c];
    }
  }
  return image;
}

/** Writes `count` text images of shape [1, 3, height, width] as .npz samples for input `name`. */
export function writeTextImageSamples(dir: string, name: string, height: number, width: number, count: number, seedBase: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `sample_${String(i).padStart(3, '0')}.npz`);
    writeNpzFile(file, new Map([[name, { dtype: 'float32', shape: [1, 3, height, width], data: textImage(height, width, seedBase + i) }]]));
    return file;
  });
}
