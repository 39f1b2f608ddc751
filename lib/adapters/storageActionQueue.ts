import type { TokenCredential } from '@azure/identity';
import { newPipeline, QueueClient, StorageSharedKeyCredential } from '@azure/storage-queue';
import type { ResetMessage } from '../core/model';
import type { ActionQueue, NotificationMessage, NotificationQueue } from '../ports';
import { asConnection, type StorageConnection } from './storageConnection';
import { QUEUE_RETRY_OPTIONS } from './storageDeadline';
import { storageStatus, translateStorageError } from './storageErrors';
import type { StorageRequestObserver } from './tableClients';

/** A QueueClient for a connection string (Azurite's http endpoint included) or an identity-based connection. */
export function queueClient(
  connection: StorageConnection | string,
  queueName: string,
  observe?: StorageRequestObserver,
): QueueClient {
  const resolved = asConnection(connection);
  if (resolved.kind === 'identity') {
    if (!resolved.queueServiceUri) throw new Error('the storage connection has no queue service URI');
    const url = `${resolved.queueServiceUri}/${queueName}`;
    return observe
      ? new QueueClient(url, observedPipeline(resolved.credential, observe))
      : new QueueClient(url, resolved.credential, { retryOptions: QUEUE_RETRY_OPTIONS });
  }
  const { connectionString } = resolved;
  const client = new QueueClient(connectionString, queueName, { retryOptions: QUEUE_RETRY_OPTIONS });
  if (!observe) return client;
  const key = /(?:^|;)AccountKey=([^;]+)/.exec(connectionString)?.[1];
  if (!key) throw new Error('observing queue requests needs a connection string with an AccountKey');
  return new QueueClient(
    client.url,
    observedPipeline(new StorageSharedKeyCredential(client.accountName, key), observe),
  );
}

/**
 * The queue SDK takes extra policies only as factories of a pipeline built from a credential (it re-adds
 * `additionalPolicies` for every sub-client it makes), so an observed client is built on such a pipeline.
 */
function observedPipeline(credential: StorageSharedKeyCredential | TokenCredential, observe: StorageRequestObserver) {
  const pipeline = newPipeline(credential, { retryOptions: QUEUE_RETRY_OPTIONS });
  pipeline.factories.push({
    create: (next) => ({
      sendRequest: (request) => {
        observe(request);
        return next.sendRequest(request);
      },
    }),
  });
  return pipeline;
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
