import { newPipeline, QueueClient, StorageSharedKeyCredential } from '@azure/storage-queue';
import { connectionStringParts } from '../../lib/adapters/connectionString';
import type { StorageRequestObserver } from '../../lib/adapters/tableClients';

/**
 * A `@azure/storage-queue` client for the benchmark's own queue work (receive, delete, clear, count), as the local
 * host does it with the plain SDK (tools/host/queue.ts); the app puts messages with its own clients (lib/adapters/queueSdk.ts).
 * `observe` sees every request, so the round-trip count covers the host's receive and delete calls.
 */
export function sdkQueueClient(connectionString: string, queueName: string, observe?: StorageRequestObserver) {
  const client = new QueueClient(connectionString, queueName);
  if (!observe) return client;
  const key = connectionStringParts(connectionString).get('accountkey');
  if (!key) throw new Error('observing queue requests needs a connection string with an AccountKey');
  // The SDK takes extra policies only as factories of a pipeline built from a credential.
  const pipeline = newPipeline(new StorageSharedKeyCredential(client.accountName, key));
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
