/**
 * What the budget needs to know about a model file without running it: its content hash (sha256 of
 * the .onnx bytes followed by each external data file's bytes, in the order the model references
 * them), its size on disk and its inputs. Remembered per path while the files' size, modification time
 * and inode are unchanged, so an unchanged model is neither decoded nor hashed again.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../onnx/io';
import type { GraphProto } from '../onnx/types';
import { modelInputSpecs, type ModelInputSpec } from '../runtime/inputs';

export interface ModelFacts {
  file: string;
  /** Hex sha256 of the model's bytes and external data. */
  hash: string;
  /** Bytes on disk: the .onnx file plus its external data files (with their alignment padding). */
  sizeBytes: number;
  /** Absolute paths of the external data files. */
  externalFiles: string[];
  inputs: ModelInputSpec[];
}

interface Memo {
  stamp: string;
  facts: ModelFacts;
}

const memo = new Map<string, Memo>();
const MAX_MEMO = 256;

function statStamp(file: string): string {
  const s = fs.statSync(file);
  return `${s.size}:${s.mtimeMs}:${s.ino}`;
}

function stampOf(file: string, externalFiles: readonly string[]): string {
  return [file, ...externalFiles].map(statStamp).join('|');
}

async function hashFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Facts about the model at `file` (absolute); throws the loader's one-line errors for bad files. */
export async function modelFacts(file: string): Promise<ModelFacts> {
  const known = memo.get(file);
  if (known) {
    try {
      if (stampOf(file, known.facts.externalFiles) === known.stamp) return known.facts;
    } catch {
      // A file vanished: read afresh below, which reports it.
    }
  }
  const loaded = loadModel(file);
  const dir = path.dirname(path.resolve(file));
  const externalFiles = loaded.externalFiles.map((f) => path.resolve(dir, f));
  const stamp = stampOf(file, externalFiles);
  const facts: ModelFacts = {
    file,
    hash: await hashFiles([file, ...externalFiles]),
    sizeBytes: [file, ...externalFiles].reduce((sum, f) => sum + fs.statSync(f).size, 0),
    externalFiles,
    inputs: modelInputSpecs(loaded.model.graph as GraphProto),
  };
  memo.set(file, { stamp, facts });
  if (memo.size > MAX_MEMO) memo.delete(memo.keys().next().value as string);
  return facts;
}

/** Forgets what is known about a file (a model or one of its external data files) that changed. */
export function forgetModelFile(file: string): void {
  for (const [key, m] of memo) {
    if (key === file || m.facts.externalFiles.includes(file)) memo.delete(key);
  }
}

/** Whether `file` is a model or external data file this process knows facts about. */
export function isKnownModelFile(file: string): boolean {
  for (const [key, m] of memo) if (key === file || m.facts.externalFiles.includes(file)) return true;
  return false;
}
