// `npm run bench`: starts Azurite and the local Functions host itself and measures the accept path, the queue
// drain, storage round trips and cold start against ceilings measured in the same run (docs/PERFORMANCE.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureStorage } from '../../lib/deps';
import { type Azurite, startAzurite } from '../azurite';
import { spawnHost } from '../host/spawnHost';
import { acceptCeilingClients, acceptCeilingOnce, type LoadResult, runAcceptCeiling, runAcceptLoad } from './accept';
import { measureColdStart } from './coldStart';
import { type DrainResult, enqueueActions, runAppDrain, runDrainCeiling, startStubGateway } from './drain';
import { benchSettings, deviceIds, disabled, QUEUE_FUNCTIONS, registerDevices, TIMER_FUNCTIONS } from './environment';
import { type BenchResult, evaluateTargets, type Machine, toMarkdown } from './report';
import { countRoundTrips, RoundTripCounter } from './roundTrips';

const CONCURRENCIES = [1, 16, 64] as const;
// The queue settings the bench runs with: host.json's (batchSize 16, newBatchThreshold 8).
const BATCH_SIZE = 16;
const NEW_BATCH_THRESHOLD = 8;
const LEASE_SECONDS = 60;
const DOCS_START = '<!-- bench:start -->';
const DOCS_END = '<!-- bench:end -->';

interface Plan {
  quick: boolean;
  warmup: number;
  requests: Record<(typeof CONCURRENCIES)[number], number>;
  drainActions: number;
  roundTripSamples: number;
  coldStartRuns: number;
}

