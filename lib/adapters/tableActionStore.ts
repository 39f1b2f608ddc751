import type { TableClient, TransactionAction } from '@azure/data-tables';
import { actionIdUpperBoundFor } from '../core/actionId';
import { checkChange, isTerminal } from '../core/actionLifecycle';
import { PreconditionFailedError } from '../core/errors';
import {
  type ActionState,
  ActionStateSchema,
  type DeviceAction,
  OperatingSystemSchema,
  PasscodePolicySchema,
} from '../core/model';
import type { ActionStore, CreateActionResult, ListActionsQuery, Page, ResetContext, Versioned } from '../ports';
import * as z from '../zod';
import { certainWrite, sameContent } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { checkContinuationToken, jsonColumn, odataString } from './tableClients';

/** Row keys inside a device's partition of the actions table. */
const GUARD_ROW = 'inflight';
const actionRow = (actionId: string) => `action_${actionId}`;

export interface ActionTables {
  /**
   * Partition = deviceId: the device's actions and its in-flight guard, so that they change atomically together and
   * accepting a reset reads them in one query.
   */
  actions: TableClient;
}

const TargetSchema = z.lazy(() =>
  z.object({
    operatingSystem: OperatingSystemSchema,
    osVersion: z.string(),
    passcodePolicy: PasscodePolicySchema,
  }),
);

const CommandSchema = z.lazy(() =>
  z.object({
    state: z.enum(['waitingForDevice', 'confirming']),
    reference: z.optional(z.string()),
    sentDateTime: z.string(),
    expiresDateTime: z.optional(z.string()),
    deviceLastSeenDateTime: z.optional(z.string()),
    checks: z.number().check(z.int(), z.minimum(0)),
    cancelRequestedDateTime: z.optional(z.string()),
  }),
);

const ActionEntitySchema = z.lazy(() =>
  z.object({
    partitionKey: z.string(),
    etag: z.string(),
    actionId: z.string(),
    actionState: ActionStateSchema,
    startDateTime: z.string(),
    lastUpdatedDateTime: z.string(),
    requestedBy: z.string(),
    requestedById: z.string(),
    reason: z.optional(z.string()),
    attempts: z.number().check(z.int()),
    target: jsonColumn(TargetSchema, 'target'),
    claimedUntil: z.optional(z.string()),
    claimedBy: z.optional(z.string()),
    crashedDeliveries: z.optional(z.number().check(z.int(), z.minimum(0))),
    nextAttemptDateTime: z.optional(z.string()),
    lastErrorCode: z.optional(z.string()),
    lastErrorMessage: z.optional(z.string()),
    idempotencyKeyHash: z.optional(z.string()),
    passcodeKeyId: z.optional(z.string()),
    passcodeCiphertext: z.optional(z.string()),
    appliedDateTime: z.optional(z.string()),
    passcodeExpirationDateTime: z.optional(z.string()),
    errorCode: z.optional(z.string()),
    errorMessage: z.optional(z.string()),
    command: z.optional(jsonColumn(CommandSchema, 'command')),
  }),
);

function toVersionedAction(entity: unknown): Versioned<DeviceAction> {
  const e = ActionEntitySchema.parse(entity);
  const action: DeviceAction = {
    id: e.actionId,
    deviceId: e.partitionKey,
    actionName: 'resetPasscode',
    actionState: e.actionState,
    startDateTime: e.startDateTime,
    lastUpdatedDateTime: e.lastUpdatedDateTime,
    requestedBy: e.requestedBy,
    requestedById: e.requestedById,
    target: e.target,
    attempts: e.attempts,
    ...(e.reason !== undefined && { reason: e.reason }),
    ...(e.claimedUntil !== undefined && { claimedUntil: e.claimedUntil }),
    ...(e.claimedBy !== undefined && { claimedBy: e.claimedBy }),
    ...(e.crashedDeliveries !== undefined && { crashedDeliveries: e.crashedDeliveries }),
    ...(e.nextAttemptDateTime !== undefined && { nextAttemptDateTime: e.nextAttemptDateTime }),
    ...(e.lastErrorCode !== undefined && { lastError: { code: e.lastErrorCode, message: e.lastErrorMessage ?? '' } }),
    ...(e.idempotencyKeyHash !== undefined && { idempotencyKeyHash: e.idempotencyKeyHash }),
    ...(e.passcodeKeyId !== undefined &&
      e.passcodeCiphertext !== undefined && {
        sealedPasscode: { keyId: e.passcodeKeyId, value: e.passcodeCiphertext },
      }),
    ...(e.appliedDateTime !== undefined && { appliedDateTime: e.appliedDateTime }),
    ...(e.passcodeExpirationDateTime !== undefined && { passcodeExpirationDateTime: e.passcodeExpirationDateTime }),
    ...(e.errorCode !== undefined && { error: { code: e.errorCode, message: e.errorMessage ?? '' } }),
    ...(e.command !== undefined && { command: e.command }),
  };
  return { value: action, etag: e.etag };
}

