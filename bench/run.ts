/**
 * `npm run bench`: speed and memory of ONNX Lean against baselines measured in the same run on the same
 * files. Prints ratios (ours / baseline); a ratio below 1 means ours is faster or smaller.
 *
 * Baselines: Python `onnx` with C++ protobuf (Debian's python3-onnx, if installed) and raw file I/O
 * (read the bytes, write them back: the floor any loader/saver pays).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeModel } from '../src/onnx/decode';
import { encodeModel } from '../src/onnx/encode';
import { saveModel } from '../src/onnx/io';
import { largeCnn, manyNodes } from './largeModel';
import { benchPassTime, benchPresets } from './presets';
import { benchChannels, benchSensitivity } from './pruning';

const REPEATS = 3;
const PYTHONS = ['/usr/bin/python3', 'python3'];

interface Timing {
  loadMs: number;
  saveMs: number;
  peakRssBytes?: number;
  baselineRssBytes?: number;
}

function best(runs: Timing[]): Timing {
  return runs.reduce((a, b) => (b.loadMs + b.saveMs < a.loadMs + a.saveMs ? b : a));
}

function repeat(fn: () => Timing): Timing {
  return best(Array.from({ length: REPEATS }, fn));
}

function oursInChild(model: string, out: string): Timing {
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'loadSave.ts'), model, out], { encoding: 'utf8' });
  fs.rmSync(out, { force: true });
  return JSON.parse(stdout) as Timing;
}

const PY_SCRIPT = `
import json, sys, time, resource, onnx
src, out = sys.argv[1], sys.argv[2]
t = time.perf_counter(); m = onnx.load(src); t1 = time.perf_counter(); onnx.save(m, out); t2 = time.perf_counter()
print(json.dumps({"loadMs": (t1 - t) * 1e3, "saveMs": (t2 - t1) * 1e3, "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
`;

function findPythonOnnx(): string | undefined {
  for (const py of PYTHONS) {
    try {
      execFileSync(py, ['-c', 'import onnx'], { stdio: 'ignore' });
      return py;
    } catch {
      // try the next interpreter
    }
  }
  return undefined;
}

function pythonInChild(python: string, model: string, out: string): Timing {
  const stdout = execFileSync(python, ['-c', PY_SCRIPT, model, out], { encoding: 'utf8' });
  fs.rmSync(out, { force: true });
  return JSON.parse(stdout) as Timing;
}

function rawIo(model: string, out: string): Timing {
  let t = performance.now();
  const buf = fs.readFileSync(model);
  const loadMs = performance.now() - t;
  t = performance.now();
  fs.writeFileSync(out, buf);
  const saveMs = performance.now() - t;
  fs.rmSync(out, { force: true });
  return { loadMs, saveMs };
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

function row(label: string, t: Timing, ref?: Timing): string {
  const total = t.loadMs + t.saveMs;
  const cells = [label.padEnd(28), fmt(t.loadMs).padStart(8), fmt(t.saveMs).padStart(8), fmt(total).padStart(8)];
  if (t.peakRssBytes) cells.push(mb(t.peakRssBytes).padStart(8));
  if (ref) cells.push(`  total ${ratio(total, ref.loadMs + ref.saveMs)} of ours`);
  return cells.join(' ');
}

function benchLargeModel(dir: string, python: string | undefined): void {
  const file = path.join(dir, 'large_cnn.onnx');
  saveModel(largeCnn(176), file);
  const size = fs.statSync(file).size;
  console.log(`\n== load + save of a generated fp32 CNN, ${mb(size)} (best of ${REPEATS}) ==`);
  console.log(`${'tool'.padEnd(28)} ${'load'.padStart(8)} ${'save'.padStart(8)} ${'total'.padStart(8)} ${'peakRSS'.padStart(8)}`);
  const ours = repeat(() => oursInChild(file, path.join(dir, 'ours.onnx')));
  console.log(row('onnx-lean', ours));
  const raw = repeat(() => rawIo(file, path.join(dir, 'raw.onnx')));
  console.log(row('raw read+write (floor)', raw, ours));
  let py: Timing | undefined;
  if (python) {
    py = repeat(() => pythonInChild(python, file, path.join(dir, 'py.onnx')));
    console.log(row('python onnx (C++ protobuf)', py, ours));
  } else console.log('python onnx: not installed (apt-get install python3-onnx to add this baseline)');
  const job = (ours.peakRssBytes ?? 0) - (ours.baselineRssBytes ?? 0);
  console.log(`\nonnx-lean peak RSS ${mb(ours.peakRssBytes ?? 0)} = ${ratio(ours.peakRssBytes ?? 0, size)} the model size (process baseline ${mb(ours.baselineRssBytes ?? 0)}; the job itself ${ratio(job, size)})`);
  if (py) console.log(`ratio onnx-lean / python onnx: load ${ratio(ours.loadMs, py.loadMs)}, save ${ratio(ours.saveMs, py.saveMs)}, total ${ratio(ours.loadMs + ours.saveMs, py.loadMs + py.saveMs)}`);
}

function benchManyNodes(dir: string, python: string | undefined): void {
  const m = manyNodes(50_000);
  const file = path.join(dir, 'many_nodes.onnx');
  saveModel(m, file);
  const buf = fs.readFileSync(file);
  const ours = repeat(() => {
    let t = performance.now();
    const decoded = decodeModel(buf);
    const loadMs = performance.now() - t;
    t = performance.now();
    encodeModel(decoded);
    return { loadMs, saveMs: performance.now() - t };
  });
  console.log(`\n== 50 000-node graph, ${mb(buf.length)}: decode + encode in memory (best of ${REPEATS}) ==`);
  console.log(row('onnx-lean', ours));
  if (python) {
    const py = repeat(() => pythonInChild(python, file, path.join(dir, 'py_nodes.onnx')));
    console.log(row('python onnx (load+save file)', py, ours));
  }
}

/** `npm run bench -- io presets` runs chosen sections; no argument runs all. */
const SECTIONS: Record<string, (dir: string, python: string | undefined) => void | Promise<void>> = {
  io: (dir, python) => {
    benchLargeModel(dir, python);
    benchManyNodes(dir, python);
  },
  passes: (dir) => benchPassTime(dir),
  presets: (dir) => benchPresets(dir),
  sensitivity: (dir) => benchSensitivity(dir),
  channels: (dir) => benchChannels(dir),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => a in SECTIONS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-bench-'));
  try {
    console.log(`ONNX Lean bench on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`);
    const python = findPythonOnnx();
    for (const name of wanted.length ? wanted : Object.keys(SECTIONS)) await SECTIONS[name](dir, python);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
