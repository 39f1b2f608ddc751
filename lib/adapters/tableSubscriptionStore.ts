import type { TableClient } from '@azure/data-tables';
import { PreconditionFailedError } from '../core/errors';
import { IdSchema } from '../core/model';
import type { Subscription } from '../core/subscription';
import type { SubscriptionStore, Versioned } from '../ports';
import * as z from '../zod';
import { certainWrite, sameContent } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { odataString } from './tableClients';

/** The one partition of the subscriptions table: few rows, each read by id or by what it watches. */
const PARTITION = 'subscription';
const ALL = '*';
/** Entities per entity-group transaction (the Table service's limit). */
const TRANSACTION_SIZE = 100;

const ClaimEntitySchema = z.lazy(() => z.object({ etag: z.string(), claimedDateTime: z.string() }));
const EntitySchema = z.lazy(() =>
  z.object({
    etag: z.string(),
    rowKey: z.string(),
    ownerId: z.string(),
    watches: z.string(),
    notificationUrlKeyId: z.string(),
    notificationUrlCiphertext: z.string(),
    expirationDateTime: z.string(),
    createdDateTime: z.string(),
    clientStateKeyId: z.optional(z.string()),
    clientStateCiphertext: z.optional(z.string()),
  }),
);

function toVersioned(entity: unknown): Versioned<Subscription> {
  const e = EntitySchema.parse(entity);
  const value: Subscription = {
    id: e.rowKey,
    ownerId: e.ownerId,
    watched: e.watches === ALL ? { scope: 'all' } : { scope: 'device', deviceId: IdSchema.parse(e.watches) },
    sealedNotificationUrl: { keyId: e.notificationUrlKeyId, value: e.notificationUrlCiphertext },
    changeType: 'updated',
    expirationDateTime: e.expirationDateTime,
    createdDateTime: e.createdDateTime,
    ...(e.clientStateKeyId !== undefined &&
      e.clientStateCiphertext !== undefined && {
        sealedClientState: { keyId: e.clientStateKeyId, value: e.clientStateCiphertext },
      }),
  };
  return { value, etag: e.etag };
}

/** The subscription as an entity; the notification URL and the receiver's clientState only as ciphertext. */
const toEntity = (s: Subscription) => ({
  partitionKey: PARTITION,
  rowKey: s.id,
  ownerId: s.ownerId,
  watches: s.watched.scope === 'all' ? ALL : s.watched.deviceId,
  notificationUrlKeyId: s.sealedNotificationUrl.keyId,
  notificationUrlCiphertext: s.sealedNotificationUrl.value,
  expirationDateTime: s.expirationDateTime,
  createdDateTime: s.createdDateTime,
  ...(s.sealedClientState && {
    clientStateKeyId: s.sealedClientState.keyId,
    clientStateCiphertext: s.sealedClientState.value,
  }),
});

export interface SubscriptionTables {
  subscriptions: TableClient;
  /** Partition = subscription id, row = action id: which action's notice went to which subscription. */
  deliveries: TableClient;
}

/** SubscriptionStore on Azure Table Storage. */
export class TableSubscriptionStore implements SubscriptionStore {
  constructor(private readonly tables: SubscriptionTables) {}

  async create(subscription: Subscription): Promise<void> {
    try {
      await certainWrite(
        async () => {
          await this.tables.subscriptions.createEntity(toEntity(subscription));
          return true;
        },
        async () => ((await this.readBack(subscription)) ? true : undefined),
      );
    } catch (error) {
      translateStorageError(error);
    }
  }

  /** Whether the stored subscription is already `meant` (a write whose answer was lost committed). */
  private async readBack(meant: Subscription): Promise<boolean> {
    try {
      const stored = toVersioned(await this.tables.subscriptions.getEntity(PARTITION, meant.id));
      return sameContent(toEntity(stored.value), toEntity(meant));
    } catch (error) {
      if (storageStatus(error) === 404) return false;
      throw error;
    }
  }

