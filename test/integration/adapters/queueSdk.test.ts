import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ensureQueue,
  queueClient,
  StorageActionQueue,
  StorageMessageQueue,
  type StorageQueue,
} from '../../../lib/adapters/storageActionQueue';
import { PER_TRY_MS, withinBudget } from '../../../lib/adapters/storageDeadline';
import { isTransientStorageError, storageStatus } from '../../../lib/adapters/storageErrors';
import { StorageUnavailableError, TransientError } from '../../../lib/core/errors';
import { ResetMessageSchema } from '../../../lib/core/model';
import { type Azurite, startAzurite } from '../../../tools/azurite';

// Queue names: 3-63 lower-case letters, digits and single hyphens; unique per run so files never share state.
let n = 0;
const queueName = () => `qsdk-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}-${++n}`;

const message = (actionId: string) => ({ v: 1 as const, actionId, deviceId: 'device-1' });

/** Decodes a message as the Functions queue trigger does with messageEncoding base64 (host.json). */
const asTriggerDecodes = (text: string) =>
  ResetMessageSchema.parse(JSON.parse(Buffer.from(text, 'base64').toString('utf8')));

/** The texts of the messages visible now, read with the SDK as the host reads them, without taking them. */
async function peek(sdk: QueueClient): Promise<string[]> {
  const { peekedMessageItems } = await sdk.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((item) => item.messageText);
}

