import type { TableClient, TransactionAction } from '@azure/data-tables';
import { actionIdUpperBoundFor } from '../core/actionId';
import { PreconditionFailedError } from '../core/errors';
import { IdSchema } from '../core/model';
import type { Subscription, Watched } from '../core/subscription';
import type {
  CreateSubscriptionOutcome,
  SubscriptionDue,
  SubscriptionStore,
  Versioned,
  Watcher,
  WatcherCursor,
} from '../ports';
import * as z from '../zod';
import { certainWrite, sameContent } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { odataString } from './tableClients';

/*
 * One table, several partitions, each read by key (docs/architecture.md, "Subscriptions"):
 * - `subscription` / id: the subscription;
 * - `watch|<deviceId or *>` / id: who watches a device (or every device): the fan-out reads one page of it at a time;
 * - `owner|<ownerId>` / id: the owner's subscriptions, and `owner|<ownerId>` / `~rate`: the owner's creations this hour;
 * - `due` / `<dueDateTime>|id`: the sweeper's worklist, earliest first (renewals, expiries, removals to finish).
 * The subscription row is written last and removed first: it alone says a subscription exists, and every index row
 * without it is removed by the sweeper at its due entry, which is written first and removed last.
 */
const PARTITION = 'subscription';
const DUE = 'due';
const ALL = '*';
const RATE_ROW = '~rate';
const HOUR_MS = 3_600_000;
/** How often a creation reads the owner's rows again after a concurrent creation by the same owner won. */
const CREATION_TURNS = 10;
/** Entities per entity-group transaction (the Table service's limit). */
const TRANSACTION_SIZE = 100;

const watchPartition = (watched: Watched) => `watch|${watched.scope === 'all' ? ALL : watched.deviceId}`;
// Owner ids come from tokens: encoded, so no character the Table service refuses in a key reaches one.
const ownerPartition = (ownerId: string) => `owner|${encodeURIComponent(ownerId)}`;
const dueRow = (dueDateTime: string, id: string) => `${dueDateTime}|${id}`;

const ClaimEntitySchema = z.lazy(() => z.object({ token: z.string() }));
const WatchEntitySchema = z.lazy(() => z.object({ rowKey: z.string(), createdDateTime: z.string() }));
const OwnerEntitySchema = z.lazy(() => z.object({ rowKey: z.string(), expirationDateTime: z.optional(z.string()) }));
const RateEntitySchema = z.lazy(() => z.object({ etag: z.string(), windowStart: z.string(), count: z.number() }));
const DueEntitySchema = z.lazy(() =>
  z.object({ rowKey: z.string(), ownerId: z.string(), watches: z.string(), removal: z.optional(z.boolean()) }),
);
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
    // Rows written before these columns existed: not a workflow's, due at expiry.
    workflow: z.optional(z.boolean()),
    dueDateTime: z.optional(z.string()),
    failingSinceDateTime: z.optional(z.string()),
  }),
);

const watchedOf = (watches: string): Watched =>
  watches === ALL ? { scope: 'all' } : { scope: 'device', deviceId: IdSchema.parse(watches) };

function toVersioned(entity: unknown): Versioned<Subscription> {
  const e = EntitySchema.parse(entity);
  const value: Subscription = {
    id: e.rowKey,
    ownerId: e.ownerId,
    watched: watchedOf(e.watches),
    sealedNotificationUrl: { keyId: e.notificationUrlKeyId, value: e.notificationUrlCiphertext },
    changeType: 'updated',
    expirationDateTime: e.expirationDateTime,
    createdDateTime: e.createdDateTime,
    ...(e.clientStateKeyId !== undefined &&
      e.clientStateCiphertext !== undefined && {
        sealedClientState: { keyId: e.clientStateKeyId, value: e.clientStateCiphertext },
      }),
    workflow: e.workflow ?? false,
    dueDateTime: e.dueDateTime ?? e.expirationDateTime,
    ...(e.failingSinceDateTime !== undefined && { failingSinceDateTime: e.failingSinceDateTime }),
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
  workflow: s.workflow,
  dueDateTime: s.dueDateTime,
  ...(s.failingSinceDateTime !== undefined && { failingSinceDateTime: s.failingSinceDateTime }),
});

const dueEntity = (s: Pick<Subscription, 'id' | 'ownerId' | 'watched'>, dueDateTime: string, removal = false) => ({
  partitionKey: DUE,
  rowKey: dueRow(dueDateTime, s.id),
  ownerId: s.ownerId,
  watches: s.watched.scope === 'all' ? ALL : s.watched.deviceId,
  removal,
});

/**
 * Every row one subscription has once created, as entities of the subscriptions table (the rate row aside): for a
 * bulk load (the fan-out benchmark), in the same formats the store writes.
 */
