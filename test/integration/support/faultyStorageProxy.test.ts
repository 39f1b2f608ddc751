import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  QueueClient,
  StorageSharedKeyCredential,
} from '@azure/storage-queue';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectionStringParts, serviceEndpoint } from '../../../lib/adapters/connectionString';
import { ensureQueue, queueClient } from '../../../lib/adapters/storageActionQueue';
import { isTransientStorageError, storageStatus } from '../../../lib/adapters/storageErrors';
import {
  decideFault,
  type FaultKind,
  type FaultRates,
  type FaultyStorageProxy,
  type FaultyStorageProxyOptions,
  mulberry32,
  startFaultyStorageProxy,
  validateRates,
} from '../../support/faultyStorageProxy';

// Table names: letters and digits only; queue and container names: lower case, digits and hyphens. Unique per run.
let n = 0;
const suffix = () => `${Date.now().toString(36)}${randomBytes(3).toString('hex')}${++n}`;
const tableName = () => `proxy${suffix()}`;
const queueName = () => `proxy-${suffix()}`;

const NONE: FaultRates = { drop: 0, hang: 0, unavailable: 0, late: 0 };

/** Bounds every try of a Tables client, as the app's storageTimeoutPolicy does with 5 s, but shorter. */
const perTryTimeout = (ms: number): PipelinePolicy => ({
  name: 'testPerTryTimeout',
  sendRequest(request, next) {
    request.timeout = ms;
    return next(request);
  },
});

/** A Tables client through `connectionString` that never retries (each call is one request the proxy sees). */
const tableThrough = (connectionString: string, name: string, timeoutMs?: number) =>
  TableClient.fromConnectionString(connectionString, name, {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
    additionalPolicies: timeoutMs === undefined ? [] : [{ policy: perTryTimeout(timeoutMs), position: 'perRetry' }],
  });

/** Whether an entity exists, read straight from Azurite. */
async function exists(table: TableClient, partitionKey: string, rowKey: string): Promise<boolean> {
  try {
    await table.getEntity(partitionKey, rowKey);
    return true;
  } catch (error) {
    if (storageStatus(error) === 404) return false;
    throw error;
  }
}

/** Polls until `check` holds (a late or hung write lands a little after the client gave up). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(50);
  }
}

/** What a rejected promise threw (fails the test if it resolved). */
async function failure(promise: Promise<unknown>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { statusCode?: number; code?: string };
  }
  throw new Error('expected the call to fail');
}

/**
 * One Blob service request (there is no blob SDK among the dependencies; the Functions host's lease traffic is what
 * goes through this listener in the chaos test), authorized with an account SAS that the queue SDK signs.
 */
