/**
 * The last few models the weight requests read, kept decoded with their layer index, so that moving
 * the selection in the Layer Report (one histogram request per move) does not re-read the file. An
 * entry is reused only while the file's size and modification time are unchanged.
 */
import * as fs from 'node:fs';
import { indexLayers } from '../core/layerWeights';
import { loadModel, type LoadedModel } from '../onnx/io';

export interface CachedModel {
  loaded: LoadedModel;
  layers: ReturnType<typeof indexLayers>;
}

interface Entry extends CachedModel {
  stamp: string;
}

const KEEP = 2;

export class ModelCache {
  private readonly entries = new Map<string, Entry>();

  /** The decoded model at `file`, from the cache when the file has not changed since. */
  get(file: string): CachedModel {
    const stamp = fileStamp(file);
    const hit = this.entries.get(file);
    if (hit && hit.stamp === stamp) {
      this.entries.delete(file);
      this.entries.set(file, hit); // most recently used last
      return hit;
    }
    const loaded = loadModel(file);
    const entry: Entry = { loaded, layers: indexLayers(loaded.model), stamp };
    this.entries.set(file, entry);
    while (this.entries.size > KEEP) this.entries.delete(this.entries.keys().next().value as string);
    return entry;
  }
}

function fileStamp(file: string): string {
  const s = fs.statSync(file);
  return `${s.size}:${s.mtimeMs}`;
}
