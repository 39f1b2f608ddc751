import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { tableClient } from '../../lib/adapters/tableClients';
import { ResetMessageSchema } from '../../lib/core/model';
import { buildDeps, STORAGE_NAMES } from '../../lib/deps';
import { requestPasscodeReset } from '../../lib/useCases/requestPasscodeReset';
import { spawnHost } from '../host/spawnHost';
import { BENCH_CALLER, disabled, TIMER_FUNCTIONS } from './environment';
import { sdkQueueClient } from './sdkQueueClient';
import { forEachLimited, percentile } from './stats';

export interface DrainResult {
  actions: number;
  done: number;
  failed: number;
  seconds: number;
  actionsPerSecond: number;
  /** Time to terminal from the start of the drain (every action was already queued then): p50/p99. */
  sinceDrainStartP50Ms: number;
  sinceDrainStartP99Ms: number;
  /** Accepted (the action's startDateTime) → terminal, queue wait before the drain included. */
  acceptedToDoneP50Ms: number;
  acceptedToDoneP99Ms: number;
}

/** Accepts a reset for every device with the app's own use case, in this process, while no worker runs. */
export async function enqueueActions(env: Record<string, string>, deviceIds: readonly string[]): Promise<void> {
  const { services } = buildDeps(env);
  services.log = { info: () => {}, warn: () => {}, error: () => {} };
  await forEachLimited(deviceIds.length, 32, async (i) => {
    const deviceId = deviceIds[i] ?? '';
    await requestPasscodeReset(services, { deviceId, caller: BENCH_CALLER, reason: 'benchmark' });
  });
}

async function waitForEmptyQueue(queue: QueueClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { approximateMessagesCount } = await queue.getProperties();
    if (approximateMessagesCount === 0) return;
    await sleep(100);
  }
  throw new Error(`the queue was not drained within ${timeoutMs} ms`);
}

interface ActionTimes {
  state: string;
  startMs: number;
  terminalMs: number;
}

/** The state and times of the actions of the devices with `prefix` (one range scan after the run). */
async function readActions(actions: TableClient, prefix: string): Promise<ActionTimes[]> {
  const found: ActionTimes[] = [];
  const filter = `PartitionKey ge '${prefix}' and PartitionKey lt '${prefix}~' and RowKey ge 'action_' and RowKey lt 'action\`'`;
  for await (const e of actions.listEntities<Record<string, unknown>>({
    queryOptions: { filter, select: ['actionState', 'startDateTime', 'lastUpdatedDateTime'] },
  })) {
    found.push({
      state: String(e.actionState),
      startMs: Date.parse(String(e.startDateTime)),
      terminalMs: Date.parse(String(e.lastUpdatedDateTime)),
    });
  }
  return found;
}

function summarise(times: readonly ActionTimes[], startedMs: number, expected: number): DrainResult {
  const terminal = times.filter((t) => t.state === 'done' || t.state === 'failed' || t.state === 'notSupported');
  const lastMs = Math.max(...terminal.map((t) => t.terminalMs));
  const seconds = (lastMs - startedMs) / 1000;
  const sinceStart = terminal.map((t) => t.terminalMs - startedMs);
  const accepted = terminal.map((t) => t.terminalMs - t.startMs);
  return {
    actions: expected,
    done: times.filter((t) => t.state === 'done').length,
    failed: expected - times.filter((t) => t.state === 'done').length,
    seconds,
    actionsPerSecond: terminal.length / seconds,
    sinceDrainStartP50Ms: percentile(sinceStart, 50),
    sinceDrainStartP99Ms: percentile(sinceStart, 99),
    acceptedToDoneP50Ms: percentile(accepted, 50),
    acceptedToDoneP99Ms: percentile(accepted, 99),
  };
}

/**
 * The app's drain: with `count` actions queued, start the local host running the real bundle (queue functions only
 * matter; the minute sweeper is left out) and wait until the queue is empty. The drain starts when the host is ready.
 */