function blobRequest(connectionString: string, method: string, path: string): Promise<number> {
  const parts = connectionStringParts(connectionString);
  const credential = new StorageSharedKeyCredential(parts.get('accountname') ?? '', parts.get('accountkey') ?? '');
  const sas = generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3_600_000),
      permissions: AccountSASPermissions.parse('rwdlc'),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    credential,
  ).toString();
  const url = `${serviceEndpoint(parts, 'blob')}${path}${path.includes('?') ? '&' : '?'}${sas}`;
  const headers = { 'content-length': '0' };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('faultyStorageProxy', () => {
  let azurite: string;
  let proxy: FaultyStorageProxy | undefined;
  const start = async (options: Omit<FaultyStorageProxyOptions, 'azuriteConnectionString'> = {}) => {
    proxy = await startFaultyStorageProxy({ azuriteConnectionString: azurite, ...options });
    return proxy;
  };
  /** A new table, created straight in Azurite so that only the call under test goes through the proxy. */
  const newTable = async () => {
    const name = tableName();
    const direct = tableThrough(azurite, name);
    await direct.createTable();
    return { name, direct };
  };

  beforeAll(() => {
    azurite = inject('storageConnectionString');
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  it('points all three endpoints at its own ports, keeping the account, key and path', async () => {
    const { connectionString } = await start();
    const original = connectionStringParts(azurite);
    const proxied = connectionStringParts(connectionString);
    expect(proxied.get('accountname')).toBe(original.get('accountname'));
    expect(proxied.get('accountkey')).toBe(original.get('accountkey'));
    for (const service of ['blob', 'queue', 'table'] as const) {
      const via = new URL(serviceEndpoint(proxied, service) ?? '');
      const to = new URL(serviceEndpoint(original, service) ?? '');
      expect(via.hostname).toBe('127.0.0.1');
      expect(via.port).not.toBe(to.port);
      expect(via.pathname).toBe(to.pathname);
    }
  });

  it('with faults off, forwards tables, batches, queues and blobs (signatures still valid)', async () => {
    const { connectionString, stats } = await start();
    const name = tableName();
    const table = tableThrough(connectionString, name);
    // The client's Host reaches Azurite unchanged, so the self-links it writes name the proxy.
    const bodies: string[] = [];
    await table.createTable({
      onResponse: (response) => {
        bodies.push(response.bodyAsText ?? '');
      },
    });
    const { port } = new URL(serviceEndpoint(connectionStringParts(connectionString), 'table') ?? '');
    expect(JSON.parse(bodies[0] ?? '{}')['odata.metadata']).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
    await table.createEntity({ partitionKey: 'p', rowKey: 'a', value: 'one' });
    expect((await table.getEntity<{ value: string }>('p', 'a')).value).toBe('one');
    const batch: TransactionAction[] = [
      ['create', { partitionKey: 'p', rowKey: 'b', value: 'two' }],
      ['upsert', { partitionKey: 'p', rowKey: 'c', value: 'three' }],
      ['delete', { partitionKey: 'p', rowKey: 'a' }],
    ];
    const transaction = await table.submitTransaction(batch);
    expect(transaction.status).toBe(202);
    expect(transaction.subResponses.map((sub) => sub.status)).toEqual([204, 204, 204]);
    const rows: string[] = [];
    for await (const entity of table.listEntities()) rows.push(entity.rowKey ?? '');
    expect(rows).toEqual(['b', 'c']);
    await table.deleteEntity('p', 'b');
    await table.deleteTable();

    const queue = new QueueClient(connectionString, queueName(), { retryOptions: { maxTries: 1 } });
    await queue.create();
    await queue.sendMessage('hello');
    const { receivedMessageItems } = await queue.receiveMessages();
    expect(receivedMessageItems.map((item) => item.messageText)).toEqual(['hello']);
    const [item] = receivedMessageItems;
    await queue.deleteMessage(item?.messageId ?? '', item?.popReceipt ?? '');
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    await queue.delete();

    // The app's own queue client (the SDK with the app's retries and per-try timeout).
    const appQueue = queueClient(connectionString, queueName());
    await ensureQueue(appQueue);
    await (await appQueue.client()).sendMessage('aGVsbG8=');

    const container = `/${queueName()}`;
    expect(await blobRequest(connectionString, 'PUT', `${container}?restype=container`)).toBe(201);
    expect(await blobRequest(connectionString, 'DELETE', `${container}?restype=container`)).toBe(202);

    const counted = stats();
    expect(counted.faults).toEqual(NONE);
    expect(counted.requests).toBe(counted.forwarded);
    expect(counted.byService.table?.requests).toBe(7);
    expect(counted.byService.queue?.requests).toBe(8);
    expect(counted.byService.blob?.requests).toBe(2);
    expect(counted.requests).toBe(17);
    expect(counted.byMethod.DELETE?.requests).toBe(5);
  });

  it('drop: Azurite commits the write, the client sees a reset connection', async () => {
    const { direct, name } = await newTable();
    const { connectionString, stats } = await start({ rates: { drop: 1 } });
    const error = await failure(tableThrough(connectionString, name).createEntity({ partitionKey: 'p', rowKey: 'r' }));
    // A network error: no status, which the app counts as transient.
    expect(error.name).toBe('RestError');
    expect(error.statusCode).toBeUndefined();
    expect(error.code).toBe('ECONNRESET');
    expect(isTransientStorageError(error)).toBe(true);
    expect(await exists(direct, 'p', 'r')).toBe(true);
    expect(stats().faults).toEqual({ ...NONE, drop: 1 });
  });

  it('drop and unavailable on Tables batches; a reset affects only the dropped request', async () => {
    const { direct, name } = await newTable();
    // Faults only on batches and DELETEs: the concurrent reads on the same client's keep-alive pool must not notice.
    const { connectionString, setRates, stats } = await start({
      rates: { drop: 1 },
      only: (r) => r.method === 'DELETE' || r.path.endsWith('/$batch'),
    });
    const table = tableThrough(connectionString, name);
    const dropped = await failure(
      table.submitTransaction([
        ['create', { partitionKey: 'p', rowKey: 'a' }],
        ['create', { partitionKey: 'p', rowKey: 'b' }],
      ]),
    );
    expect(dropped.code).toBe('ECONNRESET');
    expect(await exists(direct, 'p', 'a')).toBe(true);
    expect(await exists(direct, 'p', 'b')).toBe(true);

    const [deleted, ...reads] = await Promise.allSettled([
      table.deleteEntity('p', 'a'),
      ...Array.from({ length: 5 }, () => table.getEntity('p', 'b')),
    ]);
    expect(deleted?.status).toBe('rejected');
    expect(reads.map((read) => read.status)).toEqual(Array(5).fill('fulfilled'));
    expect(await exists(direct, 'p', 'a')).toBe(false);
    // The client's next requests go on as usual.
    await table.getEntity('p', 'b');

    setRates({ drop: 0, unavailable: 1 });
    const busy = await failure(table.submitTransaction([['delete', { partitionKey: 'p', rowKey: 'b' }]]));
    expect(busy.statusCode).toBe(503);
    expect(busy.message).toMatch(/^The server is currently unable to receive requests/);
    expect(await exists(direct, 'p', 'b')).toBe(true);
    expect(stats().faults).toEqual({ ...NONE, drop: 2, unavailable: 1 });
  });

  it('unavailable: a 503 ServerBusy at once, nothing written (tables, queues, blobs)', async () => {
    const { direct, name } = await newTable();
    const queue = queueName();
    const directQueue = new QueueClient(azurite, queue);
    await directQueue.create();
    const { connectionString, stats } = await start({ rates: { unavailable: 1 } });

    const tableError = await failure(
      tableThrough(connectionString, name).createEntity({ partitionKey: 'p', rowKey: 'r' }),
    );
    expect(tableError.name).toBe('RestError');
    expect(tableError.statusCode).toBe(503);
    expect(tableError.message).toContain('ServerBusy');
    expect(await exists(direct, 'p', 'r')).toBe(false);

    const sdkQueue = new QueueClient(connectionString, queue, { retryOptions: { maxTries: 1 } });
    const queueError = await failure(sdkQueue.sendMessage('x'));
    expect(queueError.statusCode).toBe(503);
    expect(queueError.code).toBe('ServerBusy');

    // The app's queue client retries (3 tries) and then reports a transient failure.
    const appError = await failure((await queueClient(connectionString, queue).client()).sendMessage('eA=='));
    expect(storageStatus(appError)).toBe(503);
    expect(isTransientStorageError(appError)).toBe(true);
    expect((await directQueue.getProperties()).approximateMessagesCount).toBe(0);

    expect(await blobRequest(connectionString, 'PUT', `/${queueName()}?restype=container`)).toBe(503);
    expect(stats()).toMatchObject({
      requests: 6,
      forwarded: 0,
      faults: { ...NONE, unavailable: 6 },
      byService: {
        table: { requests: 1, faults: 1 },
        queue: { requests: 4, faults: 4 },
        blob: { requests: 1, faults: 1 },
      },
    });
    await directQueue.delete();
  });

  it('only: requests outside the filter pass cleanly (e.g. the host blob leases)', async () => {
    const { connectionString, stats } = await start({ rates: { unavailable: 1 }, only: (r) => r.service !== 'blob' });
    const container = `/${queueName()}`;
    expect(await blobRequest(connectionString, 'PUT', `${container}?restype=container`)).toBe(201);
    expect(await blobRequest(connectionString, 'DELETE', `${container}?restype=container`)).toBe(202);
    const queue = new QueueClient(connectionString, queueName(), { retryOptions: { maxTries: 1 } });
    expect((await failure(queue.create())).statusCode).toBe(503);
    expect(stats()).toMatchObject({ requests: 3, forwarded: 2, faults: { unavailable: 1 } });
  });

  it('late: the client times out first, the write lands afterwards', async () => {
    const { direct, name } = await newTable();
    const { connectionString, stats } = await start({ rates: { late: 1 }, lateMs: 1_000 });
    const began = Date.now();
    const error = await failure(
      tableThrough(connectionString, name, 150).createEntity({ partitionKey: 'p', rowKey: 'r' }),
    );
    expect(error.name).toBe('AbortError');
    expect(Date.now() - began).toBeLessThan(900);
    // Still held back by the proxy: not there yet.
    expect(await exists(direct, 'p', 'r')).toBe(false);
    expect(await eventually(() => exists(direct, 'p', 'r'))).toBe(true);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_000);
    expect(stats()).toMatchObject({ requests: 1, forwarded: 1, faults: { late: 1 } });
  });

  it('late: a patient client gets the answer after the delay', async () => {
    const { name } = await newTable();
    const { connectionString } = await start({ rates: { late: 1 }, lateMs: 300 });
    const began = Date.now();
    await tableThrough(connectionString, name).createEntity({ partitionKey: 'p', rowKey: 'r' });
    expect(Date.now() - began).toBeGreaterThanOrEqual(300);
  });

  it('hang: the write commits, the answer never comes, the client times out', async () => {
    const { direct, name } = await newTable();
    const { connectionString, stats } = await start({ rates: { hang: 1 } });
    const error = await failure(
      tableThrough(connectionString, name, 500).createEntity({ partitionKey: 'p', rowKey: 'r' }),
    );
    expect(error.name).toBe('AbortError');
    expect(await exists(direct, 'p', 'r')).toBe(true);
    expect(stats().faults).toEqual({ ...NONE, hang: 1 });
  });

  it('stop() closes hung connections: the waiting client fails instead of waiting for ever', async () => {
    const { name } = await newTable();
    const running = await start({ rates: { hang: 1 } });
    const pending = failure(
      tableThrough(running.connectionString, name).createEntity({ partitionKey: 'p', rowKey: 'r' }),
    );
    await eventually(async () => running.stats().faults.hang === 1);
    await sleep(100);
    await running.stop();
    expect((await pending).name).toBe('RestError');
  });

  it('setRates turns faults on and off while running', async () => {
    const { name } = await newTable();
    const { connectionString, setRates, stats } = await start({ seed: 7 });
    const table = tableThrough(connectionString, name);
    await table.createEntity({ partitionKey: 'p', rowKey: '1' });
    setRates({ unavailable: 1 });
    expect((await failure(table.createEntity({ partitionKey: 'p', rowKey: '2' }))).statusCode).toBe(503);
    setRates(NONE);
    await table.createEntity({ partitionKey: 'p', rowKey: '3' });
    expect(() => setRates({ drop: 0.6, hang: 0.6 })).toThrow(RangeError);
    expect(stats()).toMatchObject({ requests: 3, forwarded: 2, faults: { unavailable: 1 } });
  });

  it('replays: the same seed gives the same faults for the same requests', async () => {
    const { name } = await newTable();
    const outcomes = async (seed: number) => {
      const running = await start({ seed, rates: { unavailable: 0.5 } });
      const table = tableThrough(running.connectionString, name);
      const seen: number[] = [];
      for (let i = 0; i < 16; i++) {
        try {
          await table.getEntity('p', 'missing');
        } catch (error) {
          seen.push(storageStatus(error) ?? 0);
        }
      }
      expect(running.seed).toBe(seed);
      await running.stop();
      return seen;
    };
    const first = await outcomes(42);
    expect(first).toContain(503);
    expect(first).toContain(404);
    expect(await outcomes(42)).toEqual(first);
    expect(await outcomes(43)).not.toEqual(first);
  });
});

describe('decideFault', () => {
  const decisions = (seed: number, rates: FaultRates, count: number) => {
    const random = mulberry32(seed);
    return Array.from({ length: count }, () => decideFault(random, rates));
  };

  it('is deterministic for a seed, and differs between seeds', () => {
    const rates = { drop: 0.1, hang: 0.1, unavailable: 0.1, late: 0.1 };
    expect(decisions(1234, rates, 200)).toEqual(decisions(1234, rates, 200));
    expect(decisions(1234, rates, 200)).not.toEqual(decisions(1235, rates, 200));
  });

  it('draws once per request even with faults off, so later decisions do not shift', () => {
    const rates = { drop: 0.25, hang: 0.25, unavailable: 0.25, late: 0.25 };
    const random = mulberry32(99);
    const mixed = [
      ...Array.from({ length: 10 }, () => decideFault(random, rates)),
      ...Array.from({ length: 10 }, () => decideFault(random, NONE)),
      ...Array.from({ length: 10 }, () => decideFault(random, rates)),
    ];
    expect(mixed.slice(10, 20)).toEqual(Array(10).fill(undefined));
    const all = decisions(99, rates, 30);
    expect(mixed.slice(0, 10)).toEqual(all.slice(0, 10));
    expect(mixed.slice(20)).toEqual(all.slice(20));
  });

  it('follows the rates', () => {
    const counts = new Map<FaultKind | undefined, number>();
    for (const kind of decisions(5, { drop: 0.1, hang: 0.2, unavailable: 0.3, late: 0 }, 20_000)) {
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    expect((counts.get('drop') ?? 0) / 20_000).toBeCloseTo(0.1, 1);
    expect((counts.get('hang') ?? 0) / 20_000).toBeCloseTo(0.2, 1);
    expect((counts.get('unavailable') ?? 0) / 20_000).toBeCloseTo(0.3, 1);
    expect(counts.get('late')).toBeUndefined();
    expect((counts.get(undefined) ?? 0) / 20_000).toBeCloseTo(0.4, 1);
  });

  it('refuses rates outside 0..1 or summing above 1', () => {
    expect(() => validateRates({ ...NONE, drop: -0.1 })).toThrow(RangeError);
    expect(() => validateRates({ ...NONE, late: Number.NaN })).toThrow(RangeError);
    expect(() => validateRates({ drop: 0.5, hang: 0.5, unavailable: 0.1, late: 0 })).toThrow(RangeError);
    expect(validateRates({ drop: 0.1, hang: 0.2, unavailable: 0.7, late: 0 })).toEqual({
      drop: 0.1,
      hang: 0.2,
      unavailable: 0.7,
      late: 0,
    });
  });
});
