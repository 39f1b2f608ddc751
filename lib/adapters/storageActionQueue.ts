import type { AdditionalPolicyConfig } from '@azure/core-client';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { QueueClient, type StoragePipelineOptions } from '@azure/storage-queue';
import type { ResetMessage } from '../core/model';
import type { ActionQueue } from '../ports';
import { storageStatus, translateStorageError } from './storageErrors';

/**
 * A QueueClient for a connection string (Azurite's http endpoint included). `policies` are extra per-call pipeline
 * policies (the benchmark counts storage round trips with one). StoragePipelineOptions does not declare
 * `additionalPolicies`, but the SDK hands its options to core-client's ServiceClient, which applies them.
 */
export function queueClient(
  connectionString: string,
  queueName: string,
  policies: readonly PipelinePolicy[] = [],
): QueueClient {
  if (policies.length === 0) return new QueueClient(connectionString, queueName);
  const options: StoragePipelineOptions & { additionalPolicies: AdditionalPolicyConfig[] } = {
    additionalPolicies: policies.map((policy) => ({ policy, position: 'perCall' })),
  };
  return new QueueClient(connectionString, queueName, options);
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
 * ActionQueue on Azure Queue Storage. The Functions queue trigger decodes base64 by default
 * (host.json extensions.queues.messageEncoding), while the SDK sends text as is: encode here.
 */
export class StorageActionQueue implements ActionQueue {
  constructor(private readonly queue: QueueClient) {}

  async enqueue(message: ResetMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    const text = Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
    try {
      await this.queue.sendMessage(text, options.delaySeconds ? { visibilityTimeout: options.delaySeconds } : {});
    } catch (error) {
      translateStorageError(error);
    }
  }
}
