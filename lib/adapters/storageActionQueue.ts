import type { ResetMessage } from '../core/model';
import type { ActionQueue, DeviceSyncMessage, DeviceSyncQueue, NotificationMessage, NotificationQueue } from '../ports';
import { type QueueRestClient, queueRestClient } from './queueRest';
import { asConnection, type StorageConnection } from './storageConnection';
import { storageStatus, translateStorageError } from './storageErrors';
import type { StorageRequestObserver } from './tableClients';

/** A queue client for a connection string (Azurite's http endpoint included) or an identity-based connection. */
export function queueClient(
  connection: StorageConnection | string,
  queueName: string,
  observe?: StorageRequestObserver,
): QueueRestClient {
  const resolved = asConnection(connection);
  if (resolved.kind === 'connectionString') return queueRestClient(resolved, queueName, observe);
  if (!resolved.queueServiceUri) throw new Error('the storage connection has no queue service URI');
  return queueRestClient(
    { queueServiceUri: resolved.queueServiceUri, credential: resolved.credential },
    queueName,
    observe,
  );
}

/** Creates the queue if it is missing (start-up and tests; not on the request path). */
export async function ensureQueue(client: QueueRestClient): Promise<void> {
  try {
    await client.create();
  } catch (error) {
    // 409 QueueAlreadyExists: it exists with other metadata, which the app never sets.
    if (storageStatus(error) !== 409) throw error;
  }
}

/**
 * A queue of JSON messages on Azure Queue Storage (the reset queue, the notification queue). The Functions queue
 * trigger decodes base64 by default (host.json extensions.queues.messageEncoding), while the client sends text as is:
 * encode here.
 */
export class StorageMessageQueue<M> {
  constructor(private readonly queue: QueueRestClient) {}

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

/** The device sync queue (one message per page of the channel's inventory). */
export class StorageDeviceSyncQueue extends StorageMessageQueue<DeviceSyncMessage> implements DeviceSyncQueue {}

/** The notification queue. */
export class StorageNotificationQueue extends StorageMessageQueue<NotificationMessage> implements NotificationQueue {}
