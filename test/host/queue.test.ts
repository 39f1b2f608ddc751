import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SpawnedHost } from '../../tools/host/spawnHost';
import { buildHost, getJson, sendBase64, startSampleHost, waitFor } from './helpers';

interface QueueRecord {
  message: { tag?: string; fail?: boolean };
  dequeueCount: number;
  id: string;
  popReceipt: string;
  insertionTime: string;
  expirationTime: string;
  nextVisibleTime: string;
  metadataKeys: string[];
  dequeueCountType: string;
  startedAt: number;
  finishedAt?: number;
}
interface TimerRecord {
  fn: string;
  at: number;
  isPastDue: boolean;
  next?: string;
}

const connectionString = inject('storageConnectionString');
let script: string;
let cleanup: () => void;
let host: SpawnedHost & { queue: string };

const records = (h: SpawnedHost, tag: string) =>
  getJson<QueueRecord[]>(`${h.url}/api/records/queue`).then((all) => all.filter((r) => r.message.tag === tag));

async function queueTexts(queue: string): Promise<string[]> {
  const client = new QueueClient(connectionString, queue);
  if (!(await client.exists())) return [];
  const peeked = await client.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((m) => m.messageText);
}

beforeAll(async () => {
  ({ script, cleanup } = await buildHost());
  host = await startSampleHost({ script, connectionString, timerSchedule: '*/1 * * * * *' });
});

afterAll(async () => {
  await host?.stop();
  cleanup?.();
});

describe('local host queue triggers', () => {
  it('creates the queue at startup', async () => {
    expect(await new QueueClient(connectionString, host.queue).exists()).toBe(true);
  });

  it('delivers a base64 message parsed as JSON, with trigger metadata, and deletes it on success', async () => {
    const sent = await sendBase64(connectionString, host.queue, { tag: 'ok', n: 1 });
    const [record] = await waitFor(async () => {
      const found = await records(host, 'ok');
      return found[0]?.finishedAt ? found : undefined;
    });
    expect(record?.message).toEqual({ tag: 'ok', n: 1 });
    expect(record?.id).toBe(sent.messageId);
    expect(record?.popReceipt).toEqual(expect.any(String));
    // The real host sends exactly these entries (no "sys"); DequeueCount is a long serialized as JSON ("1"), which
    // the library parses back to a number; dates are .NET DateTimeOffset JSON strings with a +00:00 offset.
    expect(record?.metadataKeys).toEqual([
      'dequeueCount',
      'expirationTime',
      'id',
      'insertionTime',
      'nextVisibleTime',
      'popReceipt',
      'queueTrigger',
    ]);
    expect(record?.dequeueCount).toBe(1);
    expect(record?.dequeueCountType).toBe('number');
    const dotNetDate = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?\+00:00$/;
    for (const date of [record?.insertionTime, record?.expirationTime, record?.nextVisibleTime]) {
      expect(date).toMatch(dotNetDate);
    }
    expect(new Date(record?.insertionTime ?? '').getTime()).toBe(sent.insertedOn.getTime());
    expect(new Date(record?.expirationTime ?? '').getTime()).toBe(sent.expiresOn.getTime());
    expect(Number.isNaN(new Date(record?.nextVisibleTime ?? '').getTime())).toBe(false);
    await waitFor(async () => ((await queueTexts(host.queue)).length === 0 ? true : undefined), 5_000, 'deletion');
  });

  it('retries a failing message and moves it to <queue>-poison after maxDequeueCount (5) attempts', async () => {
    const body = { tag: 'poison', fail: true };
    await sendBase64(connectionString, host.queue, body);
    const poison = await waitFor(
      async () => {
        const texts = await queueTexts(`${host.queue}-poison`);
        return texts.length > 0 ? texts : undefined;
      },
      20_000,
      'the poison queue',
    );
    expect(poison.map((t) => JSON.parse(Buffer.from(t, 'base64').toString('utf8')))).toEqual([body]);
    expect((await records(host, 'poison')).map((r) => r.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    expect(await queueTexts(host.queue)).toEqual([]);
    expect(host.logs()).toMatch(/has reached MaxDequeueCount of 5\. Moving message to queue '.*-poison'/);
  });

  it('fires timer triggers on their NCRONTAB schedule and runOnStartup timers at start', async () => {
    const timers = await waitFor(
      async () => {
        const all = await getJson<TimerRecord[]>(`${host.url}/api/records/timer`);
        return all.filter((t) => t.fn === 'tick').length >= 2 ? all : undefined;
      },
      5_000,
      'two ticks',
    );
    const ticks = timers.filter((t) => t.fn === 'tick');
    expect(timers.filter((t) => t.fn === 'startupTick')).toHaveLength(1);
    for (const tick of ticks) {
      // "*/1 * * * * *" fires on whole seconds.
      expect(tick.at % 1000).toBeLessThan(500);
      expect(tick.isPastDue).toBe(false);
      expect(new Date(tick.next ?? '').getTime() % 1000).toBe(0);
    }
    expect(ticks[1]!.at - ticks[0]!.at).toBeGreaterThanOrEqual(500);
  });
});

describe('local host queue settings and shutdown', () => {
  let tuned: SpawnedHost & { queue: string };

  beforeAll(async () => {
    tuned = await startSampleHost({
      script,
      connectionString,
      env: {
        AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '2',
        LOCAL_FUNCTIONS_HOST_QUEUE_LEASE_SECONDS: '2',
      },
    });
  });
  afterAll(async () => {
    await tuned?.stop();
  });

  it('takes maxDequeueCount from an AzureFunctionsJobHost__ override', async () => {
    await sendBase64(connectionString, tuned.queue, { tag: 'override', fail: true });
    await waitFor(async () => ((await queueTexts(`${tuned.queue}-poison`)).length > 0 ? true : undefined), 15_000);
    expect((await records(tuned, 'override')).map((r) => r.dequeueCount)).toEqual([1, 2]);
  });

  it('renews the message lease while a long invocation runs, so it is not redelivered', async () => {
    await sendBase64(connectionString, tuned.queue, { tag: 'lease', sleepMs: 5_000 });
    const [record] = await waitFor(async () => {
      const found = await records(tuned, 'lease');
      return found[0]?.finishedAt ? found : undefined;
    }, 15_000);
    expect(record?.dequeueCount).toBe(1);
    // Timers may fire a millisecond early by Date.now(); what matters is that the run outlived the 2 s lease twice.
    expect((record?.finishedAt ?? 0) - (record?.startedAt ?? 0)).toBeGreaterThanOrEqual(4_900);
    // The 2 s lease expired twice over without renewal; the message would have run again.
    expect(await records(tuned, 'lease')).toHaveLength(1);
    await waitFor(async () => ((await queueTexts(tuned.queue)).length === 0 ? true : undefined), 5_000, 'deletion');
  });

  it('on SIGTERM stops polling but finishes and deletes the message being processed', async () => {
    await sendBase64(connectionString, tuned.queue, { tag: 'shutdown', sleepMs: 1_500 });
    await waitFor(async () => ((await records(tuned, 'shutdown')).length > 0 ? true : undefined), 10_000);
    await tuned.stop();
    expect(await tuned.exited).toBe(0);
    const logs = tuned.logs();
    expect(logs.indexOf("Executed 'Functions.queueWorker' (Succeeded")).toBeLessThan(
      logs.indexOf('SAMPLE appTerminate hook ran'),
    );
    expect(await queueTexts(tuned.queue)).toEqual([]);
    expect(await queueTexts(`${tuned.queue}-poison`)).toHaveLength(1);
  });
});