export const subscriptionRows = (s: Subscription) => [
  toEntity(s),
  { partitionKey: watchPartition(s.watched), rowKey: s.id, createdDateTime: s.createdDateTime },
  { partitionKey: ownerPartition(s.ownerId), rowKey: s.id, expirationDateTime: s.expirationDateTime },
  dueEntity(s, s.dueDateTime),
];

export interface SubscriptionTables {
  subscriptions: TableClient;
  /** Partition = subscription id, row = action id: which message delivers which action's notice to which subscription. */
  deliveries: TableClient;
}

const ignoreNotFound = (error: unknown) => {
  if (storageStatus(error) !== 404) throw error;
};

/** SubscriptionStore on Azure Table Storage. */
export class TableSubscriptionStore implements SubscriptionStore {
  constructor(private readonly tables: SubscriptionTables) {}

  async create(
    subscription: Subscription,
    limits: { maxPerOwner: number; creationsPerHour: number },
    now: Date,
  ): Promise<CreateSubscriptionOutcome> {
    const table = this.tables.subscriptions;
    try {
      const refused = await this.countCreation(subscription, limits, now);
      if (refused) return refused;
      await table.upsertEntity(
        {
          partitionKey: watchPartition(subscription.watched),
          rowKey: subscription.id,
          createdDateTime: subscription.createdDateTime,
        },
        'Replace',
      );
      await certainWrite(
        async () => {
          await table.createEntity(toEntity(subscription));
          return true;
        },
        async () => ((await this.readBack(subscription)) ? true : undefined),
      );
      return { created: true };
    } catch (error) {
      return translateStorageError(error);
    }
  }

  /**
   * Checks the owner's limits and counts the creation: the owner row and the rate row in one transaction,
   * conditional on the rate row as read, so that concurrent creations by one owner take turns (a loser reads again).
   * The worklist entry is written first: whatever a fault leaves of the rows after it, the sweeper removes at it.
   */
  private async countCreation(
    subscription: Subscription,
    limits: { maxPerOwner: number; creationsPerHour: number },
    now: Date,
  ): Promise<Extract<CreateSubscriptionOutcome, { created: false }> | undefined> {
    const table = this.tables.subscriptions;
    const owner = ownerPartition(subscription.ownerId);
    await table.upsertEntity(dueEntity(subscription, subscription.dueDateTime), 'Replace');
    for (let turn = 0; ; turn++) {
      const rows = await this.partition(owner);
      const rate = rows.find((row) => row.rowKey === RATE_ROW);
      const live = rows
        .filter((row) => row.rowKey !== RATE_ROW)
        .map((row) => OwnerEntitySchema.parse(row).expirationDateTime ?? '')
        .filter((expiry) => new Date(expiry) > now)
        .sort();
      const window = rate && RateEntitySchema.parse(rate);
      const sameHour = window !== undefined && now.getTime() - new Date(window.windowStart).getTime() < HOUR_MS;
      let refused: Extract<CreateSubscriptionOutcome, { created: false }> | undefined;
      if (live.length >= limits.maxPerOwner) {
        const freed = new Date(live[0] ?? now.toISOString()).getTime();
        refused = { created: false, limit: 'maxPerOwner', retryAfterSeconds: secondsUntil(freed, now) };
      } else if (sameHour && window.count >= limits.creationsPerHour) {
        const reopens = new Date(window.windowStart).getTime() + HOUR_MS;
        refused = { created: false, limit: 'creationRate', retryAfterSeconds: secondsUntil(reopens, now) };
      }
      if (refused) {
        await table.deleteEntity(DUE, dueRow(subscription.dueDateTime, subscription.id)).catch(ignoreNotFound);
        return refused;
      }
      const rateRow = {
        partitionKey: owner,
        rowKey: RATE_ROW,
        windowStart: sameHour ? window.windowStart : now.toISOString(),
        count: sameHour ? window.count + 1 : 1,
      };
      const ownerRow = {
        partitionKey: owner,
        rowKey: subscription.id,
        expirationDateTime: subscription.expirationDateTime,
      };
      const counted: TransactionAction = window
        ? ['update', rateRow, 'Replace', { etag: window.etag }]
        : ['create', rateRow];
      try {
        await table.submitTransaction([counted, ['create', ownerRow]]);
        return undefined;
      } catch (error) {
        const status = storageStatus(error);
        if ((status !== 409 && status !== 412) || turn >= CREATION_TURNS) throw error;
        // A committed transaction whose answer was lost conflicts with itself: the owner row is then already ours.
        if (await this.ownerRowExists(owner, subscription.id)) return undefined;
      }
    }
  }

