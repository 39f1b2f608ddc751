import { newPipeline, QueueClient, StorageSharedKeyCredential } from '@azure/storage-queue';
import type { ResetMessage } from '../core/model';
import type { ActionQueue, NotificationMessage, NotificationQueue } from '../ports';
import { QUEUE_RETRY_OPTIONS } from './storageDeadline';
import { storageStatus, translateStorageError } from './storageErrors';
import type { StorageRequestObserver } from './tableClients';

/** A QueueClient for a connection string (Azurite's http endpoint included). */
export function queueClient(
  connectionString: string,
  queueName: string,
  observe?: StorageRequestObserver,
): QueueClient {
  const client = new QueueClient(connectionString, queueName, { retryOptions: QUEUE_RETRY_OPTIONS });
  if (!observe) return client;
  // The queue SDK takes extra policies only as factories of a pipeline built from a credential (it re-adds
  // `additionalPolicies` for every sub-client it makes), so rebuild the client on such a pipeline.
  const key = /(?:^|;)AccountKey=([^;]+)/.exec(connectionString)?.[1];
  if (!key) throw new Error('observing queue requests needs a connection string with an AccountKey');
  const pipeline = newPipeline(new StorageSharedKeyCredential(client.accountName, key), {
    retryOptions: QUEUE_RETRY_OPTIONS,
  });
  pipeline.factories.push({
    create: (next) => ({
      sendRequest: (request) => {
        observe(request);
        return next.sendRequest(request);
      },
    }),
  });
  return new QueueClient(client.url, pipeline);
}

/** Creates the queue if it is missing (start-up and tests; not on the request path). */
export async function ensureQueue(client: QueueClient): Promise<void> {
  try {
    await client.createIfNotExists();
  } catch (error) {
    if (storageStatus(error) !== 409) throw error;
  }
}

/**
 * A queue of JSON messages on Azure Queue Storage (the reset queue, the notification queue). The Functions queue
 * trigger decodes base64 by default (host.json extensions.queues.messageEncoding), while the SDK sends text as is:
 * encode here.
 */
export class StorageMessageQueue<M> {
  constructor(private readonly queue: QueueClient) {}

  async enqueue(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
    const text = Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
    try {
      await this.queue.sendMessage(text, options.delaySeconds ? { visibilityTimeout: options.delaySeconds } : {});
    } catch (error) {
      translateStorageError(error);
    }
  }
}

/** The reset queue. */
export class StorageActionQueue extends StorageMessageQueue<ResetMessage> implements ActionQueue {}

/** The notification queue. */
export class StorageNotificationQueue extends StorageMessageQueue<NotificationMessage> implements NotificationQueue {}