/** The action as a table entity; the passcode only as ciphertext and its key id (docs/DESIGN.md invariant 5). Tools that seed history (the benchmark) write the same format. */
export function toEntity(a: DeviceAction) {
  return {
    partitionKey: a.deviceId,
    rowKey: actionRow(a.id),
    actionId: a.id,
    actionState: a.actionState,
    startDateTime: a.startDateTime,
    lastUpdatedDateTime: a.lastUpdatedDateTime,
    requestedBy: a.requestedBy,
    requestedById: a.requestedById,
    target: JSON.stringify(a.target),
    attempts: a.attempts,
    ...(a.reason !== undefined && { reason: a.reason }),
    ...(a.claimedUntil !== undefined && { claimedUntil: a.claimedUntil }),
    ...(a.claimedBy !== undefined && { claimedBy: a.claimedBy }),
    ...(a.crashedDeliveries !== undefined && { crashedDeliveries: a.crashedDeliveries }),
    ...(a.nextAttemptDateTime !== undefined && { nextAttemptDateTime: a.nextAttemptDateTime }),
    ...(a.lastError && { lastErrorCode: a.lastError.code, lastErrorMessage: a.lastError.message }),
    ...(a.idempotencyKeyHash !== undefined && { idempotencyKeyHash: a.idempotencyKeyHash }),
    ...(a.sealedPasscode && { passcodeKeyId: a.sealedPasscode.keyId, passcodeCiphertext: a.sealedPasscode.value }),
    ...(a.appliedDateTime !== undefined && { appliedDateTime: a.appliedDateTime }),
    ...(a.passcodeExpirationDateTime !== undefined && { passcodeExpirationDateTime: a.passcodeExpirationDateTime }),
    ...(a.error && { errorCode: a.error.code, errorMessage: a.error.message }),
    ...(a.command && { command: JSON.stringify(a.command) }),
  };
}

const GuardEntitySchema = z.lazy(() => z.object({ actionId: z.string() }));
const StartEntitySchema = z.lazy(() => z.object({ startDateTime: z.string() }));

/**
 * The all-devices feed ("Device actions"): partition "~feed" of the actions table (no device id has "~"), one row per
 * action under "all|{actionId}" and one under "{actionState}|{actionId}", so that the list and each state's list are
 * key ranges, newest first (action ids sort so). A feed row is written before the action change it announces, and the
 * row it replaces is deleted after: a fault in between leaves a row that names an action not (or no longer) in that
 * state, which a read skips, and deletes once the action is finished or missing past its creation.
 */
const FEED_PARTITION = '~feed';
type FeedScope = 'all' | ActionState;
const feedRow = (scope: FeedScope, actionId: string) => `${scope}|${actionId}`;
const FeedRowSchema = z.lazy(() => z.object({ rowKey: z.string(), deviceId: z.string(), actionId: z.string() }));
/** The upserts of an action's feed rows (the scale benchmark seeds its history with them). */
export const feedWrites = (action: DeviceAction, scopes: FeedScope[]): TransactionAction[] =>
  scopes.map((scope) => [
    'upsert',
    { partitionKey: FEED_PARTITION, rowKey: feedRow(scope, action.id), deviceId: action.deviceId, actionId: action.id },
    'Replace',
  ]);
/** A feed row without its action is removed only this long after the action's creation began (it may be under way). */
const FEED_ORPHAN_MS = 10 * 60_000;

/** ActionStore on Azure Table Storage. */
export class TableActionStore implements ActionStore {
  constructor(private readonly tables: ActionTables) {}

