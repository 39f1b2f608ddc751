// The app's queue clients, on @azure/storage-queue. The build emits this module and the SDK under it (with the XML
// stack the queue service needs) as dist/storageQueue.js, which storageActionQueue.ts imports on the first queue call:
// the HTTP functions' cold start never parses it (docs/PERFORMANCE.md "The queue SDK, loaded on first use").
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { QueueClient, type StorageRetryOptions } from '@azure/storage-queue';
import { isLoopbackHttpUrl } from '../core/loopback';
import type { StorageConnection } from './storageConnection';
import type { StorageRequestObserver } from './tableClients';

export type { QueueClient };

/**
 * How the app's queue clients retry and time out, given by the caller: in the bundle this module is a file of its own,
 * and the per-try policy must be the main bundle's, whose request deadline (an AsyncLocalStorage) the caller sets.
 */
export interface QueueClientPolicies {
  retryOptions: StorageRetryOptions;
  /** Runs once per try, after the SDK's retry policy. */
  perTry: PipelinePolicy;
  /** Sees each call once, before its retries (the benchmark counts round trips with it). */
  observe?: StorageRequestObserver | undefined;
}

/** Hosts whose plain http endpoint is Azurite's (the rule tableClients.ts applies to the Tables SDK). */

/** The part of a core-rest-pipeline pipeline this module uses. */
interface PolicyPipeline {
  addPolicy(policy: PipelinePolicy, options?: { afterPhase?: 'Retry' }): void;
}

const isPolicyPipeline = (value: unknown): value is PolicyPipeline =>
  typeof value === 'object' && value !== null && typeof Reflect.get(value, 'addPolicy') === 'function';

/**
 * The core-rest-pipeline pipeline under `client`. The SDK takes no extra policies in its options (`additionalPolicies`
 * would be added twice: its two operation groups share one pipeline, which then refuses duplicate names), and the
 * policy factories of its public `Pipeline` all run before its retry policy, where a per-try timeout cannot go. So the
 * policies are added to the pipeline it built; should a new SDK version build it elsewhere, every client fails at once.
 */
function corePipelineOf(client: QueueClient): PolicyPipeline {
  const pipeline: unknown = Reflect.get(client, 'pipeline');
  const built: unknown = typeof pipeline === 'object' && pipeline !== null && Reflect.get(pipeline, '_corePipeline');
  if (!isPolicyPipeline(built)) {
    throw new Error(
      '@azure/storage-queue no longer exposes the pipeline lib/adapters/queueSdk.ts adds its policies to',
    );
  }
  return built;
}

/**
 * A QueueClient for `queueName` on a connection string (the SDK reads it, Azurite's shorthand included) or the queue
 * service URI and credential of an identity-based connection.
 */
export function createQueueClient(
  connection: StorageConnection,
  queueName: string,
  { retryOptions, perTry, observe }: QueueClientPolicies,
): QueueClient {
  // A copy: the SDK fills in what is missing in the object it is given.
  const options = { retryOptions: { ...retryOptions } };
  let client: QueueClient;
  if (connection.kind === 'connectionString') {
    client = new QueueClient(connection.connectionString, queueName, options);
  } else {
    if (!connection.queueServiceUri) throw new Error('the storage connection has no queue service URI');
    // A bearer token is only ever sent over https: core-rest-pipeline's token policy refuses anything else.
    client = new QueueClient(`${connection.queueServiceUri}/${queueName}`, connection.credential, options);
  }
  // The SDK allows plain http for any host; like the Tables clients, allow it only for Azurite on this machine.
  const url = new URL(client.url);
  if (url.protocol !== 'https:' && !isLoopbackHttpUrl(url)) {
    throw new Error(
      `the queue endpoint must be https (plain http only for Azurite on the loopback), not ${url.origin}`,
    );
  }
  const pipeline = corePipelineOf(client);
  pipeline.addPolicy(perTry, { afterPhase: 'Retry' });
  if (observe) {
    pipeline.addPolicy({
      name: 'observeStorageRequests',
      sendRequest: (request, next) => {
        observe(request);
        return next(request);
      },
    });
  }
  return client;
}
