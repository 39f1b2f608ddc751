import type { ResetMessage } from '../core/model';
import type { ActionQueue, DeviceSyncMessage, DeviceSyncQueue, NotificationMessage, NotificationQueue } from '../ports';
import type { QueueClient, QueueClientPolicies } from './queueSdk';
import { asConnection, type StorageConnection } from './storageConnection';
import { PER_TRY_MS, STORAGE_RETRY_OPTIONS, storageTimeoutPolicy } from './storageDeadline';
import { translateStorageError } from './storageErrors';
import type { StorageRequestObserver } from './tableClients';

/** A message is visible at most 7 days later (Put Message, `visibilitytimeout`). */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 7 * 24 * 3600;

/**
 * The retries and per-try timeout of the Tables clients (storageDeadline.ts) in the queue SDK's terms: its own retry
 * policy replaces core-rest-pipeline's (it retries network errors, 500 and 503), counts tries rather than retries, and
 * sends the per-try time to the service as `timeout`. storageTimeoutPolicy bounds each try and turns a timed-out one
 * into the ETIMEDOUT error that policy retries.
 */
const QUEUE_POLICIES: Omit<QueueClientPolicies, 'observe'> = {
  retryOptions: {
    maxTries: STORAGE_RETRY_OPTIONS.maxRetries + 1,
    retryDelayInMs: STORAGE_RETRY_OPTIONS.retryDelayInMs,
    maxRetryDelayInMs: STORAGE_RETRY_OPTIONS.maxRetryDelayInMs,
    tryTimeoutInMs: PER_TRY_MS,
  },
  perTry: storageTimeoutPolicy,
};

/**
 * One queue of the app's storage account. Its `@azure/storage-queue` client is built on the first call: in the bundle
 * the SDK is a file of its own (dist/storageQueue.js, see queueSdk.ts), so loading the app does not parse it.
 */
export class StorageQueue {
  #client: Promise<QueueClient> | undefined;

  constructor(
    private readonly connection: StorageConnection,
    readonly name: string,
    private readonly observe?: StorageRequestObserver,
  ) {}

  /** The SDK client (loaded and built once; a bad endpoint or connection rejects here). */
  client(): Promise<QueueClient> {
    this.#client ??= import('./queueSdk').then((sdk) =>
      sdk.createQueueClient(this.connection, this.name, { ...QUEUE_POLICIES, observe: this.observe }),
    );
    return this.#client;
  }
}

/** A queue for a connection string (Azurite's http endpoint included) or an identity-based connection. */
export function queueClient(
  connection: StorageConnection | string,
  queueName: string,
  observe?: StorageRequestObserver,
): StorageQueue {
  return new StorageQueue(asConnection(connection), queueName, observe);
}

/** Creates the queue if it is missing (start-up and tests; not on the request path). */
export async function ensureQueue(queue: StorageQueue): Promise<void> {
  // 204 or 409 QueueAlreadyExists (other metadata, which the app never sets) both mean it is there.
  await (await queue.client()).createIfNotExists();
}

/**
 * A queue of JSON messages on Azure Queue Storage (the reset queue, the notification queue). The Functions queue
 * trigger decodes base64 by default (host.json extensions.queues.messageEncoding), while the SDK sends text as is:
 * encode here.
 */
export class StorageMessageQueue<M> {
  constructor(private readonly queue: StorageQueue) {}

  async enqueue(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
    const delay = options.delaySeconds ?? 0;
    // The service would answer 400; a bad delay is a bug here, not a storage failure.
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_VISIBILITY_TIMEOUT_SECONDS) {
      throw new RangeError(`a message's visibility timeout is whole seconds from 0 to 7 days, not ${delay}`);
    }
    const text = Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
    try {
      const client = await this.queue.client();
      await client.sendMessage(text, delay > 0 ? { visibilityTimeout: delay } : {});
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