  async get(id: string): Promise<Versioned<Subscription> | undefined> {
    try {
      return toVersioned(await this.tables.subscriptions.getEntity(PARTITION, id));
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async listByOwner(ownerId: string) {
    return (await this.query(`ownerId eq ${odataString(ownerId)}`)).map((s) => s.value);
  }

  async listWatching(deviceId: string) {
    return (await this.query(`(watches eq ${odataString(ALL)} or watches eq ${odataString(deviceId)})`)).map(
      (s) => s.value,
    );
  }

  listExpired(before: Date, limit: number) {
    return this.query(`expirationDateTime lt ${odataString(before.toISOString())}`, limit);
  }

  async update(next: Subscription, current: Versioned<Subscription>): Promise<void> {
    try {
      await certainWrite(
        async () => {
          await this.tables.subscriptions.updateEntity(toEntity(next), 'Replace', { etag: current.etag });
          return true;
        },
        async () => ((await this.readBack(next)) ? true : undefined),
      );
    } catch (error) {
      if (storageStatus(error) === 404) throw new PreconditionFailedError('the subscription is gone');
      translateStorageError(error);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.tables.subscriptions.deleteEntity(PARTITION, id);
    } catch (error) {
      if (storageStatus(error) !== 404) translateStorageError(error);
    }
    await this.removeDeliveries(id);
  }

  async claimDelivery(subscriptionId: string, actionId: string, now: Date, staleAfterMs: number): Promise<boolean> {
    const entity = { partitionKey: subscriptionId, rowKey: actionId, claimedDateTime: now.toISOString() };
    // The claim this call makes, read back: a claim whose answer was lost is still this call's.
    const ours = async () => {
      const found = await this.tables.deliveries.getEntity(subscriptionId, actionId).catch((error: unknown) => {
        if (storageStatus(error) === 404) return undefined;
        throw error;
      });
      return found && ClaimEntitySchema.parse(found).claimedDateTime === entity.claimedDateTime ? true : undefined;
    };
    try {
      return await certainWrite(async () => {
        await this.tables.deliveries.createEntity(entity);
        return true;
      }, ours);
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    // Claimed before: only a claim old enough to have been lost (its message never sent) is taken over.
    try {
      const found = ClaimEntitySchema.parse(await this.tables.deliveries.getEntity(subscriptionId, actionId));
      if (now.getTime() - new Date(found.claimedDateTime).getTime() < staleAfterMs) return false;
      return await certainWrite(async () => {
        await this.tables.deliveries.updateEntity(entity, 'Replace', { etag: found.etag });
        return true;
      }, ours);
    } catch (error) {
      const status = storageStatus(error);
      if (status === 404 || status === 412) return false;
      return translateStorageError(error);
    }
  }

  /** The subscriptions that match `filter`, reading no further than the first `limit`. */
  private async query(filter: string, limit = Number.POSITIVE_INFINITY): Promise<Versioned<Subscription>[]> {
    const found: Versioned<Subscription>[] = [];
    try {
      const entities = this.tables.subscriptions.listEntities({
        queryOptions: { filter: `PartitionKey eq ${odataString(PARTITION)} and ${filter}` },
      });
      for await (const entity of entities) {
        if (found.length >= limit) break;
        found.push(toVersioned(entity));
      }
    } catch (error) {
      return translateStorageError(error);
    }
    return found;
  }

  private async removeDeliveries(subscriptionId: string): Promise<void> {
    try {
      const rows: string[] = [];
      const entities = this.tables.deliveries.listEntities({
        queryOptions: { filter: `PartitionKey eq ${odataString(subscriptionId)}`, select: ['rowKey'] },
      });
      for await (const entity of entities) rows.push(String(entity.rowKey));
      for (let i = 0; i < rows.length; i += TRANSACTION_SIZE) {
        await this.tables.deliveries.submitTransaction(
          rows.slice(i, i + TRANSACTION_SIZE).map((rowKey) => ['delete', { partitionKey: subscriptionId, rowKey }]),
        );
      }
    } catch (error) {
      translateStorageError(error);
    }
  }
}
