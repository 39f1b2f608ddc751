// `npm run bench:scale`: storage requests per call, counted on the app's own clients, at a small and a large fleet
// (docs/PERFORMANCE.md "Fleet scale"). In-process against a fresh Azurite: the use cases the functions call, with the
// app's stores; the fleet is loaded with the stores' own entity formats (index rows and feed rows included).
import { TableClient } from '@azure/data-tables';
import { toEntity as actionEntity, feedWrites } from '../../lib/adapters/tableActionStore';
import { ensureTable } from '../../lib/adapters/tableClients';
import { deviceWrites } from '../../lib/adapters/tableDeviceStore';
import type { Device } from '../../lib/core/model';
import { buildDeps, STORAGE_NAMES } from '../../lib/deps';
import { listActions } from '../../lib/useCases/deviceActions';
import { listDevices } from '../../lib/useCases/devices';
import { startAzurite } from '../azurite';
import { BENCH_CALLER, benchAction, benchSettings } from './environment';
import { measureFanOut } from './fanOut';
import { forEachLimited, ratio, round } from './stats';

interface Size {
  devices: number;
  actions: number;
  auditEvents: number;
}
const SMALL: Size = { devices: 1_000, actions: 100, auditEvents: 100 };
/**
 * The large fleet: `--devices N` (default 100,000). Azurite's inserts into one partition slow down as it grows: 10,000
 * devices (50,000 rows with their index rows) took 526 s to load, so 100,000 take hours there (docs/PERFORMANCE.md
 * "Fleet scale").
 */
const devicesArgument = process.argv.indexOf('--devices');
const LARGE: Size = {
  devices: devicesArgument > 0 ? Number(process.argv[devicesArgument + 1]) : 100_000,
  actions: 10_000,
  auditEvents: 10_000,
};
/** Devices every search finds, at both sizes: 60, more than a page of 50. */
const TARGETS = 60;
/** Failed actions at both sizes, more than a page of 50; the others are done. */
const FAILED = 60;
const DEVICES_PER_TRANSACTION = 20;

const device = (n: number): Device => {
  const target = n < TARGETS;
  const at = '2026-12-01T08:00:00.000Z';
  return {
    id: `scale-${String(n).padStart(6, '0')}`,
    deviceName: target ? `Target phone ${n}` : `Phone ${String(n).padStart(6, '0')}`,
    operatingSystem: n % 4 === 0 ? 'Android' : 'iOS',
    osVersion: n % 4 === 0 ? '6.0' : '17.5',
    azureADJoined: false,
    userPrincipalName: target ? 'target@contoso.com' : `user${n % 5_000}@contoso.com`,
    passcodePolicy: { minLength: 6, characters: 'numeric', complex: false },
    createdDateTime: at,
    lastUpdatedDateTime: at,
  };
};

async function loadDevices(table: TableClient, from: number, to: number): Promise<void> {
  const batches = Math.ceil((to - from) / DEVICES_PER_TRANSACTION);
  const started = Date.now();
  await forEachLimited(batches, 4, async (b) => {
    const first = from + b * DEVICES_PER_TRANSACTION;
    const ids = Array.from({ length: Math.min(DEVICES_PER_TRANSACTION, to - first) }, (_, i) => first + i);
    await table.submitTransaction(ids.flatMap((n) => deviceWrites(device(n), undefined, true)));
    const done = first + ids.length;
    if (done % 2_000 === 0) console.log(`  ${done} devices loaded (${round((Date.now() - started) / 1000)} s)`);
  });
}

/** Finished actions on the first devices, newest first by id; the first FAILED ever made are failed. */
async function loadActions(table: TableClient, from: number, to: number): Promise<void> {
  await forEachLimited(to - from, 8, async (i) => {
    const n = from + i;
    const started = new Date(Date.parse('2026-12-01T00:00:00.000Z') + n * 1000);
    const state = n < FAILED ? 'failed' : 'done';
    const action = benchAction(device(n % 1_000).id, started, n.toString(16).padStart(20, '0'), {
      actionState: state,
      ...(state === 'failed' && {
        appliedDateTime: undefined,
        error: { code: 'deviceUnreachable', message: 'benchmark' },
      }),
    });
    await table.submitTransaction(feedWrites(action, ['all', state]));
    await table.createEntity(actionEntity(action));
  });
}

