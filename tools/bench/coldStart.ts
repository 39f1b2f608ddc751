import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import * as z from 'zod';
import { median } from './stats';

/**
 * Runs in a fresh `node`: provides `@azure/functions-core` the way the Functions worker does (a require hook for that
 * exact name) with a stand-in that records registerFunction calls, requires the app's entry point, and prints how
 * long that took, since process start and since the require, plus what was loaded. Given a second file (the queue SDK's
 * bundle), it then requires that too and times it apart: what the app's first queue call adds.
 */
export const LOADER = `'use strict';
const Module = require('node:module');
const { statSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const entry = process.argv[2];
const later = process.argv[3];
const registered = [];
class Disposable { static from() { return new Disposable(); } dispose() {} }
const api = {
  version: '3.10.1',
  hostVersion: '4.1000.0-bench',
  registerFunction(metadata) { registered.push(metadata.name); return new Disposable(); },
  registerHook() { return new Disposable(); },
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  log() {},
  Disposable,
};
const load = Module._load;
const resolve = Module._resolveFilename;
Module._load = function (request, parent, isMain) {
  return request === '@azure/functions-core' ? api : load.call(this, request, parent, isMain);
};
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? request : resolve.call(this, request, ...rest);
};
const cpuBefore = process.cpuUsage();
const before = performance.now();
require(entry);
// Telemetry on (COLD_START_TELEMETRY=1): the app's appStart hook would now load dist/telemetry.js and build the
// providers before the first invocation; this harness runs no hooks, so it does that step itself, timed with the rest.
if (process.env.COLD_START_TELEMETRY === '1') require(require('node:path').join(require('node:path').dirname(entry), 'telemetry.js')).createTelemetry(process.env);
const after = performance.now();
const cpu = process.cpuUsage(cpuBefore);
const files = Object.keys(require.cache);
let bytes = 0;
for (const file of files) { try { bytes += statSync(file).size; } catch {} }
const androidManagementLoaded = files.some((file) => file.endsWith('androidManagement.js'));
const storageQueueLoaded = files.some((file) => file.endsWith('storageQueue.js'));
const telemetryLoaded = files.some((file) => file.endsWith('telemetry.js'));
let laterRequireMs;
if (later) {
  const start = performance.now();
  require(later);
  laterRequireMs = performance.now() - start;
}
process.stdout.write(JSON.stringify({ sinceProcessStartMs: after, requireMs: after - before, requireCpuMs: (cpu.user + cpu.system) / 1000, registered, filesLoaded: files.length, bytesLoaded: bytes, androidManagementLoaded, storageQueueLoaded, telemetryLoaded, laterRequireMs }));
`;

const LoadSampleSchema = z.object({
  sinceProcessStartMs: z.number(),
  requireMs: z.number(),
  /** CPU time (user + system) of the require: less sensitive than wall time to other processes on the machine. */
  requireCpuMs: z.number(),
  registered: z.array(z.string()),
  filesLoaded: z.number(),
  bytesLoaded: z.number(),
  /** Whether dist/androidManagement.js (Google's libraries) was loaded: it must not be, until a device call. */
  androidManagementLoaded: z.boolean(),
  /** Whether dist/storageQueue.js (the queue SDK) was loaded: it must not be, until the first queue call. */
  storageQueueLoaded: z.boolean(),
  /** The require time of the second file given, after the entry (the queue SDK's bundle). */
  laterRequireMs: z.number().optional(),
  /** Whether dist/telemetry.js (the OpenTelemetry SDK) was loaded: only with an exporter configured. */
  telemetryLoaded: z.boolean(),
});
export type LoadSample = z.infer<typeof LoadSampleSchema>;