  private async ownerRowExists(owner: string, id: string): Promise<boolean> {
    try {
      await this.tables.subscriptions.getEntity(owner, id);
      return true;
    } catch (error) {
      if (storageStatus(error) === 404) return false;
      throw error;
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

  async listByOwner(ownerId: string): Promise<Subscription[]> {
    try {
      const ids = (await this.partition(ownerPartition(ownerId)))
        .map((row) => String(row.rowKey))
        .filter((rowKey) => rowKey !== RATE_ROW);
      const found = await Promise.all(ids.map((id) => this.get(id)));
      // An owner row without its subscription is a creation that died half way (its due entry removes it).
      return found.flatMap((s) => (s ? [s.value] : []));
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async listAll(query: { top: number; after?: string }): Promise<{ items: Subscription[]; more: boolean }> {
    const after = query.after === undefined ? '' : ` and RowKey gt ${odataString(query.after)}`;
    const rows = await this.firstPage(`PartitionKey eq ${odataString(PARTITION)}${after}`, query.top + 1);
    return { items: rows.slice(0, query.top).map((row) => toVersioned(row).value), more: rows.length > query.top };
  }

  async listWatchers(deviceId: string, cursor: WatcherCursor, limit: number) {
    const partition = watchPartition(cursor.scope === 'all' ? { scope: 'all' } : { scope: 'device', deviceId });
    const after = cursor.after === undefined ? '' : ` and RowKey gt ${odataString(cursor.after)}`;
    // One more than asked: whether this scope has more is known without another read.
    const rows = await this.firstPage(`PartitionKey eq ${odataString(partition)}${after}`, limit + 1);
    const watchers: Watcher[] = rows.slice(0, limit).map((row) => {
      const e = WatchEntitySchema.parse(row);
      return { subscriptionId: e.rowKey, createdDateTime: e.createdDateTime };
    });
    const last = watchers[watchers.length - 1]?.subscriptionId;
    if (rows.length > limit) return { watchers, next: { scope: cursor.scope, after: last } };
    return cursor.scope === 'device' ? { watchers, next: { scope: 'all' as const } } : { watchers };
  }

  async listDue(now: Date, limit: number): Promise<SubscriptionDue[]> {
    // `|` sorts after every character of a date, so an entry due exactly now is included.
    const filter = `PartitionKey eq ${odataString(DUE)} and RowKey lt ${odataString(`${now.toISOString()}|~`)}`;
    const rows = await this.firstPage(filter, limit);
    return rows.map((row) => {
      const e = DueEntitySchema.parse(row);
      const separator = e.rowKey.lastIndexOf('|');
      return {
        subscriptionId: e.rowKey.slice(separator + 1),
        dueDateTime: e.rowKey.slice(0, separator),
        ownerId: e.ownerId,
        watched: watchedOf(e.watches),
        removal: e.removal ?? false,
      };
    });
  }

  async update(next: Subscription, current: Versioned<Subscription>): Promise<void> {
    const table = this.tables.subscriptions;
    const moved = next.dueDateTime !== current.value.dueDateTime;
    try {
      if (moved) await table.upsertEntity(dueEntity(next, next.dueDateTime), 'Replace');
      await certainWrite(
        async () => {
          await table.updateEntity(toEntity(next), 'Replace', { etag: current.etag });
          return true;
        },
        async () => ((await this.readBack(next)) ? true : undefined),
      );
    } catch (error) {
      if (storageStatus(error) === 404) throw new PreconditionFailedError('the subscription is gone');
      translateStorageError(error);
    }
    // Index rows after the change: if these fail, the old entry is dropped as stale at its visit.
    try {
      if (next.expirationDateTime !== current.value.expirationDateTime) {
        const ownerRow = {
          partitionKey: ownerPartition(next.ownerId),
          rowKey: next.id,
          expirationDateTime: next.expirationDateTime,
        };
        await table.upsertEntity(ownerRow, 'Replace');
      }
      if (moved) await table.deleteEntity(DUE, dueRow(current.value.dueDateTime, next.id)).catch(ignoreNotFound);
    } catch (error) {
      translateStorageError(error);
    }
  }

  async remove(id: string, now: Date, budget: number): Promise<boolean> {
    const found = await this.get(id);
    if (!found) return false;
    const s = found.value;
    const removal: SubscriptionDue = {
      subscriptionId: id,
      dueDateTime: now.toISOString(),
      ownerId: s.ownerId,
      watched: s.watched,
      removal: true,
    };
    let removed = true;
    try {
      // The removal entry first: a fault after it leaves work the sweeper finishes, never rows that stay forever.
      await this.tables.subscriptions.upsertEntity(dueEntity(s, removal.dueDateTime, true), 'Replace');
      await this.tables.subscriptions.deleteEntity(PARTITION, id).catch((error: unknown) => {
        ignoreNotFound(error);
        removed = false; // a concurrent removal got there first
      });
      await this.tables.subscriptions.deleteEntity(DUE, dueRow(s.dueDateTime, id)).catch(ignoreNotFound);
    } catch (error) {
      translateStorageError(error);
    }
    await this.finishRemoval(removal, budget);
    return removed;
  }

  async finishRemoval(due: SubscriptionDue, budget: number): Promise<boolean> {
    const table = this.tables.subscriptions;
    try {
      await table.deleteEntity(watchPartition(due.watched), due.subscriptionId).catch(ignoreNotFound);
      await table.deleteEntity(ownerPartition(due.ownerId), due.subscriptionId).catch(ignoreNotFound);
      const removed = await this.deleteDeliveries(
        `PartitionKey eq ${odataString(due.subscriptionId)}`,
        due.subscriptionId,
        budget,
      );
      if (removed.more) return false;
      await table.deleteEntity(DUE, dueRow(due.dueDateTime, due.subscriptionId)).catch(ignoreNotFound);
      return true;
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async dropDue(due: SubscriptionDue): Promise<void> {
    await this.tables.subscriptions
      .deleteEntity(DUE, dueRow(due.dueDateTime, due.subscriptionId))
      .catch(ignoreNotFound)
      .catch(translateStorageError);
  }

  async claimDelivery(subscriptionId: string, actionId: string, token: string): Promise<boolean> {
    const entity = { partitionKey: subscriptionId, rowKey: actionId, token };
    // The record as stored: one holding this token is this message's, also when the answer to its write was lost.
    const holder = async () => {
      const found = await this.tables.deliveries.getEntity(subscriptionId, actionId).catch((error: unknown) => {
        if (storageStatus(error) === 404) return undefined;
        throw error;
      });
      return found && ClaimEntitySchema.parse(found).token;
    };
    try {
      return await certainWrite(
        async () => {
          await this.tables.deliveries.createEntity(entity);
          return true;
        },
        async () => ((await holder()) === token ? true : undefined),
      );
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    try {
      return (await holder()) === token;
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async pruneDeliveries(subscriptionId: string, cutoff: Date, limit: number): Promise<number> {
    // Action ids sort newest first: every action started before `cutoff` sorts at or after this bound.
    const filter = `PartitionKey eq ${odataString(subscriptionId)} and RowKey ge ${odataString(actionIdUpperBoundFor(cutoff))}`;
    try {
      return (await this.deleteDeliveries(filter, subscriptionId, limit)).count;
    } catch (error) {
      return translateStorageError(error);
    }
  }

  /** Deletes the delivery records `filter` matches, at most `limit`, a transaction per 100. */
  private async deleteDeliveries(filter: string, subscriptionId: string, limit: number) {
    const rows = (await this.firstPage(filter, limit + 1, this.tables.deliveries, ['rowKey'])).map((row) =>
      String(row.rowKey),
    );
    const batch = rows.slice(0, limit);
    for (let i = 0; i < batch.length; i += TRANSACTION_SIZE) {
      const keys = batch.slice(i, i + TRANSACTION_SIZE);
      try {
        await this.tables.deliveries.submitTransaction(
          keys.map((rowKey) => ['delete', { partitionKey: subscriptionId, rowKey }]),
        );
      } catch (error) {
        // A concurrent removal deleted some of them: the rest one by one, a missing one being no failure.
        if (storageStatus(error) !== 404) throw error;
        for (const rowKey of keys)
          await this.tables.deliveries.deleteEntity(subscriptionId, rowKey).catch(ignoreNotFound);
      }
    }
    return { count: batch.length, more: rows.length > limit };
  }

  /** The whole of one (small) partition: an owner's rows are at most a cap and a few expired ones. */
  private async partition(partitionKey: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    const entities = this.tables.subscriptions.listEntities({
      queryOptions: { filter: `PartitionKey eq ${odataString(partitionKey)}` },
    });
    for await (const entity of entities) rows.push(entity);
    return rows;
  }

  /** The first `limit` rows `filter` matches, in key order, in one request (a page never reads further). */
  private async firstPage(
    filter: string,
    limit: number,
    table = this.tables.subscriptions,
    select?: string[],
  ): Promise<Record<string, unknown>[]> {
    try {
      const pages = table
        .listEntities({ queryOptions: { filter, ...(select && { select }) } })
        .byPage({ maxPageSize: limit });
      const rows: Record<string, unknown>[] = [];
      // The service may answer a filtered query with a short (even empty) page and a continuation.
      for await (const page of pages) {
        rows.push(...page);
        if (rows.length >= limit) break;
      }
      return rows.slice(0, limit);
    } catch (error) {
      return translateStorageError(error);
    }
  }
}

const secondsUntil = (time: number, now: Date) => Math.max(1, Math.ceil((time - now.getTime()) / 1000));
