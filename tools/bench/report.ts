import type { LoadResult } from './accept';
import type { ColdStartResult } from './coldStart';
import type { DrainResult } from './drain';
import type { RoundTripResult } from './roundTrips';
import { ratio, round } from './stats';

export interface Machine {
  date: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export interface BenchResult {
  machine: Machine;
  options: { quick: boolean; drainActions: number; acceptRequests: Record<string, number>; coldStartRuns: number };
  roundTrips: RoundTripResult;
  /** Whether the ceiling's storage calls are the app's accept calls (same multiset). */
  acceptCeilingMatchesApp: { matches: boolean; app: Record<string, number>; ceiling: Record<string, number> };
  accept: Array<{ concurrency: number; app: LoadResult; ceiling: LoadResult }>;
  drain: { simulated: DrainResult; stubGateway: DrainResult; ceiling: DrainResult };
  coldStart: ColdStartResult;
  targets: Array<{ target: string; figure: string; met: boolean }>;
  seconds: number;
}

const f = (value: number, digits = 0) =>
  Number.isFinite(value) ? round(value, digits).toLocaleString('en-US') : 'n/a';
const pct = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : 'n/a');
const x = (value: number) => (Number.isFinite(value) ? `${round(value, 2)}×` : 'n/a');

/** The targets of the performance issue, evaluated on one run's figures. */
export function evaluateTargets(r: Omit<BenchResult, 'targets'>): BenchResult['targets'] {
  const targets: BenchResult['targets'] = [];
  for (const { concurrency, app, ceiling } of r.accept) {
    if (concurrency === 1) continue;
    const throughput = ratio(app.requestsPerSecond, ceiling.requestsPerSecond);
    targets.push({
      target: `Accept throughput ≥ 80% of ceiling at c=${concurrency}`,
      figure: pct(throughput),
      met: throughput >= 0.8,
    });
    const p99 = ratio(app.p99Ms, ceiling.p99Ms);
    targets.push({ target: `Accept p99 ≤ 1.5× ceiling p99 at c=${concurrency}`, figure: x(p99), met: p99 <= 1.5 });
  }
  const drains: Array<[string, DrainResult]> = [
    ['simulated channel', r.drain.simulated],
    ['stub gateway', r.drain.stubGateway],
  ];
  for (const [name, drain] of drains) {
    const value = ratio(drain.actionsPerSecond, r.drain.ceiling.actionsPerSecond);
    targets.push({ target: `Drain ≥ 70% of ceiling (${name})`, figure: pct(value), met: value >= 0.7 });
  }
  targets.push({
    target: 'Accept round trips ≤ 4',
    figure: f(r.roundTrips.accept.perAction, 2),
    met: r.roundTrips.accept.perAction <= 4,
  });
  targets.push({
    target: 'Worker round trips ≤ 5 incl. delete (amortised receive)',
    figure: f(r.roundTrips.workerAmortised, 2),
    met: r.roundTrips.workerAmortised <= 5,
  });
  targets.push({
    target: 'Worker round trips ≤ 5 incl. delete (worst case: one receive per message)',
    figure: f(r.roundTrips.workerWorstCase, 2),
    met: r.roundTrips.workerWorstCase <= 5,
  });
  targets.push({
    target: 'Bundle loads ≥ 2× faster than unbundled output',
    figure: x(r.coldStart.speedup),
    met: r.coldStart.speedup >= 2,
  });
  // The require time: what the app's own load costs, without Node's bootstrap (the same for both, and noisy).
  const amapi = r.coldStart.androidManagement;
  const amapiRatio = amapi.medianRequireMs / r.coldStart.bundled.medianRequireMs;
  targets.push({
    target: "Android Management channel: Google's libraries not loaded at start, require time ≤ 110% of the simulated",
    figure: `${amapi.androidManagementLoaded ? 'loaded' : 'not loaded'}, ${f(100 * amapiRatio)}%`,
    met: !amapi.androidManagementLoaded && amapiRatio <= 1.1,
  });
  targets.push({
    target: 'Queue SDK (dist/storageQueue.js) not loaded at start',
    figure: r.coldStart.bundled.storageQueueLoaded ? 'loaded' : 'not loaded',
    met: !r.coldStart.bundled.storageQueueLoaded && r.coldStart.queueSdk !== undefined,
  });
  const traced = r.coldStart.telemetry;
  const tracedRatio = traced.medianMs / r.coldStart.bundled.medianMs;
  targets.push({
    target: 'Telemetry: nothing of it loaded when off; on (OTLP endpoint set), cold start ≤ 115% of off',
    figure: `${r.coldStart.bundled.telemetryLoaded ? 'loaded when off' : 'not loaded when off'}, on ${f(100 * tracedRatio)}%`,
    met: !r.coldStart.bundled.telemetryLoaded && traced.telemetryLoaded && tracedRatio <= 1.15,
  });
  return targets;
}

