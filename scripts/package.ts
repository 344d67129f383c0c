// Builds one platform-specific VSIX per platform onnxruntime-node ships binaries for, each carrying only
// its own onnxruntime binaries, then checks every VSIX and (on this platform) installs it.
//
//   npm run package                                  # all targets into dist-vsix/
//   npm run package -- --target linux-x64            # some targets (comma-separated)
//   npm run package -- --skip-build                  # package dist/ as it is (must be a production build)
//   npm run package -- --no-install-check            # skip the code-server install + runtime smoke test
//   npm run package -- --keep-stage                  # keep the staging folder (printed) for inspection
//   (npm run package is node --import tsx scripts/package.ts)
//
// How:
// 1. Right after the production build, the files each VSIX needs are copied into a private staging
//    folder (in the OS temp folder): a `npm run build` someone starts meanwhile in the repository cannot
//    change what gets packaged. vsce runs there. It asks `npm list` for the production dependencies, so
//    the staging folder also gets the package.json (only) of every production dependency; they are not
//    packaged (step 2). The packaged package.json is the repository's, byte for byte.
// 2. vsce packages what its ignore file lets through, and a `!` pattern re-includes whatever it matches
//    whatever the order, so a static .vscodeignore cannot say "onnxruntime-node, but only linux/x64".
//    The script computes each target's exact file list and hands vsce a generated ignore file (`**`,
//    then one `!path` per file: nothing else can get in) through --ignoreFile. The repository's
//    .vscodeignore (a plain allow-list for a bare `vsce package`) is not read and never modified.
// 3. Each VSIX's zip central directory is read back and compared with that list, byte for byte.
//
// Exit code 0 only when every target packaged and passed every check.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { isBuiltin } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';

interface Manifest {
  name: string;
  version: string;
  publisher: string;
  main?: string;
  icon?: string;
}

interface Options {
  targets: string[] | null;
  build: boolean;
  installCheck: boolean;
  keepStage: boolean;
}

interface ZipEntry {
  name: string;
  size: number;
  compressed: number;
  method: number;
  local: number;
}

interface Checked {
  problems: string[];
  size: number;
  files: number;
  unpacked: number;
  natives: number;
}

interface Row extends Checked {
  target: string;
  out: string;
  seconds: number;
}

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'dist-vsix');
const ORT = 'node_modules/onnxruntime-node';
const ORT_COMMON = 'node_modules/onnxruntime-common';
const ORT_BIN = `${ORT}/bin/napi-v6`;
/** The size limit of the VSIX built for this project's own machines (decimal megabytes). */
const SIZE_LIMITS: Record<string, number> = { 'linux-x64': 25_000_000 };
/** Targets vsce accepts (`vsce package --help`) that onnxruntime-node's folders can map to. */
const VSCE_TARGETS = new Set(['win32-x64', 'win32-arm64', 'linux-x64', 'linux-arm64', 'linux-armhf', 'darwin-x64', 'darwin-arm64']);
/** Modules the bundles may leave to run time: the host's `vscode` and the native runtime we ship. */
const SHIPPED_MODULES = new Set(['vscode', 'onnxruntime-node']);
const NATIVE = /\.(node|so(\.\d+)*|dll|dylib)$/i;
const CODE_SERVER_DIR = process.env.ONNX_LEAN_CODE_SERVER_DIR ?? path.join(os.homedir(), '.cache/onnx-lean/code-server-4.100.3');

// ---- command line ------------------------------------------------------------------------------------
function parseArgs(argv: string[]): Options {
  const opts: Options = { targets: null, build: true, installCheck: true, keepStage: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--target' || a === '-t') opts.targets = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--target=')) opts.targets = a.slice(9).split(',').filter(Boolean);
    else if (a === '--skip-build') opts.build = false;
    else if (a === '--no-install-check') opts.installCheck = false;
    else if (a === '--keep-stage') opts.keepStage = true;
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(0, 10).join('\n'));
      process.exit(0);
    } else fail(`unknown option ${a}`, 2);
  }
  return opts;
}

function fail(message: string, code = 1): never {
  console.error(`package: ${message}`);
  process.exit(code);
}

