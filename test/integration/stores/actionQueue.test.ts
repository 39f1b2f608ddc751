import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureQueue, queueClient, StorageActionQueue } from '../../../lib/adapters/storageActionQueue';
import { ResetMessageSchema } from '../../../lib/core/model';
import { MemoryQueue } from '../../support/memoryStores';
import { describeActionQueueContract } from '../../support/storeContracts';

// Queue names: 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit.
let n = 0;
const queueName = () => `q-${Date.now().toString(36)}-${++n}`;

/** Decodes a received message the way the Functions queue trigger does (messageEncoding base64). */
const decode = (text: string) => JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as unknown;

async function drain(client: QueueClient): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return texts;
    for (const item of receivedMessageItems) {
      texts.push(item.messageText);
      await client.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

describeActionQueueContract('MemoryQueue', async () => {
  const subject = new MemoryQueue();
  return { subject, receive: async () => subject.messages.splice(0) };
});

/** The app's client for a new queue, and an SDK client of the same queue to read it as the host does. */
async function newQueue() {
  const name = queueName();
  const client = queueClient(inject('storageConnectionString'), name);
  await ensureQueue(client);
  return { client, sdk: new QueueClient(inject('storageConnectionString'), name) };
}

describeActionQueueContract('StorageActionQueue on Azurite', async () => {
  const { client, sdk } = await newQueue();
  return {
    subject: new StorageActionQueue(client),
    receive: async () => (await drain(sdk)).map((text) => ResetMessageSchema.parse(decode(text))),
    dispose: async () => {
      await sdk.delete();
    },
  };
});

describe('StorageActionQueue on Azurite: the wire format', () => {
  let queue: Awaited<ReturnType<typeof newQueue>>;
  beforeAll(async () => {
    queue = await newQueue();
  });
  afterAll(async () => {
    await queue.sdk.delete();
  });

  it('puts base64 of the JSON {v, actionId, deviceId} on the queue, with no passcode', async () => {
    const message = { v: 1 as const, actionId: '8235-00ab', deviceId: 'device-1' };
    await new StorageActionQueue(queue.client).enqueue(message);

    const [text] = await drain(queue.sdk);
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(text).toBe(Buffer.from(JSON.stringify(message), 'utf8').toString('base64'));
    const decoded = decode(text ?? '');
    expect(decoded).toEqual(message);
    expect(Object.keys(decoded as object).sort()).toEqual(['actionId', 'deviceId', 'v']);
    expect(JSON.stringify(decoded)).not.toMatch(/passcode/i);
  });

  it('keeps a delayed message invisible until its delay has passed', async () => {
    const actions = new StorageActionQueue(queue.client);
    await actions.enqueue({ v: 1, actionId: 'delayed', deviceId: 'device-1' }, { delaySeconds: 60 });
    await actions.enqueue({ v: 1, actionId: 'now', deviceId: 'device-1' });

    const visible = (await drain(queue.sdk)).map((text) => ResetMessageSchema.parse(decode(text)).actionId);
    expect(visible).toEqual(['now']);
    const { approximateMessagesCount } = await queue.sdk.getProperties();
    expect(approximateMessagesCount).toBe(1);
  });
});