const calls = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([call, n]) => (n === 1 ? call : `${f(n, 2)}× ${call}`))
    .join(', ');

/** The result as the markdown that docs/PERFORMANCE.md shows. */
export function toMarkdown(r: BenchResult): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(
    `Run ${m.date} on ${m.cpus} × ${m.cpuModel}, ${f(m.memoryGiB, 1)} GiB, Node ${m.node} (${m.platform})` +
      `${r.options.quick ? ' — quick smoke run, not representative' : ''}; total ${f(r.seconds)} s.`,
    '',
    '**Accept path** (POST resetPasscode, one distinct device per request; autocannon vs the same storage calls issued directly)',
    '',
    '| concurrency | requests | app req/s | ceiling req/s | app/ceiling | app p50 ms | ceiling p50 ms | app p99 ms | ceiling p99 ms | p99 app/ceiling | app errors | ceiling errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const { concurrency, app, ceiling } of r.accept) {
    lines.push(
      `| ${concurrency} | ${app.requests} | ${f(app.requestsPerSecond)} | ${f(ceiling.requestsPerSecond)} | ${pct(ratio(app.requestsPerSecond, ceiling.requestsPerSecond))} | ${f(app.p50Ms, 1)} | ${f(ceiling.p50Ms, 1)} | ${f(app.p99Ms, 1)} | ${f(ceiling.p99Ms, 1)} | ${x(ratio(app.p99Ms, ceiling.p99Ms))} | ${app.errors} | ${ceiling.errors} |`,
    );
  }
  const d = r.drain;
  lines.push(
    '',
    `**Drain** (${r.options.drainActions} queued actions; the local host runs the reset worker; ceiling = receive/read/claim/complete/announce/delete with the SDKs)`,
    '',
    '| run | actions/s | app/ceiling | done | p50 ms from drain start | p99 ms from drain start | accepted→done p50 ms | accepted→done p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  const drainRow = (name: string, v: DrainResult, share: string) =>
    `| ${name} | ${f(v.actionsPerSecond)} | ${share} | ${v.done}/${v.actions} | ${f(v.sinceDrainStartP50Ms)} | ${f(v.sinceDrainStartP99Ms)} | ${f(v.acceptedToDoneP50Ms)} | ${f(v.acceptedToDoneP99Ms)} |`;
  lines.push(
    drainRow(
      'app, simulated channel (scrypt verifier per apply)',
      d.simulated,
      pct(ratio(d.simulated.actionsPerSecond, d.ceiling.actionsPerSecond)),
    ),
    drainRow(
      'app, webhook channel to a local stub gateway',
      d.stubGateway,
      pct(ratio(d.stubGateway.actionsPerSecond, d.ceiling.actionsPerSecond)),
    ),
    drainRow('ceiling (SDK only)', d.ceiling, '100%'),
  );
  const rt = r.roundTrips;
  lines.push(
    '',
    `**Storage round trips per action** (counted by a pipeline policy (tables) and a request policy factory (queue) on the app's own clients, ${rt.samples} actions; device channel excluded)`,
    '',
    '| path | round trips | calls |',
    '|---|---:|---|',
    `| accept | ${f(rt.accept.perAction, 2)} (max ${rt.accept.max}) | ${calls(rt.accept.calls)} |`,
    `| worker use case | ${f(rt.workerUseCase.perAction, 2)} (max ${rt.workerUseCase.max}) | ${calls(rt.workerUseCase.calls)} |`,
    `| host queue calls | ${f(rt.hostQueue.receivesPerMessageAmortised + rt.hostQueue.deletesPerMessage, 2)} amortised, ${f(rt.hostQueue.receivesPerMessageWorstCase + rt.hostQueue.deletesPerMessage, 2)} worst case | receive ${f(rt.hostQueue.receivesPerMessageAmortised, 4)}/message (one per batch), delete ${f(rt.hostQueue.deletesPerMessage, 2)} |`,
    `| worker total | ${f(rt.workerAmortised, 2)} amortised, ${f(rt.workerWorstCase, 2)} worst case | use case + receive + delete |`,
    `| (simulated channel, excluded) | ${f(rt.simulatedChannelPerApply, 2)} | its own table, per apply |`,
  );
  if (!r.acceptCeilingMatchesApp.matches) {
    lines.push(
      '',
      `⚠ The accept ceiling's storage calls (${calls(r.acceptCeilingMatchesApp.ceiling)}) differ from the app's (${calls(r.acceptCeilingMatchesApp.app)}): update tools/bench/accept.ts.`,
    );
  }
  const c = r.coldStart;
  lines.push(
    '',
    `**Cold start** (fresh \`node\` until every function is registered; median of ${c.runs} runs; ${c.expectedFunctions} functions)`,
    '',
    '| output | size | files | median ms | require ms | min–max ms | functions | files loaded | bytes loaded | Google libraries loaded | queue SDK loaded |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|',
  );
  for (const [name, v] of [
    ['bundle (dist/main.js)', c.bundled],
    ['bundle, DEVICE_CHANNEL=androidManagement', c.androidManagement],
    ['bundle, telemetry on (OTLP endpoint set)', c.telemetry],
    ['unbundled (esbuild per file, cjs)', c.unbundled],
  ] as const) {
    lines.push(
      `| ${name} | ${f(v.outputBytes / 1024)} KiB | ${v.outputFiles} | ${f(v.medianMs)} | ${f(v.medianRequireMs)} | ${f(v.minMs)}–${f(v.maxMs)} | ${v.functionsRegistered} | ${v.filesLoaded} | ${f(v.bytesLoaded / 1024)} KiB | ${v.androidManagementLoaded ? '**yes**' : 'no'} | ${v.storageQueueLoaded ? '**yes**' : 'no'} |`,
    );
  }
  lines.push(`| unbundled/bundle | | | ${x(c.speedup)} | | | | | | | |`);
  lines.push(
    `| androidManagement/simulated | | | ${x(c.androidManagement.medianMs / c.bundled.medianMs)} | ${x(c.androidManagement.medianRequireMs / c.bundled.medianRequireMs)} | | | | | | |`,
  );
  if (c.queueSdk) {
    // Paid once per instance, by its first queue call (a reset request, a sync page, a notification), not at start.
    const q = c.queueSdk;
    lines.push(
      `| queue SDK (dist/storageQueue.js), required after the bundle: the first queue call | ${f(q.bytes / 1024)} KiB | 1 | | ${f(q.medianRequireMs)} | ${f(q.minMs)}–${f(q.maxMs)} | | | | | |`,
      `| bundle + queue SDK | ${f((c.bundled.outputBytes + q.bytes) / 1024)} KiB | 2 | | ${f(c.bundled.medianRequireMs + q.medianRequireMs)} | | | | | | |`,
    );
  }
  lines.push('', '**Targets**', '', '| target | figure | met |', '|---|---:|:---:|');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.figure} | ${t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}