// ---- files -------------------------------------------------------------------------------------------
const rel = (abs: string): string => path.relative(ROOT, abs).split(path.sep).join('/');

/** Every file under `dir` (relative to ROOT, posix separators), sorted. */
function walk(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
    const p = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...walk(p));
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

const isMap = (f: string): boolean => f.endsWith('.map');
const isTypes = (f: string): boolean => /\.d\.[cm]?ts$/.test(f);

function sha256(abs: string): string {
  return createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
}

/** onnxruntime-node's binary folders: `bin/napi-v6/<platform>/<arch>` -> `<platform>-<arch>`. */
function discoverTargets(): string[] {
  const targets: string[] = [];
  for (const platform of fs.readdirSync(path.join(ROOT, ORT_BIN)).sort()) {
    for (const arch of fs.readdirSync(path.join(ROOT, ORT_BIN, platform)).sort()) {
      const target = `${platform}-${arch}`;
      if (!fs.existsSync(path.join(ROOT, ORT_BIN, platform, arch, 'onnxruntime_binding.node'))) continue;
      if (!VSCE_TARGETS.has(target)) {
        console.warn(`package: onnxruntime-node has ${platform}/${arch}, which is no vsce target: skipped`);
        continue;
      }
      targets.push(target);
    }
  }
  return targets;
}

/**
 * The target's onnxruntime binaries. npm tarballs cannot hold symlinks, so the macOS folder carries
 * libonnxruntime.1.dylib twice (also as libonnxruntime.1.30.0.dylib: same bytes, 45 MB). Of a group of
 * byte-identical files, those whose name some other file of the folder mentions are kept (a load command
 * or a dlopen string may ask for them: the binding asks for @rpath/libonnxruntime.1.dylib); the copies
 * nobody names are left out. A group nobody names keeps its first file.
 */
function nativeFiles(target: string): { files: string[]; dropped: string[] } {
  const [platform, arch] = target.split('-');
  const all = walk(`${ORT_BIN}/${platform}/${arch}`);
  const groups = new Map<string, string[]>();
  for (const f of all) {
    const h = sha256(path.join(ROOT, f));
    groups.set(h, [...(groups.get(h) ?? []), f]);
  }
  const dropped: string[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const outside = all.filter((f) => !group.includes(f)).map((f) => fs.readFileSync(path.join(ROOT, f)));
    const named = group.filter((f) => outside.some((buf) => buf.includes(Buffer.from(path.basename(f), 'latin1'))));
    const keep = named.length ? named : [group[0]];
    dropped.push(...group.filter((f) => !keep.includes(f)));
  }
  return { files: all.filter((f) => !dropped.includes(f)), dropped };
}

/** What every target carries (besides its binaries), as paths relative to the repository. */
function commonFiles(freshSince: number | null): string[] {
  const dist = walk('dist').filter((f) => !isMap(f) && !isTypes(f));
  const stale = freshSince ? dist.filter((f) => fs.statSync(path.join(ROOT, f)).mtimeMs < freshSince) : [];
  if (stale.length) console.warn(`package: left out of the VSIX, not written by this build: ${stale.join(', ')}`);
  return [
    'package.json',
    'README.md',
    'CHANGELOG.md',
    'LICENSE',
    ...dist.filter((f) => !stale.includes(f)),
    ...walk('media'),
    ...walk('schemas'),
    // README links docs/*.md; the installed extension's details page resolves them locally.
    ...walk('docs').filter((f) => f.endsWith('.md')),
    // onnxruntime-node's run-time files (its install script and its deps adm-zip/global-agent stay out).
    `${ORT}/package.json`,
    `${ORT}/README.md`,
    ...walk(`${ORT}/dist`).filter((f) => f.endsWith('.js')),
    // onnxruntime-common, required by onnxruntime-node: CommonJS build only (`exports.require`).
    `${ORT_COMMON}/package.json`,
    `${ORT_COMMON}/README.md`,
    ...walk(`${ORT_COMMON}/dist/cjs`).filter((f) => !isMap(f) && !isTypes(f)),
  ].filter((f) => fs.existsSync(path.join(ROOT, f)));
}