function plan(argv: string[]): Plan & { updateDocs: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      'update-docs': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const n = values.n === undefined ? (quick ? 200 : 2000) : Number(values.n);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, not "${values.n}"`);
  return {
    quick,
    updateDocs: values['update-docs'] ?? false,
    warmup: quick ? 50 : 300,
    requests: quick ? { 1: 100, 16: 300, 64: 400 } : { 1: 600, 16: 3000, 64: 4000 },
    drainActions: n,
    // Whole batches of the host's batchSize, so the amortised receive is the steady-state one.
    roundTripSamples: quick ? BATCH_SIZE : 2 * BATCH_SIZE,
    coldStartRuns: quick ? 5 : 20,
  };
}

function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    cpuModel,
    cpus: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);

const tally = (calls: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const call of [...calls].sort()) counts[call] = (counts[call] ?? 0) + 1;
  return counts;
};

/** One Azurite at a time on fixed ports (so the connection string, and the settings, stay the same), reset on demand. */
class FreshStorage {
  #azurite: Azurite | undefined;
  #ports: Azurite['ports'] | undefined;

  /** Stops the current Azurite, starts an empty one and creates the app's tables and queues. */
  async reset(): Promise<string> {
    await this.#azurite?.stop();
    this.#azurite = await startAzurite(this.#ports ? { ports: this.#ports } : {});
    this.#ports = this.#azurite.ports;
    await ensureStorage(this.#azurite.connectionString);
    return this.#azurite.connectionString;
  }

  async stop(): Promise<void> {
    await this.#azurite?.stop();
    this.#azurite = undefined;
  }
}

async function main(): Promise<void> {
  const repoDir = process.cwd();
  const p = plan(process.argv.slice(2));
  const started = Date.now();
  const info = machine();
  log(`${p.quick ? 'quick' : 'full'} run: ${info.cpus} × ${info.cpuModel}, Node ${info.node}`);

  const storage = new FreshStorage();
  let result: BenchResult;
  try {
    const cs = await storage.reset();
    const env = benchSettings(cs);

    log('round trips');
    const roundTrips = await countRoundTrips(env, deviceIds('rt', p.roundTripSamples), BATCH_SIZE);

    // The ceiling must issue the storage calls the app issues: compare one of each, counted the same way.
    const counter = new RoundTripCounter();
    const checkIds = deviceIds('check', 1);
    await registerDevices(cs, checkIds);
    await acceptCeilingOnce(await acceptCeilingClients(cs, counter.observe), checkIds[0] ?? '');
    const appCalls = tally(
      Object.entries(roundTrips.accept.calls).flatMap(([call, n]) => Array.from({ length: Math.round(n) }, () => call)),
    );
    const ceilingCalls = tally(counter.take());
    const acceptCeilingMatchesApp = {
      matches: JSON.stringify(appCalls) === JSON.stringify(ceilingCalls),
      app: appCalls,
      ceiling: ceilingCalls,
    };
    if (!acceptCeilingMatchesApp.matches) log('WARNING: the accept ceiling no longer issues the same calls as the app');

    // Every measured run starts from an empty Azurite holding just the devices it needs: Azurite's in-memory tables
    // slow down as they grow, so runs that shared one store would favour whichever ran first.
    const accept: BenchResult['accept'] = [];
    for (const c of CONCURRENCIES) {
      const warm = deviceIds(`warm-c${c}`, Math.max(p.warmup, 4 * c));
      const ids = deviceIds(`accept-c${c}`, p.requests[c]);
      log(`accept: c=${c} app`);
      await storage.reset();
      await registerDevices(cs, [...warm, ...ids]);
      const host = await spawnHost({
        appDir: repoDir,
        env: { ...env, ...disabled(...QUEUE_FUNCTIONS, ...TIMER_FUNCTIONS) },
        hostScript: join(repoDir, 'dist', 'tools', 'host.js'),
      });
      let app: LoadResult;
      try {
        await runAcceptLoad(host.url, warm, c);
        app = await runAcceptLoad(host.url, ids, c);
      } finally {
        await host.stop();
      }
      log(`accept: c=${c} ceiling`);
      await storage.reset();
      await registerDevices(cs, [...warm, ...ids]);
      const clients = await acceptCeilingClients(cs);
      await runAcceptCeiling(clients, warm, c);
      const ceiling = await runAcceptCeiling(clients, ids, c);
      accept.push({ concurrency: c, app, ceiling });
      log(
        `  app ${Math.round(app.requestsPerSecond)} req/s p99 ${app.p99Ms} ms, ceiling ${Math.round(ceiling.requestsPerSecond)} req/s p99 ${Math.round(ceiling.p99Ms)} ms`,
      );
    }

    const n = p.drainActions;
    const drainIds = deviceIds('drain', n);
    const prepareDrain = async (drainEnv: Record<string, string>) => {
      await storage.reset();
      await registerDevices(cs, drainIds);
      await enqueueActions(drainEnv, drainIds);
    };
    const drainOptions = { repoDir, prefix: 'bench-drain-', count: n, leaseSeconds: LEASE_SECONDS };

    log(`drain: app, simulated channel (${n} actions)`);
    await prepareDrain(env);
    const simulated = await runAppDrain({ ...drainOptions, env });
    log(`  ${Math.round(simulated.actionsPerSecond)} actions/s`);

    const gateway = await startStubGateway();
    let stubGateway: DrainResult;
    try {
      const stubEnv = {
        ...env,
        DEVICE_CHANNEL: 'webhook',
        DEVICE_CHANNEL_URL: gateway.url,
        DEVICE_CHANNEL_SECRET: 'bench-gateway-secret-of-at-least-32-bytes',
      };
      log(`drain: app, webhook channel to a stub gateway (${n} actions)`);
      await prepareDrain(stubEnv);
      stubGateway = await runAppDrain({ ...drainOptions, env: stubEnv });
      log(`  ${Math.round(stubGateway.actionsPerSecond)} actions/s`);
    } finally {
      gateway.server.close();
    }

    log(`drain: ceiling (${n} actions)`);
    await prepareDrain(env);
    const drainCeiling = await runDrainCeiling({
      connectionString: cs,
      prefix: 'bench-drain-',
      count: n,
      batchSize: BATCH_SIZE,
      newBatchThreshold: NEW_BATCH_THRESHOLD,
      leaseSeconds: LEASE_SECONDS,
    });
    log(`  ${Math.round(drainCeiling.actionsPerSecond)} actions/s`);

    await storage.stop();
    log(`cold start: ${p.coldStartRuns} runs each`);
    // Loading the app parses its settings (a bad one stops start-up), so the loads get the bench's settings.
    const coldStart = await measureColdStart(repoDir, env, p.coldStartRuns);

    const partial = {
      machine: info,
      options: { quick: p.quick, drainActions: n, acceptRequests: p.requests, coldStartRuns: p.coldStartRuns },
      roundTrips,
      acceptCeilingMatchesApp,
      accept,
      drain: { simulated, stubGateway, ceiling: drainCeiling },
      coldStart,
      seconds: (Date.now() - started) / 1000,
    };
    result = { ...partial, targets: evaluateTargets(partial) };
  } finally {
    await storage.stop();
  }

  const markdown = toMarkdown(result);
  const dir = join(repoDir, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${markdown}\n\nResult: ${file}\n`);
  if (p.updateDocs) {
    const docs = join(repoDir, 'docs', 'PERFORMANCE.md');
    const text = readFileSync(docs, 'utf8');
    const start = text.indexOf(DOCS_START);
    const end = text.indexOf(DOCS_END);
    if (start < 0 || end < start) throw new Error(`${docs} has no ${DOCS_START} … ${DOCS_END} section`);
    writeFileSync(docs, `${text.slice(0, start + DOCS_START.length)}\n${markdown}\n${text.slice(end)}`);
    log(`updated ${docs}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `The benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