export async function runAppDrain(options: {
  repoDir: string;
  env: Record<string, string>;
  prefix: string;
  count: number;
  leaseSeconds: number;
}): Promise<DrainResult> {
  const connectionString = options.env.AzureWebJobsStorage ?? '';
  const queue = sdkQueueClient(connectionString, STORAGE_NAMES.queue);
  const host = await spawnHost({
    appDir: options.repoDir,
    env: {
      ...options.env,
      // The notification fan-out is a function of its own (in Azure it scales apart from the worker): the drain
      // measures the worker, whose announcements wait in their queue, as the ceiling's do.
      ...disabled('notifications', ...TIMER_FUNCTIONS),
      LOCAL_FUNCTIONS_HOST_QUEUE_LEASE_SECONDS: String(options.leaseSeconds),
    },
    hostScript: `${options.repoDir}/dist/tools/host.js`,
  });
  const startedMs = Date.now();
  try {
    await waitForEmptyQueue(queue, Math.max(120_000, options.count * 100));
  } finally {
    await host.stop();
  }
  const times = await readActions(tableClient(connectionString, STORAGE_NAMES.tables.actions), options.prefix);
  return summarise(times, startedMs, options.count);
}

/**
 * The drain ceiling: the host's receive loop (batchSize, newBatchThreshold) and, per message, the storage calls the
 * worker must make, issued directly with the SDKs: read the action, claim it (If-Match), complete it and release the
 * device's guard in one transaction (If-Match), announce it on the notification queue, delete the message. No
 * passcode, no channel, no host.
 */
export async function runDrainCeiling(options: {
  connectionString: string;
  prefix: string;
  count: number;
  batchSize: number;
  newBatchThreshold: number;
  leaseSeconds: number;
}): Promise<DrainResult> {
  const queue = sdkQueueClient(options.connectionString, STORAGE_NAMES.queue);
  const notifications = sdkQueueClient(options.connectionString, STORAGE_NAMES.notificationQueue);
  const actions = tableClient(options.connectionString, STORAGE_NAMES.tables.actions);
  const active = new Set<Promise<void>>();
  let processed = 0;
  const startedMs = Date.now();
  let failures = 0;
  const processMessage = async (messageId: string, popReceipt: string, text: string) => {
    try {
      await completeMessage(messageId, popReceipt, text);
    } catch {
      failures++;
    }
    processed++;
  };
  const completeMessage = async (messageId: string, popReceipt: string, text: string) => {
    const message = ResetMessageSchema.parse(JSON.parse(Buffer.from(text, 'base64').toString('utf8')));
    const rowKey = `action_${message.actionId}`;
    const entity = await actions.getEntity<Record<string, unknown>>(message.deviceId, rowKey);
    const { etag: readEtag, timestamp: _t, partitionKey: _p, rowKey: _r, ...fields } = entity;
    const claimed = {
      ...fields,
      partitionKey: message.deviceId,
      rowKey,
      actionState: 'active',
      attempts: 1,
      lastUpdatedDateTime: new Date().toISOString(),
    };
    const { etag } = await actions.updateEntity(claimed, 'Replace', { etag: readEtag });
    await actions.submitTransaction([
      [
        'update',
        { ...claimed, actionState: 'done', lastUpdatedDateTime: new Date().toISOString() },
        'Replace',
        { etag },
      ],
      ['delete', { partitionKey: message.deviceId, rowKey: 'inflight' }],
    ]);
    const finished = { v: 1, kind: 'finished', deviceId: message.deviceId, actionId: message.actionId };
    await notifications.sendMessage(Buffer.from(JSON.stringify(finished), 'utf8').toString('base64'));
    await queue.deleteMessage(messageId, popReceipt);
  };
  while (processed < options.count) {
    if (active.size > options.newBatchThreshold) {
      await Promise.race(active);
      continue;
    }
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: options.batchSize,
      visibilityTimeout: options.leaseSeconds,
    });
    if (receivedMessageItems.length === 0) {
      if (active.size > 0) await Promise.race(active);
      else await sleep(100);
      continue;
    }
    for (const item of receivedMessageItems) {
      const work = processMessage(item.messageId, item.popReceipt, item.messageText);
      active.add(work);
      work.finally(() => active.delete(work)).catch(() => {});
    }
  }
  await Promise.all(active);
  if (failures > 0) process.stderr.write(`drain ceiling: ${failures} message(s) failed\n`);
  return summarise(await readActions(actions, options.prefix), startedMs, options.count);
}

/** A device gateway that accepts every apply at once (DEVICE_CHANNEL=webhook over http on 127.0.0.1). */
export async function startStubGateway(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"status":"applied"}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the stub gateway has no port');
  return { url: `http://127.0.0.1:${address.port}/apply`, server };
}