// ---- the staging folder ------------------------------------------------------------------------------
/** Copies repository files (relative paths) into the staging folder, keeping their paths. */
function copyInto(stage: string, files: string[]): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(stage, f));
  }
}

/**
 * The package.json of every production dependency, so that `npm list` (run by vsce in the staging
 * folder) sees a complete tree. Only the runtime files of onnxruntime-node/-common are ever packaged.
 */
function productionManifests(): string[] {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--all', '--loglevel=error'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`npm ls --omit=dev failed in the repository (run npm ci):\n${(r.stderr ?? '').slice(-2000)}`);
  return r.stdout
    .split(/\r?\n/)
    .filter((dir) => dir && path.resolve(dir) !== ROOT)
    .map((dir) => `${rel(dir)}/package.json`)
    .filter((f) => f.startsWith('node_modules/') && fs.existsSync(path.join(ROOT, f)));
}

// ---- build and bundle checks -------------------------------------------------------------------------
function build(): number {
  const started = Date.now() - 1000; // file systems with coarse mtimes
  console.log('package: node esbuild.mjs --production');
  const r = spawnSync(process.execPath, ['esbuild.mjs', '--production'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail('the production build failed');
  return started;
}

/** The bundles must be production builds and must not need a module the VSIX does not carry. */
function checkBundles(stage: string, files: string[], manifest: Manifest): string[] {
  const errors: string[] = [];
  const main = `${path.posix.normalize(manifest.main ?? 'dist/extension.js').replace(/\.js$/, '')}.js`;
  const required = [main, 'dist/server.js', 'dist/ortWorker.js', 'dist/cli.js', 'dist/webview/main.js'];
  for (const f of required) if (!files.includes(f)) errors.push(`${f} is missing (not built?)`);
  for (const f of files.filter((x) => x.startsWith('dist/') && x.endsWith('.js'))) {
    const code = fs.readFileSync(path.join(stage, f), 'utf8');
    if (/[#@] sourceMappingURL=/.test(code.slice(-2000))) {
      errors.push(`${f} references a source map: not a production build${SOURCE_MAP_HINT}`);
    }
    for (const m of code.matchAll(/\brequire\((["'`])([^"'`]+)\1\)/g)) {
      const name = m[2];
      if (isBuiltin(name) || name.startsWith('.') || SHIPPED_MODULES.has(name)) continue;
      errors.push(`${f} requires '${name}' at run time, which the VSIX does not carry (bundle it or mark it shipped)`);
    }
  }
  return [...new Set(errors)];
}

const SOURCE_MAP_HINT = ' (with --skip-build: build with --production first; else another build rewrote dist/ meanwhile)';

// ---- vsce --------------------------------------------------------------------------------------------
/** vsce matches ignore patterns with minimatch: keep to names that need no escaping. */
const SAFE_NAME = /^[A-Za-z0-9_./-]+$/;

function writeIgnoreFile(dir: string, target: string, files: string[]): string {
  const bad = files.filter((f) => !SAFE_NAME.test(f));
  if (bad.length) fail(`file names with glob characters cannot go into the ignore file: ${bad.join(', ')}`);
  const file = path.join(dir, `vscodeignore-${target}`);
  const lines = [`# Generated by scripts/package.ts for ${target}: everything is ignored except the files listed.`, '**', ...files.map((f) => `!${f}`)];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function vsce(stage: string, target: string, ignoreFile: string, out: string): { seconds: number; warnings: string[] } {
  const bin = path.join(ROOT, 'node_modules/@vscode/vsce/vsce');
  if (!fs.existsSync(bin)) fail('node_modules/@vscode/vsce is missing: run npm ci');
  const args = [
    bin,
    'package',
    '--target', target,
    '--ignoreFile', ignoreFile,
    '--out', out,
    '--no-yarn',
    // No public repository yet: README links stay relative (they resolve inside the installed extension).
    '--allow-missing-repository',
    '--no-rewrite-relative-links',
  ];
  const started = Date.now();
  // stdin closed: a vsce prompt (e.g. a missing LICENSE) fails at once instead of waiting.
  const r = spawnSync(process.execPath, args, { cwd: stage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 || !fs.existsSync(out)) fail(`vsce package --target ${target} failed (exit ${String(r.status)}):\n${output.slice(-4000)}`);
  const warnings = output.split('\n').filter((l) => /WARNING/i.test(l));
  return { seconds: (Date.now() - started) / 1000, warnings };
}

// ---- reading a VSIX (a zip) --------------------------------------------------------------------------
/** The central directory: name, sizes and where each entry's data starts. No zip64 (vsce writes < 4 GB). */
function readZip(file: string): { size: number; entries: ZipEntry[]; read: (entry: ZipEntry) => Buffer } {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: no end of central directory: not a zip`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) throw new Error(`${file}: zip64 is not supported here`);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: corrupt central directory`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    entries.push({ name, size, compressed, method, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  const read = (entry: ZipEntry): Buffer => {
    const start = entry.local + 30 + buf.readUInt16LE(entry.local + 26) + buf.readUInt16LE(entry.local + 28);
    const data = buf.subarray(start, start + entry.compressed);
    return entry.method === 0 ? data : inflateRawSync(data);
  };
  return { size: buf.length, entries, read };
}

/** Checks a VSIX against the files it was meant to carry; returns the problems found. */
function verifyVsix(vsixPath: string, target: string, files: string[], hashes: Map<string, string>): Checked {
  const problems: string[] = [];
  const zip = readZip(vsixPath);
  const names = new Map(zip.entries.map((e) => [e.name, e]));
  const [platform, arch] = target.split('-');
  const ownBin = `extension/${ORT_BIN}/${platform}/${arch}/`;

  // vsce renames these three (readme.md, changelog.md, LICENSE.txt), so they are checked by name below.
  const renamed = new Set(['README.md', 'CHANGELOG.md', 'LICENSE']);
  for (const f of files) {
    if (renamed.has(f)) continue;
    const entry = names.get(`extension/${f}`);
    if (!entry) problems.push(`missing: ${f}`);
    else if (createHash('sha256').update(zip.read(entry)).digest('hex') !== hashes.get(f)) {
      problems.push(`content differs from the staged file: ${f}`);
    }
  }
  for (const wanted of [/^extension\/readme\.md$/i, /^extension\/changelog\.md$/i, /^extension\/license(\.txt)?$/i]) {
    if (!zip.entries.some((e) => wanted.test(e.name))) problems.push(`missing: ${wanted.source}`);
  }
  const expected = new Set(files.map((f) => `extension/${f}`));
  const vsceOwn = /^(extension\.vsixmanifest|\[Content_Types\]\.xml|extension\/(readme\.md|changelog\.md|LICENSE(\.txt)?))$/i;
  for (const e of zip.entries) {
    if (!expected.has(e.name) && !vsceOwn.test(e.name)) problems.push(`unexpected file: ${e.name}`);
    if (e.name.endsWith('.map')) problems.push(`source map: ${e.name}`);
    if (NATIVE.test(e.name) && !e.name.startsWith(ownBin)) problems.push(`another platform's native file: ${e.name}`);
    if (e.name.startsWith(`extension/${ORT_BIN}/`) && !e.name.startsWith(ownBin)) problems.push(`another platform's binary folder: ${e.name}`);
    const pkg = /^extension\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(e.name)?.[1];
    if (pkg && pkg !== 'onnxruntime-node' && pkg !== 'onnxruntime-common') problems.push(`unexpected package: ${e.name}`);
  }
  if (!names.has(`${ownBin}onnxruntime_binding.node`)) problems.push(`no ${ownBin}onnxruntime_binding.node`);
  const manifestEntry = names.get('extension.vsixmanifest');
  const vsixManifest = manifestEntry ? zip.read(manifestEntry).toString('utf8') : '';
  if (!vsixManifest.includes(`TargetPlatform="${target}"`)) problems.push(`extension.vsixmanifest does not say TargetPlatform="${target}"`);
  const packaged = names.get('extension/package.json');
  if (packaged && (JSON.parse(zip.read(packaged).toString('utf8')) as Manifest).icon !== 'media/icon.png') problems.push('package.json in the VSIX has no icon');
  const limit = SIZE_LIMITS[target];
  if (limit && zip.size > limit) problems.push(`${(zip.size / 1e6).toFixed(2)} MB is over the ${limit / 1e6} MB limit`);

  const unpacked = zip.entries.reduce((s, e) => s + e.size, 0);
  const natives = zip.entries.filter((e) => NATIVE.test(e.name)).length;
  return { problems, size: zip.size, files: zip.entries.length, unpacked, natives };
}

// ---- install + smoke test on this machine ------------------------------------------------------------
/**
 * Installs the VSIX with code-server's CLI (as `--install-extension` does for users), then runs the
 * installed copy's CLI bundle: it must load the packaged onnxruntime-node and profile a sample model.
 */
function installCheck(vsixPath: string, manifest: Manifest): { status: 'ok' | 'skipped' | 'FAILED'; detail: string } {
  const entry = path.join(CODE_SERVER_DIR, 'node_modules/code-server/out/node/entry.js');
  if (!fs.existsSync(path.join(CODE_SERVER_DIR, '.onnx-lean-installed')) || !fs.existsSync(entry)) {
    return { status: 'skipped', detail: `code-server is not installed in ${CODE_SERVER_DIR} (npm run e2e:install)` };
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-vsix-'));
  try {
    const extensionsDir = path.join(tmp, 'extensions');
    const cliArgs = ['--extensions-dir', extensionsDir, '--user-data-dir', path.join(tmp, 'user-data'), '--config', path.join(tmp, 'config.yaml')];
    const install = spawnSync(process.execPath, [entry, ...cliArgs, '--force', '--install-extension', vsixPath], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    const output = `${install.stdout ?? ''}${install.stderr ?? ''}`.trim();
    if (install.status !== 0 || !/successfully installed/i.test(output)) return { status: 'FAILED', detail: `code-server --install-extension: ${output.slice(-1500)}` };
    const prefix = `${manifest.publisher}.${manifest.name}-${manifest.version}`.toLowerCase();
    const folder = fs.readdirSync(extensionsDir).find((d) => d.toLowerCase().startsWith(prefix));
    if (!folder) return { status: 'FAILED', detail: `installed, but no ${prefix}* folder in ${extensionsDir}` };
    const installed = path.join(extensionsDir, folder);
    const cli = path.join(installed, 'dist/cli.js');
    const run = (args: string[]): string => execFileSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    run(['sample', path.join(tmp, 'samples'), '--json']);
    const report = JSON.parse(run(['profile', path.join(tmp, 'samples/cnn.onnx'), '--shape', 'x=1,3,32,32', '--runs', '5', '--warmup', '1', '--no-per-node', '--json'])) as {
      latencyMs?: { p50?: number };
    };
    const resolved = execFileSync(process.execPath, ['-p', `require.resolve('onnxruntime-node', { paths: [${JSON.stringify(path.join(installed, 'dist'))}] })`], { encoding: 'utf8' }).trim();
    if (!resolved.startsWith(installed)) return { status: 'FAILED', detail: `onnxruntime-node resolved outside the installed extension: ${resolved}` };
    if (!((report.latencyMs?.p50 ?? 0) > 0)) return { status: 'FAILED', detail: `the installed CLI's profile gave no latency: ${JSON.stringify(report).slice(0, 500)}` };
    return {
      status: 'ok',
      detail: `installed as ${folder}; its own CLI + onnxruntime-node profiled cnn.onnx: p50 ${(report.latencyMs?.p50 ?? 0).toFixed(3)} ms`,
    };
  } catch (err) {
    const e = err as { message: string; stderr?: string };
    return { status: 'FAILED', detail: `${e.message}${e.stderr ? `\n${e.stderr.slice(-1500)}` : ''}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- main --------------------------------------------------------------------------------------------
function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function printTable(rows: Row[]): void {
  const header = ['target', 'VSIX size', 'bytes', 'files', 'unpacked', 'native', 'vsce', 'check'];
  const body = rows.map((r) => [r.target, mb(r.size), String(r.size), String(r.files), mb(r.unpacked), String(r.natives), `${r.seconds.toFixed(1)} s`, r.problems.length ? 'FAILED' : 'ok']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 || i === widths.length - 1 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const available = discoverTargets();
  const targets = opts.targets ?? available;
  const unknown = targets.filter((t) => !available.includes(t));
  if (unknown.length) fail(`no onnxruntime-node binaries for ${unknown.join(', ')} (available: ${available.join(', ')})`, 2);
  if (!targets.length) fail('no targets');
  for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', manifest.icon ?? 'media/icon.png']) {
    if (!fs.existsSync(path.join(ROOT, f))) fail(`${f} is missing`);
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-package-'));
  const stage = path.join(tmp, 'extension');
  process.on('exit', () => {
    if (opts.keepStage) console.log(`package: staging folder kept: ${stage}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  });
  // Build, then copy at once what the build wrote: from here on nothing is read from the repository's
  // dist/. If a development build (npm run build, the e2e tests) rewrote dist/ in between, build again.
  let common: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const freshSince = opts.build ? build() : null;
    common = commonFiles(freshSince);
    fs.rmSync(stage, { recursive: true, force: true });
    copyInto(stage, common);
    const errors = checkBundles(stage, common, manifest);
    if (!errors.length) break;
    const overwritten = opts.build && errors.every((e) => e.endsWith(SOURCE_MAP_HINT));
    if (!overwritten || attempt === 3) fail(`bundle checks failed:\n  ${errors.join('\n  ')}`);
    console.warn(`package: another build rewrote dist/ right after ours (attempt ${attempt} of 3): building again`);
  }
  copyInto(stage, productionManifests().filter((f) => !common.includes(f)));
  // The content of every staged file, so each VSIX can be compared with it byte for byte.
  const hashes = new Map(common.map((f) => [f, sha256(path.join(stage, f))]));
  fs.mkdirSync(OUT_DIR, { recursive: true });

  const rows: Row[] = [];
  for (const target of targets) {
    const native = nativeFiles(target);
    if (native.dropped.length) console.log(`package: ${target}: left out byte-identical copies nothing loads by name: ${native.dropped.map((f) => path.basename(f)).join(', ')}`);
    copyInto(stage, native.files);
    for (const f of native.files) hashes.set(f, sha256(path.join(stage, f)));
    const files = [...common, ...native.files];
    const out = path.join(OUT_DIR, `${manifest.name}-${manifest.version}-${target}.vsix`);
    const ignoreFile = writeIgnoreFile(tmp, target, files);
    console.log(`package: vsce package --target ${target} (${files.length} files)`);
    const { seconds, warnings } = vsce(stage, target, ignoreFile, out);
    for (const w of warnings) console.warn(`  vsce: ${w.trim()}`);
    const result = verifyVsix(out, target, files, hashes);
    rows.push({ target, out, seconds, ...result });
    // The next target starts without this one's binaries (its ignore file would keep them out anyway).
    fs.rmSync(path.join(stage, ORT_BIN), { recursive: true, force: true });
  }

  console.log('');
  printTable(rows);
  console.log('');
  for (const r of rows) {
    console.log(`${rel(r.out)}${SIZE_LIMITS[r.target] ? `  (limit ${SIZE_LIMITS[r.target] / 1e6} MB; actual ${mb(r.size)} = ${r.size} bytes)` : ''}`);
    for (const p of r.problems) console.error(`  FAILED ${r.target}: ${p}`);
  }

  let ok = rows.every((r) => r.problems.length === 0);
  const host = `${process.platform}-${process.arch}`;
  const hostRow = rows.find((r) => r.target === host);
  if (opts.installCheck && hostRow && ok) {
    console.log(`\npackage: installing ${rel(hostRow.out)} with code-server --install-extension, then running its CLI ...`);
    const check = installCheck(hostRow.out, manifest);
    console.log(`install check (${host}): ${check.status}: ${check.detail}`);
    if (check.status === 'FAILED') ok = false;
  }
  if (!ok) fail('packaging checks failed');
  console.log(`\npackage: ${rows.length} VSIX in ${rel(OUT_DIR)}/`);
}

// Runs when started as a script; importing it (e.g. to test verifyVsix) runs nothing.
if (require.main === module) main();

export { nativeFiles, readZip, verifyVsix };
