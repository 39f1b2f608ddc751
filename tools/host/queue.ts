import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient, type ReceivedMessageItem } from '@azure/storage-queue';
import { HOST_STORAGE, type StorageConnection, storageConnection } from '../../lib/adapters/storageConnection';
import type { QueuesConfig } from './config';
import type { RegisteredFunction } from './coreApi';
import type { RpcTypedData } from './coreTypes';
import { HostStoppingError, type Invoker } from './invoker';
import type { Logger } from './logger';

export class BindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BindingError';
  }
}

/** Resolves `%SETTING%` binding expressions from app settings, as the host does for trigger properties. */
export function resolveBindingExpression(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined || value === '')
      throw new BindingError(`App setting "${name}" (used as %${name}%) is not set`);
    return value;
  });
}

/**
 * The storage connection of a binding's `connection` property (default AzureWebJobsStorage), as the host resolves
 * it: an app setting of that name is a connection string; otherwise `<name>__queueServiceUri` (or `__serviceUri`, or
 * for AzureWebJobsStorage `__accountName`) with `__credential`/`__clientId` is an identity-based connection:
 * https://learn.microsoft.com/azure/azure-functions/functions-reference#configure-an-identity-based-connection
 */
export function resolveStorageConnection(connection: unknown, env: NodeJS.ProcessEnv): StorageConnection {
  const name = typeof connection === 'string' && connection !== '' ? connection : HOST_STORAGE;
  try {
    return storageConnection(env, { name, services: ['queue'] });
  } catch (error) {
    throw new BindingError((error as Error).message);
  }
}

/** A client of one queue on a resolved connection. */
export function queueClientFor(connection: StorageConnection, queueName: string): QueueClient {
  if (connection.kind === 'connectionString') return new QueueClient(connection.connectionString, queueName);
  if (!connection.queueServiceUri) throw new BindingError('The storage connection has no queue service URI');
  return new QueueClient(`${connection.queueServiceUri}/${queueName}`, connection.credential);
}