interface ColdStartVariant {
  entry: string;
  /** Size of the app's own output (the bundle, or every transpiled file), bytes. */
  outputBytes: number;
  outputFiles: number;
  /** Median, over runs, of the time from process start until every function was registered. */
  medianMs: number;
  /** Median time spent in `require(entry)` alone. */
  medianRequireMs: number;
  minMs: number;
  maxMs: number;
  functionsRegistered: number;
  filesLoaded: number;
  bytesLoaded: number;
  androidManagementLoaded: boolean;
  storageQueueLoaded: boolean;
  telemetryLoaded: boolean;
}

/** The queue SDK's bundle, required after the app's: what the first enqueue of a fresh instance adds. */
interface QueueSdkLoad {
  file: string;
  bytes: number;
  /** Median time spent in requiring it, with the app's bundle already loaded. */
  medianRequireMs: number;
  minMs: number;
  maxMs: number;
}

export interface ColdStartResult {
  runs: number;
  expectedFunctions: number;
  bundled: ColdStartVariant;
  /** The same bundle with DEVICE_CHANNEL=androidManagement: Google's libraries stay unloaded at start. */
  androidManagement: ColdStartVariant;
  /** Absent when the build has no separate queue bundle (dist/storageQueue.js). */
  queueSdk?: QueueSdkLoad;
  /** The same bundle with an OTLP endpoint set: the load includes dist/telemetry.js and the providers' set-up. */
  telemetry: ColdStartVariant;
  unbundled: ColdStartVariant;
  /** unbundled median / bundled median. */
  speedup: number;
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? listTs(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** The number of `app.*(` registrations in functions/*.ts: what "every function registered" means. */
function countRegistrations(repoDir: string): number {
  const pattern =
    /\bapp\.(http|get|post|put|patch|deleteRequest|storageQueue|storageBlob|timer|serviceBusQueue|generic)\(/g;
  return listTs(join(repoDir, 'functions')).reduce(
    (sum, file) => sum + (readFileSync(file, 'utf8').match(pattern)?.length ?? 0),
    0,
  );
}

/** Telemetry on: an OTLP endpoint (nothing is sent at load), and the harness's stand-in for the appStart hook. */
export const TELEMETRY_SETTINGS = {
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  COLD_START_TELEMETRY: '1',
};

/** The Android Management channel's settings, keyless (nothing is called at load: the credential is only parsed). */
const ANDROID_MANAGEMENT_SETTINGS = {
  DEVICE_CHANNEL: 'androidManagement',
  ANDROID_MANAGEMENT_ENTERPRISE: 'enterprises/LC0bench',
  ANDROID_MANAGEMENT_CREDENTIALS: JSON.stringify({
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/bench/providers/azure',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
  }),
};

/** lib/ and functions/ transpiled one file each (no bundling), requiring node_modules from the checkout. */
async function buildUnbundled(repoDir: string): Promise<{ dir: string; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-unbundled-'));
  const sources = [...listTs(join(repoDir, 'lib')), ...listTs(join(repoDir, 'functions'))];
  await build({
    entryPoints: sources,
    outdir: dir,
    outbase: repoDir,
    bundle: false,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  symlinkSync(join(repoDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-unbundled', main: 'functions/index.js' }));
  const files = sources.map((s) => join(dir, relative(repoDir, s).replace(/\.ts$/, '.js')));
  return { dir, files };
}

export async function loadOnce(
  loader: string,
  entry: string,
  env: Record<string, string>,
  later?: string,
): Promise<LoadSample> {
  const child = spawn(process.execPath, [loader, entry, ...(later ? [later] : [])], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => {
    out += t;
  });
  child.stderr.setEncoding('utf8').on('data', (t: string) => {
    err += t;
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`loading ${entry} failed (exit ${String(code)}):\n${err}`);
  return LoadSampleSchema.parse(JSON.parse(out));
}

function variant(entry: string, samples: LoadSample[], outputFiles: string[]): ColdStartVariant {
  const totals = samples.map((s) => s.sinceProcessStartMs);
  const last = samples[samples.length - 1];
  return {
    entry,
    outputBytes: outputFiles.reduce((sum, f) => sum + statSync(f).size, 0),
    outputFiles: outputFiles.length,
    medianMs: median(totals),
    medianRequireMs: median(samples.map((s) => s.requireMs)),
    minMs: Math.min(...totals),
    maxMs: Math.max(...totals),
    functionsRegistered: Math.min(...samples.map((s) => s.registered.length)),
    filesLoaded: last?.filesLoaded ?? 0,
    bytesLoaded: last?.bytesLoaded ?? 0,
    androidManagementLoaded: samples.some((s) => s.androidManagementLoaded),
    storageQueueLoaded: samples.some((s) => s.storageQueueLoaded),
    telemetryLoaded: samples.some((s) => s.telemetryLoaded),
  };
}

function queueSdkLoad(file: string, samples: LoadSample[]): QueueSdkLoad {
  const times = samples.map((s) => s.laterRequireMs ?? Number.NaN);
  return {
    file,
    bytes: statSync(file).size,
    medianRequireMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
  };
}

/** Cold start of the bundle (dist/main.js) and of the unbundled compiled output, `runs` fresh processes each. */
export async function measureColdStart(
  repoDir: string,
  env: Record<string, string>,
  runs: number,
): Promise<ColdStartResult> {
  const work = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  mkdirSync(work, { recursive: true });
  const loader = join(work, 'loader.cjs');
  writeFileSync(loader, LOADER);
  const bundle = join(repoDir, 'dist', 'main.js');
  const queueBundle = join(repoDir, 'dist', 'storageQueue.js');
  const hasQueueBundle = existsSync(queueBundle);
  const unbundled = await buildUnbundled(repoDir);
  const unbundledEntry = join(unbundled.dir, 'functions', 'index.js');
  const amapiEnv = { ...env, ...ANDROID_MANAGEMENT_SETTINGS };
  // One untimed load each warms the OS file cache, then the variants alternate so drift hits them alike.
  await loadOnce(loader, bundle, env);
  await loadOnce(loader, bundle, amapiEnv);
  await loadOnce(loader, unbundledEntry, env);
  if (hasQueueBundle) await loadOnce(loader, bundle, env, queueBundle);
  const telemetryEnv = { ...env, ...TELEMETRY_SETTINGS };
  await loadOnce(loader, bundle, telemetryEnv);
  const telemetrySamples: LoadSample[] = [];
  const bundledSamples: LoadSample[] = [];
  const amapiSamples: LoadSample[] = [];
  const unbundledSamples: LoadSample[] = [];
  const queueSamples: LoadSample[] = [];
  for (let i = 0; i < runs; i++) {
    bundledSamples.push(await loadOnce(loader, bundle, env));
    amapiSamples.push(await loadOnce(loader, bundle, amapiEnv));
    unbundledSamples.push(await loadOnce(loader, unbundledEntry, env));
    if (hasQueueBundle) queueSamples.push(await loadOnce(loader, bundle, env, queueBundle));
    telemetrySamples.push(await loadOnce(loader, bundle, telemetryEnv));
  }
  const bundled = variant(bundle, bundledSamples, [bundle]);
  const androidManagement = variant(bundle, amapiSamples, [bundle]);
  const plain = variant(unbundledEntry, unbundledSamples, unbundled.files);
  rmSync(work, { recursive: true, force: true });
  rmSync(unbundled.dir, { recursive: true, force: true });
  return {
    runs,
    expectedFunctions: countRegistrations(repoDir),
    bundled,
    androidManagement,
    ...(hasQueueBundle && { queueSdk: queueSdkLoad(queueBundle, queueSamples) }),
    telemetry: variant(bundle, telemetrySamples, [bundle, join(repoDir, 'dist', 'telemetry.js')]),
    unbundled: plain,
    speedup: plain.medianMs / bundled.medianMs,
  };
}
