// `node dist/tools/coldStartCompare.js --baseline <git revision> [--runs 30]`: builds the baseline revision of this
// repository in a temporary folder, then loads its bundle and this checkout's dist/main.js alternately in fresh
// `node` processes (the cold start harness of ./coldStart.ts), and prints both sizes and load times side by side, so a
// change's effect on cold start is measured in one run on one machine (docs/PERFORMANCE.md "Bundle and cold start").
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LOADER, type LoadSample, loadOnce, TELEMETRY_SETTINGS } from './coldStart';
import { median, round } from './stats';

/** Settings both revisions accept (each reads the keys it knows): throwaway keys, no authentication. */
function loadSettings(): Record<string, string> {
  const key = () => randomBytes(32).toString('base64');
  return {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    AUTH_MODE: 'none',
    DEVICE_CHANNEL: 'simulated',
    PASSCODE_ENCRYPTION_KEYS: `k1:${key()}`,
    STATUS_LINK_KEY: key(),
    STATUS_LINK_KEYS: `s1:${key()}`,
  };
}

/** `revision` of the repository at `repoDir`, built in a temporary folder that uses this checkout's node_modules. */
function buildRevision(repoDir: string, revision: string): { dir: string; bundle: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cold-start-baseline-'));
  const archive = execFileSync('git', ['archive', '--format=tar', revision], { cwd: repoDir, maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(repoDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const built = spawnSync(process.execPath, ['tools/build.mjs'], { cwd: dir, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`building ${revision} failed`);
  return { dir, bundle: join(dir, 'dist', 'main.js') };
}

interface Variant {
  label: string;
  bundle: string;
  samples: LoadSample[];
  env: Record<string, string>;
}

const summary = ({ label, bundle, samples }: Variant) => ({
  label,
  bytes: statSync(bundle).size,
  requireMs: median(samples.map((s) => s.requireMs)),
  requireCpuMs: median(samples.map((s) => s.requireCpuMs)),
  totalMs: median(samples.map((s) => s.sinceProcessStartMs)),
  functions: Math.min(...samples.map((s) => s.registered.length)),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      baseline: { type: 'string' },
      runs: { type: 'string', default: '30' },
      // This checkout with OpenTelemetry on (an OTLP endpoint set): the load includes dist/telemetry.js and its setup.
      telemetry: { type: 'boolean', default: false },
    },
  });
  if (!values.baseline) throw new Error('give --baseline <git revision>');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const repoDir = process.cwd();
  const baseline = buildRevision(repoDir, values.baseline);
  const work = mkdtempSync(join(tmpdir(), 'cold-start-compare-'));
  const loader = join(work, 'loader.cjs');
  writeFileSync(loader, LOADER);
  const env = loadSettings();
  const measuredEnv = values.telemetry ? { ...env, ...TELEMETRY_SETTINGS } : env;
  const variants: Variant[] = [
    { label: `baseline ${values.baseline}`, bundle: baseline.bundle, samples: [], env },
    {
      label: values.telemetry ? 'this checkout, telemetry on' : 'this checkout',
      bundle: resolve(repoDir, 'dist', 'main.js'),
      samples: [],
      env: measuredEnv,
    },
  ];
  let summaries: ReturnType<typeof summary>[];
  try {
    // One untimed load each warms the file cache; then the two alternate, so load on the machine hits both alike.
    for (const variant of variants) await loadOnce(loader, variant.bundle, variant.env);
    for (let i = 0; i < runs; i++) {
      for (const variant of variants) variant.samples.push(await loadOnce(loader, variant.bundle, variant.env));
    }
    summaries = variants.map(summary);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(baseline.dir, { recursive: true, force: true });
  }
  const [before, after] = summaries;
  if (!before || !after) return;
  const rows = [before, after].map(
    (v) =>
      `| ${v.label} | ${round(v.bytes / 1024, 0)} KiB | ${round(v.requireMs, 1)} | ${round(v.requireCpuMs, 1)} | ${round(v.totalMs, 1)} | ${v.functions} |`,
  );
  console.log(
    `Cold start, median of ${runs} alternating runs each (${process.version}, ${process.platform}-${process.arch})\n`,
  );
  console.log('| bundle | size | require ms | require CPU ms | since process start ms | functions |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
  console.log(
    `| after/before | ${round((100 * after.bytes) / before.bytes, 0)}% | ${round((100 * after.requireMs) / before.requireMs, 0)}% | ${round((100 * after.requireCpuMs) / before.requireCpuMs, 0)}% | ${round((100 * after.totalMs) / before.totalMs, 0)}% | |`,
  );
  // Bundles loaded on first use are not in the comparison (the start does not load them); their sizes are listed.
  const apart = ['identity.js', 'androidManagement.js', 'storageQueue.js'].filter((file) =>
    existsSync(resolve(repoDir, 'dist', file)),
  );
  console.log(
    `\nThis checkout's bundles loaded on first use: ${apart.map((file) => `dist/${file} ${round(statSync(resolve(repoDir, 'dist', file)).size / 1024, 0)} KiB`).join(', ')}`,
  );
}

if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