/** Passcode views in the audit trail: what "Device actions" used to read through. */
async function loadAuditEvents(table: TableClient, from: number, to: number): Promise<void> {
  await forEachLimited(to - from, 8, async (i) => {
    const n = from + i;
    await table.createEntity({
      partitionKey: 'audit',
      rowKey: `${String(9_999_999_999_999 - n).padStart(13, '0')}-view${n}`,
      eventId: `view${n}`,
      eventDateTime: '2026-12-01T09:00:00.000Z',
      eventType: 'passcodeViewed',
      callerId: 'bench',
      callerName: 'Benchmark',
      deviceId: device(n % 1_000).id,
      outcome: 'success',
    });
  });
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  try {
    let requests = 0;
    const deps = buildDeps(benchSettings(azurite.connectionString), undefined, { onStorageRequest: () => requests++ });
    // The loader's own clients: no 5 s limit per try (the app's), since a loaded machine may take longer per batch.
    const table = (name: string) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true });
    const tables = {
      devices: table(STORAGE_NAMES.tables.devices),
      actions: table(STORAGE_NAMES.tables.actions),
      audit: table(STORAGE_NAMES.tables.audit),
    };
    await Promise.all(Object.values(tables).map(ensureTable));
    const services = deps.services;
    const viewer = { ...BENCH_CALLER, roles: new Set(['Devices.Read'] as const) };
    const calls: Record<string, () => Promise<unknown>> = {
      'device search (name prefix, page of 50)': () => listDevices(services, { deviceNamePrefix: 'target', top: 50 }),
      'device search (user, exact)': () =>
        listDevices(services, { userPrincipalName: { value: 'TARGET@contoso.com', prefix: false }, top: 50 }),
      'filtered device list (operatingSystem, page of 50)': () =>
        listDevices(services, { operatingSystem: 'Android', top: 50 }),
      '"Device actions" (page of 50)': () => listActions(services, viewer, { top: 50 }),
      '"Device actions", actionState failed (page of 50)': () =>
        listActions(services, viewer, { top: 50, actionState: 'failed' }),
    };
    const measure = async () => {
      const counts: Record<string, number> = {};
      for (const [name, run] of Object.entries(calls)) {
        requests = 0;
        await run();
        counts[name] = requests;
      }
      return counts;
    };
    const load = async (from: Size, to: Size) => {
      const started = Date.now();
      await loadDevices(tables.devices, from.devices, to.devices);
      const devicesSeconds = (Date.now() - started) / 1000;
      await loadActions(tables.actions, from.actions, to.actions);
      await loadAuditEvents(tables.audit, from.auditEvents, to.auditEvents);
      return { devicesSeconds, totalSeconds: (Date.now() - started) / 1000 };
    };
    const none: Size = { devices: 0, actions: 0, auditEvents: 0 };
    const smallLoad = await load(none, SMALL);
    const small = await measure();
    const largeLoad = await load(SMALL, LARGE);
    const large = await measure();

    console.log(`\nStorage requests per call (counted on the app's clients), in-process against Azurite`);
    console.log(`small: ${SMALL.devices} devices, ${SMALL.actions} actions, ${SMALL.auditEvents} audit events`);
    console.log(`large: ${LARGE.devices} devices, ${LARGE.actions} actions, ${LARGE.auditEvents} audit events\n`);
    console.log('| Call | small | large | large / small |');
    console.log('|---|---:|---:|---:|');
    let worst = 0;
    for (const name of Object.keys(calls)) {
      const r = ratio(large[name] ?? 0, small[name] ?? 0);
      worst = Math.max(worst, r);
      console.log(`| ${name} | ${small[name]} | ${large[name]} | ${round(r, 2)} |`);
    }
    // The fan-out of one finished action: 50 subscriptions watch its device, among 50 and among 5,000.
    const fanOutSmall = (await measureFanOut(azurite.connectionString, { subscriptions: 50, watching: 50 })).requests;
    const fanOutLarge = (await measureFanOut(azurite.connectionString, { subscriptions: 5_000, watching: 50 }))
      .requests;
    const fanOutRatio = ratio(fanOutLarge, fanOutSmall);
    worst = Math.max(worst, fanOutRatio);
    console.log(
      `| fan-out of one finished action, 50 watchers (50 vs 5,000 subscriptions) | ${fanOutSmall} | ${fanOutLarge} | ${round(fanOutRatio, 2)} |`,
    );
    console.log(
      `\nLoading: ${SMALL.devices} devices in ${round(smallLoad.devicesSeconds)} s; ` +
        `${LARGE.devices - SMALL.devices} more in ${round(largeLoad.devicesSeconds)} s ` +
        `(${DEVICES_PER_TRANSACTION} devices and their index rows to an entity-group transaction, 4 at once); ` +
        `everything at the large size in ${round(smallLoad.totalSeconds + largeLoad.totalSeconds)} s.`,
    );
    console.log(`Worst ratio: ${round(worst, 2)} (the bar: 1.2)`);
    if (worst > 1.2) process.exitCode = 1;
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