  async create(action: DeviceAction): Promise<CreateActionResult> {
    await this.announce(action, ['all', action.actionState]);
    try {
      const guard = { partitionKey: action.deviceId, rowKey: GUARD_ROW, actionId: action.id };
      return await certainWrite(
        async () => {
          const result = await this.tables.actions.submitTransaction([
            ['create', toEntity(action)],
            ['create', guard],
          ]);
          // Sub-responses come in request order; update responses carry no row key, so go by position.
          const etag = result.subResponses[0]?.etag;
          if (!etag) throw new Error('the transaction response has no ETag for the action');
          return { created: true as const, etag };
        },
        // The action and its guard went in together: if the action is there, as meant, so is the guard.
        async () => {
          const stored = await this.getRaw(action.deviceId, action.id);
          return stored && sameContent(stored.value, action)
            ? { created: true as const, etag: stored.etag }
            : undefined;
        },
      );
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    const holder = await this.getGuard(action.deviceId);
    // The action was not created: its feed rows go (a fault here leaves them to the reads that skip them).
    await this.withdraw(action, ['all', action.actionState]).catch(() => undefined);
    if (!holder) throw new PreconditionFailedError('the in-flight guard was released while creating; try again');
    return { created: false, inFlightActionId: holder };
  }

  /** Upserts the action's feed rows (idempotent: a retry after a lost answer writes the same rows). */
  private async announce(action: DeviceAction, scopes: FeedScope[]): Promise<void> {
    const stored = async (scope: FeedScope) => {
      try {
        await this.tables.actions.getEntity(FEED_PARTITION, feedRow(scope, action.id));
        return true;
      } catch (error) {
        if (storageStatus(error) === 404) return false;
        throw error;
      }
    };
    try {
      await certainWrite(
        async () => {
          await this.tables.actions.submitTransaction(feedWrites(action, scopes));
          return true;
        },
        async () => ((await Promise.all(scopes.map(stored))).every(Boolean) ? true : undefined),
      );
    } catch (error) {
      translateStorageError(error);
    }
  }

  /** Deletes feed rows of the action; one that is gone already is no failure. */
  private async withdraw(action: Pick<DeviceAction, 'id'>, scopes: FeedScope[]): Promise<void> {
    await Promise.all(
      scopes.map(async (scope) => {
        try {
          await this.tables.actions.deleteEntity(FEED_PARTITION, feedRow(scope, action.id));
        } catch (error) {
          if (storageStatus(error) !== 404) translateStorageError(error);
        }
      }),
    );
  }

  private async getGuard(deviceId: string): Promise<string | undefined> {
    try {
      return GuardEntitySchema.parse(await this.tables.actions.getEntity(deviceId, GUARD_ROW)).actionId;
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async get(deviceId: string, actionId: string): Promise<Versioned<DeviceAction> | undefined> {
    try {
      return await this.getRaw(deviceId, actionId);
    } catch (error) {
      return translateStorageError(error);
    }
  }

  /** The action as stored, or undefined; storage errors as the SDK threw them. */
  private async getRaw(deviceId: string, actionId: string): Promise<Versioned<DeviceAction> | undefined> {
    try {
      return toVersionedAction(await this.tables.actions.getEntity(deviceId, actionRow(actionId)));
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async update(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    checkChange(current.value, next);
    const moved = next.actionState !== current.value.actionState;
    if (moved) await this.announce(next, [next.actionState]);
    const written = await this.updateAction(next, current);
    // The row of the state it left: a failure here leaves a row that reads skip (and delete once it is finished).
    if (moved) await this.withdraw(next, [current.value.actionState]).catch(() => undefined);
    return written;
  }

  private async updateAction(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    try {
      return await certainWrite(
        () => this.replace(next, current),
        async () => {
          const stored = await this.getRaw(next.deviceId, next.id);
          return stored && sameContent(stored.value, next) ? { value: next, etag: stored.etag } : undefined;
        },
      );
    } catch (error) {
      if (storageStatus(error) === 404) throw new PreconditionFailedError('the action or its guard is gone');
      return translateStorageError(error);
    }
  }

  private async replace(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    const entity = toEntity(next);
    const ifMatch = { etag: current.etag };
    // The write that ends the action releases its guard in the same transaction: if the ETag check fails, neither
    // happens. Later writes of a terminal action (a passcode purge) leave the guard alone: by then it is absent or held
    // by a newer action of the device. (A transaction delete cannot carry an ETag; this one needs none, since while
    // `current` is the stored, non-terminal version, the guard is this action's.)
    if (isTerminal(next.actionState) && !isTerminal(current.value.actionState)) {
      const result = await this.tables.actions.submitTransaction([
        ['update', entity, 'Replace', ifMatch],
        ['delete', { partitionKey: next.deviceId, rowKey: GUARD_ROW }],
      ]);
      // Sub-responses come in request order; update responses carry no row key, so go by position.
      const etag = result.subResponses[0]?.etag;
      if (!etag) throw new Error('the transaction response has no ETag for the action');
      return { value: next, etag };
    }
    // A single write needs no transaction (cheaper for the service).
    const { etag } = await this.tables.actions.updateEntity(entity, 'Replace', ifMatch);
    if (!etag) throw new Error('the update response has no ETag');
    return { value: next, etag };
  }

  async remove(current: Versioned<DeviceAction>): Promise<void> {
    if (!isTerminal(current.value.actionState)) throw new PreconditionFailedError('only a finished action is removed');
    try {
      await this.tables.actions.deleteEntity(current.value.deviceId, actionRow(current.value.id), {
        etag: current.etag,
      });
    } catch (error) {
      // Gone already (a retry of a delete that committed) or changed since read: either way nothing to remove.
      if (storageStatus(error) !== 404 && storageStatus(error) !== 412) translateStorageError(error);
    }
    // A row left by a fault here is skipped and deleted by the reads (its action is missing).
    await this.withdraw(current.value, ['all', current.value.actionState]).catch(() => undefined);
  }

  async listForDevice(deviceId: string, query: ListActionsQuery): Promise<Page<DeviceAction>> {
    const filters = [
      `PartitionKey eq ${odataString(deviceId)}`,
      `RowKey ge ${odataString(actionRow(''))}`,
      `RowKey lt ${odataString('action`')}`,
    ];
    if (query.actionState) filters.push(`actionState eq ${odataString(query.actionState)}`);
    const page = await this.queryPage(this.tables.actions, filters.join(' and '), query);
    return { items: page.items.map((e) => toVersionedAction(e).value), ...pick(page) };
  }

  /**
   * A page of the feed (every action, or one state's), newest first: one key-range read of at most `top` feed rows, then
   * each row's action. Rows a fault left behind are skipped, so a page may be short, with a continuation.
   */
  async listAll(query: ListActionsQuery): Promise<Page<DeviceAction>> {
    const scope: FeedScope = query.actionState ?? 'all';
    const range = `PartitionKey eq ${odataString(FEED_PARTITION)} and RowKey gt ${odataString(`${scope}|`)} and RowKey lt ${odataString(`${scope}|~`)}`;
    const page = await this.queryPage(this.tables.actions, range, query, ['rowKey', 'deviceId', 'actionId']);
    const rows = page.items.map((row) => FeedRowSchema.parse(row));
    const found = await Promise.all(rows.map((row) => this.get(row.deviceId, row.actionId)));
    const items: DeviceAction[] = [];
    const stale: DeviceAction['id'][] = [];
    for (const [i, row] of rows.entries()) {
      const action = found[i]?.value;
      if (action && (scope === 'all' || action.actionState === scope)) items.push(action);
      else if (action ? isTerminal(action.actionState) : startedBefore(row.actionId, FEED_ORPHAN_MS))
        stale.push(row.actionId);
    }
    await Promise.all(stale.map((id) => this.withdraw({ id }, [scope]).catch(() => undefined)));
    return { items, ...pick(page) };
  }

  async resetContext(deviceId: string, since: Date, limit: number): Promise<ResetContext> {
    // Action rows sort before the guard row ("action_" < "inflight"); the daily limit keeps the window small.
    const recent = `RowKey ge ${odataString(actionRow(''))} and RowKey lt ${odataString(actionRow(actionIdUpperBoundFor(since)))}`;
    const filter = `PartitionKey eq ${odataString(deviceId)} and ((${recent}) or RowKey eq ${odataString(GUARD_ROW)})`;
    const rows: Record<string, unknown>[] = [];
    try {
      for await (const row of this.tables.actions.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        rows.push(row);
      }
    } catch (error) {
      return translateStorageError(error);
    }
    const guardRow = rows.find((r) => r.rowKey === GUARD_ROW);
    const recentStarts = rows
      .filter((r) => r.rowKey !== GUARD_ROW)
      .slice(0, limit)
      .map((r) => StartEntitySchema.parse(r).startDateTime);
    return {
      ...(guardRow && { inFlightActionId: GuardEntitySchema.parse(guardRow).actionId }),
      recentStarts,
    };
  }

  private async queryPage(
    table: TableClient,
    filter: string,
    query: ListActionsQuery,
    select?: string[],
  ): Promise<{ items: Record<string, unknown>[]; nextToken?: string }> {
    const continuationToken = checkContinuationToken(query.skipToken);
    try {
      const pages = table
        .listEntities<Record<string, unknown>>({ queryOptions: { filter, ...(select && { select }) } })
        .byPage({ maxPageSize: query.top, ...(continuationToken ? { continuationToken } : {}) });
      const { value } = await pages.next();
      const next: string | undefined = value?.continuationToken;
      return { items: value ? [...value] : [], ...(next ? { nextToken: next } : {}) };
    } catch (error) {
      return translateStorageError(error);
    }
  }
}

/** Whether the action with this id began its creation more than `ms` ago (its id holds its start time). */
const startedBefore = (actionId: string, ms: number) => actionId > actionIdUpperBoundFor(new Date(Date.now() - ms));

const pick = (page: { nextToken?: string }) => (page.nextToken ? { nextToken: page.nextToken } : {});