const QUEUE_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * A bound on each storage call of a listener. The JavaScript storage SDK only asks the server for a timeout (its
 * `timeout` query parameter); a connection that is accepted and never answered would stall polling for good. The real
 * host's .NET storage client gives up on a try after Azure.Core's default NetworkTimeout of 100 s
 * (https://learn.microsoft.com/dotnet/api/azure.core.retryoptions.networktimeout), and so does this host.
 */
const STORAGE_CALL_TIMEOUT_MS = 100_000;
const inTime = () => ({ abortSignal: AbortSignal.timeout(STORAGE_CALL_TIMEOUT_MS) });

/**
 * Randomized exponential backoff between empty polls, from 100 ms up to maxPollingInterval, reset when a
 * message arrives, as the queues extension does:
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#polling-algorithm
 */
export class PollingBackoff {
  static readonly MINIMUM_MS = 100;
  #current = PollingBackoff.MINIMUM_MS;
  readonly #maximum: number;
  readonly #random: () => number;

  constructor(maximumMs: number, random: () => number = Math.random) {
    this.#maximum = Math.max(maximumMs, PollingBackoff.MINIMUM_MS);
    this.#random = random;
  }

  reset(): void {
    this.#current = PollingBackoff.MINIMUM_MS;
  }

  /** The next delay: the current step with ±20% jitter, capped at the maximum; the step then doubles. */
  next(): number {
    const delay = Math.min(this.#maximum, this.#current * (0.8 + 0.4 * this.#random()));
    this.#current = Math.min(this.#maximum, this.#current * 2);
    return Math.round(delay);
  }
}

function isValidBase64(text: string): boolean {
  const compact = text.replace(/\s+/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/**
 * A date as Newtonsoft.Json writes a DateTimeOffset (the host's serializer for trigger metadata):
 * "2026-11-30T10:00:00+00:00", with a fraction only when there is one.
 */
export function dotNetDateTimeOffset(date: Date): string {
  const iso = date.toISOString();
  const fraction = iso.slice(19, 23).replace(/\.?0+$/, '');
  return `${iso.slice(0, 19)}${fraction}+00:00`;
}

// DateTimeOffset.MaxValue, which the queues extension uses for a missing expiry or visibility time.
const DATE_TIME_OFFSET_MAX = '9999-12-31T23:59:59.9999999+00:00';
const jsonDate = (date: Date | undefined, fallback: string): RpcTypedData => ({
  json: JSON.stringify(date ? dotNetDateTimeOffset(date) : fallback),
});

/**
 * The trigger metadata the real host sends for a queue message: the queues extension's binding data
 * (https://github.com/Azure/azure-sdk-for-net/blob/main/sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/Triggers/QueueTriggerBinding.cs),
 * converted by the host's ToRpc: strings as `string`, the long DequeueCount and the DateTimeOffsets as `json`; the
 * "sys" entry is left out (ScriptInvocationContextExtensions.ShouldSkipBindingData).
 */
function queueTriggerMetadata(message: ReceivedMessageItem, text: string, now: Date): Record<string, RpcTypedData> {
  return {
    QueueTrigger: { string: text },
    DequeueCount: { json: JSON.stringify(message.dequeueCount) },
    ExpirationTime: jsonDate(message.expiresOn, DATE_TIME_OFFSET_MAX),
    Id: { string: message.messageId },
    InsertionTime: jsonDate(message.insertedOn, dotNetDateTimeOffset(now)),
    NextVisibleTime: jsonDate(message.nextVisibleOn, DATE_TIME_OFFSET_MAX),
    PopReceipt: { string: message.popReceipt },
  };
}

export interface QueueListenerOptions {
  fn: RegisteredFunction;
  triggerName: string;
  binding: Record<string, unknown>;
  queueName: string;
  connection: StorageConnection;
  config: QueuesConfig;
  invoker: Invoker;
  logger: Logger;
  /** How long a dequeued message stays invisible; renewed at half-time while the function runs. */
  leaseMs: number;
}

/** Polls one queue for one function with the host.json queues semantics (batches, retries, poison queue). */
export class QueueListener {
  readonly queueName: string;
  readonly #options: QueueListenerOptions;
  readonly #client: QueueClient;
  readonly #poisonClient: QueueClient;
  readonly #active = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #backoff: PollingBackoff;
  #poisonReady: Promise<unknown> | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: QueueListenerOptions) {
    if (!QUEUE_NAME.test(options.queueName)) {
      throw new BindingError(
        `Queue name "${options.queueName}" of function ${options.fn.name} is invalid (3-63 lower-case letters, digits and single hyphens)`,
      );
    }
    this.#options = options;
    this.queueName = options.queueName;
    this.#client = queueClientFor(options.connection, options.queueName);
    this.#poisonClient = queueClientFor(options.connection, `${options.queueName}-poison`);
    this.#backoff = new PollingBackoff(options.config.maxPollingIntervalMs);
  }

  get active(): number {
    return this.#active.size;
  }

  /** Creates the queue if needed, then polls in the background. */
  async start(): Promise<void> {
    await this.#client.createIfNotExists(inTime());
    this.#loop = this.#poll();
  }

  /** Stops polling and waits for the messages being processed. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.allSettled([...this.#active]);
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
    } catch {
      // Aborted by stop().
    }
  }

  async #poll(): Promise<void> {
    const { config, logger, leaseMs } = this.#options;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      if (this.#active.size > config.newBatchThreshold) {
        await Promise.race([Promise.race([...this.#active]), this.#pause(config.maxPollingIntervalMs)]);
        continue;
      }
      let messages: ReceivedMessageItem[];
      try {
        const response = await this.#client.receiveMessages({
          numberOfMessages: config.batchSize,
          visibilityTimeout: Math.ceil(leaseMs / 1000),
          ...inTime(),
        });
        messages = response.receivedMessageItems;
      } catch (error) {
        logger.warn(`Polling queue ${this.queueName} failed: ${(error as Error).message}`);
        await this.#pause(this.#backoff.next());
        continue;
      }
      if (messages.length === 0) {
        await this.#pause(this.#backoff.next());
        continue;
      }
      this.#backoff.reset();
      for (const message of messages) {
        const work = this.#process(message).catch((error: unknown) => {
          logger.error(`Queue message ${message.messageId} on ${this.queueName} was not completed: ${String(error)}`);
        });
        this.#active.add(work);
        work.finally(() => this.#active.delete(work)).catch(() => {});
      }
    }
  }

  async #process(message: ReceivedMessageItem): Promise<void> {
    const { config, fn, invoker, logger, leaseMs, triggerName, binding } = this.#options;
    let popReceipt = message.popReceipt;
    // A message past the limit (e.g. after crashes mid-invocation) goes straight to the poison queue.
    if (message.dequeueCount > config.maxDequeueCount) {
      await this.#moveToPoison(message, popReceipt);
      return;
    }
    if (config.messageEncoding === 'base64' && !isValidBase64(message.messageText)) {
      logger.error(
        `Message ${message.messageId} on ${this.queueName} is not valid base64 (messageEncoding is base64); moving it to ${this.queueName}-poison`,
      );
      await this.#moveToPoison(message, popReceipt);
      return;
    }
    const bytes =
      config.messageEncoding === 'base64'
        ? Buffer.from(message.messageText, 'base64')
        : Buffer.from(message.messageText);
    const text = bytes.toString('utf8');
    const data: RpcTypedData = binding.dataType === 'binary' ? { bytes } : { string: text };

    // Renew the lease at half-time; operations on the message are chained so the pop receipt stays current.
    let chain: Promise<unknown> = Promise.resolve();
    const renew = setInterval(() => {
      chain = chain.then(async () => {
        try {
          const updated = await this.#client.updateMessage(
            message.messageId,
            popReceipt,
            undefined,
            Math.ceil(leaseMs / 1000),
            inTime(),
          );
          if (updated.popReceipt) popReceipt = updated.popReceipt;
        } catch (error) {
          logger.warn(`Renewing the lease of message ${message.messageId} failed: ${(error as Error).message}`);
        }
      });
    }, leaseMs / 2);

    let succeeded = false;
    let stopping = false;
    try {
      await invoker.invoke(fn, {
        inputData: [{ name: triggerName, data }],
        triggerMetadata: queueTriggerMetadata(message, text, new Date()),
        reason: `New queue message detected on '${this.queueName}'.`,
      });
      succeeded = true;
    } catch (error) {
      stopping = error instanceof HostStoppingError;
    } finally {
      clearInterval(renew);
      await chain;
    }

    if (succeeded) {
      await this.#client.deleteMessage(message.messageId, popReceipt, inTime());
    } else if (!stopping && message.dequeueCount >= config.maxDequeueCount) {
      logger.warn(
        `Message ${message.messageId} has reached MaxDequeueCount of ${config.maxDequeueCount}. Moving message to queue '${this.queueName}-poison'.`,
      );
      await this.#moveToPoison(message, popReceipt);
    } else {
      const seconds = stopping ? 0 : Math.round(config.visibilityTimeoutMs / 1000);
      await this.#client.updateMessage(message.messageId, popReceipt, undefined, seconds, inTime());
    }
  }

  async #moveToPoison(message: ReceivedMessageItem, popReceipt: string): Promise<void> {
    this.#poisonReady ??= this.#poisonClient.createIfNotExists(inTime()).catch((error: unknown) => {
      this.#poisonReady = undefined;
      throw error;
    });
    await this.#poisonReady;
    // The stored text is copied as is, so the poison message keeps the original encoding.
    await this.#poisonClient.sendMessage(message.messageText, inTime());
    await this.#client.deleteMessage(message.messageId, popReceipt, inTime());
  }
}