describe('the queue client on Azurite (@azure/storage-queue, Shared Key)', () => {
  let connectionString: string;
  const made: QueueClient[] = [];
  /** The app's client and an SDK client of a new queue name (not created). */
  const newQueue = () => {
    const name = queueName();
    const sdk = new QueueClient(connectionString, name);
    made.push(sdk);
    return { name, client: queueClient(connectionString, name), sdk };
  };

  beforeAll(() => {
    connectionString = inject('storageConnectionString');
  });
  afterAll(async () => {
    await Promise.all(made.map((sdk) => sdk.deleteIfExists()));
  });

  it('creates a missing queue, and ensureQueue is idempotent', async () => {
    const { client, sdk } = newQueue();
    expect(await sdk.exists()).toBe(false);
    await ensureQueue(client);
    await ensureQueue(client);
    expect(await sdk.exists()).toBe(true);
  });

  it('builds the SDK client once per queue', async () => {
    const { client } = newQueue();
    const [first, second] = await Promise.all([client.client(), client.client()]);
    expect(first).toBe(second);
    expect(first.url).toBe(new QueueClient(connectionString, client.name).url);
  });

  it('sends a message visible at once, and one with a delay that stays invisible until the delay has passed', async () => {
    const { client, sdk } = newQueue();
    await ensureQueue(client);
    const queue = new StorageActionQueue(client);
    const sentAt = Date.now();
    await queue.enqueue(message('later'), { delaySeconds: 2 });
    await queue.enqueue(message('now'));

    const first = (await peek(sdk)).map((text) => asTriggerDecodes(text).actionId);
    // Only meaningful if the peek really came before the delay ran out (a very slow machine could miss it).
    if (Date.now() - sentAt < 2_000) expect(first).toEqual(['now']);
    expect((await sdk.getProperties()).approximateMessagesCount).toBe(2);

    let visible: string[] = [];
    for (let waited = 0; waited < 20_000 && visible.length < 2; waited += 250) {
      await sleep(250);
      visible = (await peek(sdk)).map((text) => asTriggerDecodes(text).actionId);
    }
    expect(visible.sort()).toEqual(['later', 'now']);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(2_000);
  });

  it('round-trips the JSON message as base64, the way the queue trigger decodes it', async () => {
    const { client, sdk } = newQueue();
    await ensureQueue(client);
    const sent = { v: 1 as const, actionId: '8235-00ab', deviceId: 'device-1' };
    await new StorageActionQueue(client).enqueue(sent);
    // Any JSON, characters XML or base64 would mangle included (a notification message carries free text).
    const other = { text: 'a < b && c > "d" ü €', n: 1 };
    await new StorageMessageQueue<typeof other>(client).enqueue(other);

    const { receivedMessageItems } = await sdk.receiveMessages({ numberOfMessages: 2 });
    const [first = '', second = ''] = receivedMessageItems.map((item) => item.messageText);
    expect(first).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(asTriggerDecodes(first)).toEqual(sent);
    expect(JSON.parse(Buffer.from(second, 'base64').toString('utf8'))).toEqual(other);
  });

  it('puts text that needs XML escaping as it was given', async () => {
    const { client, sdk } = newQueue();
    await ensureQueue(client);
    await (await client.client()).sendMessage('a < b && c > "d"');
    expect(await peek(sdk)).toEqual(['a < b && c > "d"']);
  });

  it('refuses a visibility timeout outside 0 to 7 days before sending anything', async () => {
    const seen: string[] = [];
    const queue = new StorageActionQueue(
      queueClient(connectionString, queueName(), (request) => seen.push(request.url)),
    );
    await expect(queue.enqueue(message('late'), { delaySeconds: 7 * 24 * 3600 + 1 })).rejects.toThrow(RangeError);
    await expect(queue.enqueue(message('part'), { delaySeconds: 1.5 })).rejects.toThrow(RangeError);
    await expect(queue.enqueue(message('past'), { delaySeconds: -1 })).rejects.toThrow(RangeError);
    expect(seen).toEqual([]);
  });

  it('passes each call to the observer once, before its retries', async () => {
    const seen: { method: string; url: string }[] = [];
    const name = queueName();
    const client = queueClient(connectionString, name, (request) =>
      seen.push({ method: request.method, url: request.url }),
    );
    made.push(new QueueClient(connectionString, name));
    await ensureQueue(client);
    await new StorageActionQueue(client).enqueue(message('observed'), { delaySeconds: 30 });
    const { url } = await client.client();
    expect(seen).toEqual([
      { method: 'PUT', url },
      { method: 'POST', url: `${url}/messages?visibilitytimeout=30` },
    ]);
  });

  it('fails with a non-transient 403 on a wrong account key, and never shows the key', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const wrong = connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`);
    const client = queueClient(wrong, queueName());

    const created = await ensureQueue(client).catch((error: unknown) => error);
    expect(storageStatus(created)).toBe(403);
    expect(isTransientStorageError(created)).toBe(false);

    const sent = await new StorageActionQueue(client).enqueue(message('denied')).catch((error: unknown) => error);
    expect(sent).toBeInstanceOf(Error);
    expect(sent).not.toBeInstanceOf(TransientError);
    expect(storageStatus(sent)).toBe(403);
    // The service's error code, as the SDK reads it from the response (x-ms-error-code).
    expect(sent).toMatchObject({ code: 'AuthenticationFailed' });
    const shown = `${String(sent)} ${JSON.stringify(sent)} ${sent instanceof Error ? sent.stack : ''}`;
    expect(shown).not.toContain(wrongKey);
    expect(shown).not.toContain(wrongKey.slice(0, 20));
  });

  it('fails with a non-transient 404 when the queue does not exist', async () => {
    const sent = await new StorageActionQueue(queueClient(connectionString, queueName()))
      .enqueue(message('nowhere'))
      .catch((error: unknown) => error);
    expect(storageStatus(sent)).toBe(404);
    expect(sent).not.toBeInstanceOf(TransientError);
  });
});

describe('the queue client when storage is out', () => {
  let azurite: Azurite;
  let client: StorageQueue;

  beforeAll(async () => {
    azurite = await startAzurite();
    client = queueClient(azurite.connectionString, queueName());
    await ensureQueue(client);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('answers StorageUnavailableError within the deadline while Azurite does not answer (paused)', async () => {
    azurite.pause();
    try {
      const started = Date.now();
      const sent = await withinBudget(1_500, () => new StorageActionQueue(client).enqueue(message('paused'))).catch(
        (error: unknown) => error,
      );
      expect(sent).toBeInstanceOf(StorageUnavailableError);
      // The budget, plus room for a loaded machine; without the deadline the three 5 s tries would take 15 s.
      expect(Date.now() - started).toBeLessThan(1_500 + 4_000);
    } finally {
      azurite.resume();
    }
    // Once it answers again, the same client works.
    await new StorageActionQueue(client).enqueue(message('resumed'));
  });

  it('bounds every try without a deadline too: transient after the three tries, not a hang', async () => {
    const sdk = await client.client();
    azurite.pause();
    try {
      const started = Date.now();
      const sent = await sdk.sendMessage('x').catch((error: unknown) => error);
      const took = Date.now() - started;
      expect(isTransientStorageError(sent)).toBe(true);
      expect(storageStatus(sent)).toBeUndefined();
      // Each timed-out try is retried (a per-try AbortError would not be): three tries of PER_TRY_MS each.
      expect(took).toBeGreaterThanOrEqual(3 * PER_TRY_MS - 50);
      expect(took).toBeLessThan(3 * PER_TRY_MS + 10_000);
    } finally {
      azurite.resume();
    }
  }, 40_000);

  it('answers StorageUnavailableError when Azurite is stopped (connection refused)', async () => {
    await azurite.stop();
    const sent = await new StorageActionQueue(client).enqueue(message('stopped')).catch((error: unknown) => error);
    expect(sent).toBeInstanceOf(StorageUnavailableError);
  });
});

describe('the queue client on an identity-based connection', () => {
  it('refuses to send a bearer token over plain http', async () => {
    let asked = 0;
    const credential = {
      getToken: async () => {
        asked++;
        return { token: 'not-a-real-token', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const queue = queueClient(
      { kind: 'identity', queueServiceUri: 'http://127.0.0.1:1/devstoreaccount1', credential },
      'q',
    );
    await expect(new StorageActionQueue(queue).enqueue(message('plain'))).rejects.toThrow(/https/i);
    expect(asked).toBe(0);
  });
});

describe('the queue client on a connection string with a plain http endpoint', () => {
  const key = randomBytes(64).toString('base64');
  const at = (endpoint: string) =>
    `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};QueueEndpoint=${endpoint}`;

  it('refuses it for any host but Azurite on this machine, before sending anything', async () => {
    const seen: string[] = [];
    const queue = queueClient(at('http://storage.example.com/devstoreaccount1'), 'q', (request) =>
      seen.push(request.url),
    );
    const sent = await new StorageActionQueue(queue).enqueue(message('plain')).catch((error: unknown) => error);
    expect(sent).toBeInstanceOf(Error);
    expect(String(sent)).toMatch(/must be https .*http:\/\/storage\.example\.com/);
    expect(String(sent)).not.toContain(key);
    expect(seen).toEqual([]);
  });

  it('sends to 127.0.0.1 and localhost over http (Azurite), as the Tables clients do', async () => {
    // Port 1 refuses the connection: the request was sent, and the failure is a transient one.
    for (const host of ['127.0.0.1', 'localhost']) {
      const seen: string[] = [];
      const queue = queueClient(at(`http://${host}:1/devstoreaccount1`), 'q', (request) => seen.push(request.url));
      const sent = await new StorageActionQueue(queue).enqueue(message('local')).catch((error: unknown) => error);
      expect(sent).toBeInstanceOf(StorageUnavailableError);
      expect(seen).toEqual([`http://${host}:1/devstoreaccount1/q/messages`]);
    }
  });
});
