import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import autocannon from 'autocannon';
import { queueClient } from '../../lib/adapters/storageActionQueue';
import { type StorageRequestObserver, tableClient } from '../../lib/adapters/tableClients';
import { actionIdUpperBoundFor, newActionId } from '../../lib/core/actionId';
import { STORAGE_NAMES } from '../../lib/deps';
import { ROUTES } from '../../lib/http/routes';
import { percentile } from './stats';

export interface LoadResult {
  concurrency: number;
  requests: number;
  ok: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Status codes other than 202 (app) or thrown calls (ceiling), by code. */
  failures: Record<string, number>;
}

const BODY = JSON.stringify({ reason: 'benchmark' });
const resetPath = (deviceId: string) =>
  `/api/${ROUTES.resetPasscode.route.replace('{deviceId}', encodeURIComponent(deviceId))}`;

/** POST resetPasscode once per device in `deviceIds` with autocannon, `concurrency` connections. */
export async function runAcceptLoad(
  hostUrl: string,
  deviceIds: readonly string[],
  concurrency: number,
): Promise<LoadResult> {
  let next = 0;
  let lastResponse = 0;
  const started = performance.now();
  const result = await autocannon({
    url: hostUrl,
    connections: concurrency,
    amount: deviceIds.length,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        setupRequest: (request) => ({ ...request, path: resetPath(deviceIds[next++ % deviceIds.length] ?? '') }),
        onResponse: () => {
          lastResponse = performance.now();
        },
      },
    ],
  });
  // With `amount`, autocannon resolves on its next one-second tick, not at the last response.
  const seconds = (lastResponse - started) / 1000;
  const failures: Record<string, number> = {};
  let ok = 0;
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
    if (code === '202') ok += count;
    else failures[code] = count;
  }
  if (result.errors > 0) failures.socketErrors = result.errors;
  if (result.timeouts > 0) failures.timeouts = result.timeouts;
  return {
    concurrency,
    requests: deviceIds.length,
    ok,
    errors: deviceIds.length - ok,
    seconds,
    requestsPerSecond: ok / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures,
  };
}

/** The storage clients the ceiling uses: the app's factories, so they have the same options and policies. */
export interface AcceptCeilingClients {
  devices: TableClient;
  actions: TableClient;
  audit: TableClient;
  schedule: TableClient;
  queue: QueueClient;
}

export async function acceptCeilingClients(
  connectionString: string,
  observe?: StorageRequestObserver,
): Promise<AcceptCeilingClients> {
  const table = (name: string) => tableClient(connectionString, name, observe);
  return {
    devices: table(STORAGE_NAMES.tables.devices),
    actions: table(STORAGE_NAMES.tables.actions),
    audit: table(STORAGE_NAMES.tables.audit),
    schedule: table(STORAGE_NAMES.tables.schedule),
    queue: await queueClient(connectionString, STORAGE_NAMES.queue, observe).client(),
  };
}

/**
 * The storage operations of one accepted reset, issued directly with the SDKs and nothing else (no HTTP, host,
 * validation or mapping): read the device's row and, side by side, its guard and recent actions (one partition query),
 * add the sweeper's schedule entry, write the feed rows, then action + in-flight guard in one entity-group transaction, then append the
 * accepted audit event and enqueue side by side. Keep this in step with
 * lib/useCases/requestPasscodeReset.ts: the benchmark compares its round trips with the app's and warns.
 */
export async function acceptCeilingOnce(clients: AcceptCeilingClients, deviceId: string): Promise<void> {
  const now = new Date();
  const actionId = newActionId(now, randomBytes(10).toString('hex'));
  const since = actionIdUpperBoundFor(new Date(now.getTime() - 24 * 3600_000));
  const recentActions = async () => {
    const rows: Record<string, unknown>[] = [];
    for await (const row of clients.actions.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter: `PartitionKey eq '${deviceId}' and ((RowKey ge 'action_' and RowKey lt 'action_${since}') or RowKey eq 'inflight')`,
      },
    })) {
      rows.push(row);
    }
    return rows;
  };
  const [device] = await Promise.all([
    clients.devices.getEntity<Record<string, unknown>>('device', deviceId),
    recentActions(),
  ]);
  const at = now.toISOString();
  const due = new Date(now.getTime() + 120_000);
  await clients.schedule.createEntity({
    partitionKey: 'due',
    rowKey: `${String(due.getTime()).padStart(13, '0')}-${actionId}`,
    deviceId,
    actionId,
    dueDateTime: due.toISOString(),
    visits: 0,
  });
  // The "Device actions" feed rows, before the action (lib/adapters/tableActionStore.ts).
  await clients.actions.submitTransaction(
    ['all', 'pending'].map((scope) => [
      'upsert',
      { partitionKey: '~feed', rowKey: `${scope}|${actionId}`, deviceId, actionId },
      'Replace',
    ]),
  );
  await clients.actions.submitTransaction([
    [
      'create',
      {
        partitionKey: deviceId,
        rowKey: `action_${actionId}`,
        actionId,
        actionState: 'pending',
        startDateTime: at,
        lastUpdatedDateTime: at,
        requestedBy: 'Benchmark',
        requestedById: 'bench',
        target: JSON.stringify({
          operatingSystem: device.operatingSystem,
          osVersion: device.osVersion,
          passcodePolicy: JSON.parse(String(device.passcodePolicy)),
        }),
        attempts: 0,
        reason: 'benchmark',
      },
    ],
    ['create', { partitionKey: deviceId, rowKey: 'inflight', actionId }],
  ]);
  const event = clients.audit.createEntity({
    partitionKey: 'audit',
    rowKey: `${actionIdUpperBoundFor(now)}-${actionId}`,
    eventId: actionId,
    eventDateTime: at,
    eventType: 'resetRequested',
    callerId: 'bench',
    callerName: 'Benchmark',
    deviceId,
    actionId,
    reason: 'benchmark',
    outcome: 'success',
    detail: 'accepted',
  });
  const message = clients.queue.sendMessage(
    Buffer.from(JSON.stringify({ v: 1, actionId, deviceId })).toString('base64'),
  );
  await Promise.all([event, message]);
}

/** The ceiling under the same load shape as autocannon: `concurrency` loops, one device per call. */
export async function runAcceptCeiling(
  clients: AcceptCeilingClients,
  deviceIds: readonly string[],
  concurrency: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const loop = async () => {
    while (next < deviceIds.length) {
      const deviceId = deviceIds[next++] ?? '';
      const t0 = performance.now();
      try {
        await acceptCeilingOnce(clients, deviceId);
        latencies.push(performance.now() - t0);
      } catch (error) {
        const code = String((error as { statusCode?: number }).statusCode ?? 'error');
        failures[code] = (failures[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  return {
    concurrency,
    requests: deviceIds.length,
    ok: latencies.length,
    errors: deviceIds.length - latencies.length,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures,
  };
}
