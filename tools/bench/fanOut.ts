import { randomBytes } from 'node:crypto';
import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { toEntity } from '../../lib/adapters/tableActionStore';
import { tableClient } from '../../lib/adapters/tableClients';
import { subscriptionRows } from '../../lib/adapters/tableSubscriptionStore';
import { dueTimeOf, type Subscription } from '../../lib/core/subscription';
import { buildDeps, ensureStorage, STORAGE_NAMES } from '../../lib/deps';
import type { NotificationMessage } from '../../lib/ports';
import { handleNotificationMessage } from '../../lib/useCases/subscriptions';
import { benchAction, benchSettings } from './environment';

/** Transactions sent at once while loading. */
const LOAD_PARALLEL = 4;

/**
 * The fan-out of one finished action, in storage requests counted on the app's own clients: `size.subscriptions`
 * subscriptions are loaded in the app's store's formats (with their index rows), `size.watching` of them watching the device
 * and the others one device each elsewhere (when `watching` is the larger, `watching` are loaded, all watching: the
 * watchers are what a fan-out must tell, the others what it must not read); then the 'finished' message of one action of that device is handled,
 * with every continuation it hands on, until every watcher's delivery message is enqueued (the deliveries themselves,
 * their claims and HTTP posts, are not counted).
 */
export async function measureFanOut(
  connectionString: string,
  size: { subscriptions: number; watching: number },
): Promise<{ requests: number }> {
  let counting = false;
  let requests = 0;
  const { services } = buildDeps(benchSettings(connectionString), undefined, {
    onStorageRequest: () => {
      if (counting) requests++;
    },
  });
  await ensureStorage(connectionString);
  const run = randomBytes(4).toString('hex');
  const deviceId = `fanout-${run}`;
  const now = new Date();
  const limits = services.settings.subscriptions;
  const total = Math.max(size.subscriptions, size.watching);
  // Loaded in entity-group transactions of the store's own rows: a creation through the API costs a handful of
  // requests each, which at 5,000 took minutes on Azurite; what is measured is the fan-out's reads, not the loading.
  const byPartition = new Map<string, TableEntity[]>();
  for (let n = 0; n < total; n++) {
    const hex = randomBytes(16).toString('hex');
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const timing = {
      workflow: false,
      expirationDateTime: new Date(now.getTime() + 48 * 3_600_000).toISOString(),
      createdDateTime: new Date(now.getTime() - 60_000).toISOString(),
    };
    const subscription: Subscription = {
      id,
      // Twenty a owner, the default cap; the others watch a hundred other devices, fifty each.
      ownerId: `bench-${run}-${Math.floor(n / 20)}`,
      watched: { scope: 'device', deviceId: n < size.watching ? deviceId : `elsewhere-${run}-${n % 100}` },
      sealedNotificationUrl: services.cipher.seal(
        `https://receiver.contoso.com/${n}`,
        `subscription/${id}/notificationUrl`,
      ),
      changeType: 'updated',
      ...timing,
      dueDateTime: dueTimeOf(timing, limits),
    };
    for (const row of subscriptionRows(subscription)) {
      const rows = byPartition.get(row.partitionKey) ?? [];
      rows.push(row);
      byPartition.set(row.partitionKey, rows);
    }
  }
  const table = tableClient(connectionString, STORAGE_NAMES.tables.subscriptions);
  const batches = [...byPartition.values()].flatMap((rows) =>
    Array.from({ length: Math.ceil(rows.length / 100) }, (_, i) => rows.slice(i * 100, i * 100 + 100)),
  );
  for (let i = 0; i < batches.length; i += LOAD_PARALLEL) {
    await Promise.all(
      batches
        .slice(i, i + LOAD_PARALLEL)
        .map((batch) => table.submitTransaction(batch.map((row): TransactionAction => ['upsert', row, 'Replace']))),
    );
  }
  const action = benchAction(deviceId, new Date(now.getTime() - 1_000), randomBytes(10).toString('hex'));
  await tableClient(connectionString, STORAGE_NAMES.tables.actions).createEntity(toEntity(action));

  // The delivery messages go to the queue as the app sends them (counted); the continuations are also run here.
  const pending: NotificationMessage[] = [{ v: 1, kind: 'finished', deviceId, actionId: action.id }];
  let delivered = 0;
  const queue = services.notifications;
  services.notifications = {
    enqueue: async (message, options) => {
      await queue.enqueue(message, options);
      if (message.kind === 'finished') pending.push(message);
      else delivered++;
    },
  };
  counting = true;
  for (let message = pending.shift(); message; message = pending.shift()) {
    await handleNotificationMessage(services, message);
  }
  counting = false;
  if (delivered !== size.watching) {
    throw new Error(`the fan-out queued ${delivered} deliveries, expected ${size.watching}`);
  }
  return { requests };
}
