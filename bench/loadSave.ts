/**
 * Child process for one load+save measurement, so peak RSS is this job's alone.
 * Usage: tsx bench/loadSave.ts <model> <out>; prints {loadMs, saveMs, peakRssBytes, baselineRssBytes}.
 */
import { loadModel, saveModel } from '../src/onnx/io';

const [file, out] = process.argv.slice(2);
const baselineRssBytes = process.memoryUsage().rss;
let t = performance.now();
const loaded = loadModel(file);
const loadMs = performance.now() - t;
t = performance.now();
saveModel(loaded.model, out);
const saveMs = performance.now() - t;
process.stdout.write(JSON.stringify({ loadMs, saveMs, peakRssBytes: process.resourceUsage().maxRSS * 1024, baselineRssBytes }));
