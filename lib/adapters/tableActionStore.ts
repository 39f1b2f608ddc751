import type { TableClient } from '@azure/data-tables';
import { actionIdUpperBoundFor } from '../core/actionId';
import { checkChange, isTerminal } from '../core/actionLifecycle';
import { invalidSkipToken, PreconditionFailedError } from '../core/errors';
import { ActionStateSchema, type DeviceAction, OperatingSystemSchema, PasscodePolicySchema } from '../core/model';
import type { ActionStore, CreateActionResult, ListActionsQuery, Page, ResetContext, Versioned } from '../ports';
import * as z from '../zod';
import { certainWrite, sameContent } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { ACCEPTED_ACTIONS_FILTER } from './tableAuditLog';
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
  /** The audit table: its accepted-request events are the all-devices list ("Device actions"), newest first. */
  audit: TableClient;
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
const PointerSchema = z.lazy(() => z.object({ rowKey: z.string(), deviceId: z.string(), actionId: z.string() }));

/** The all-devices list's skip token: the audit row key of the last event read. */
const encodeFeedToken = (rowKey: string) => Buffer.from(`after:${rowKey}`, 'utf8').toString('base64url');
function decodeFeedToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^after:(\d{13}-[A-Za-z0-9._-]{1,128})$/.exec(text);
  if (!match?.[1]) throw invalidSkipToken();
  return match[1];
}
/** The most audit events a page of the all-devices list reads (and so the most actions it looks up). */
const MAX_EVENTS_PER_PAGE = 100;

/** ActionStore on Azure Table Storage. */
export class TableActionStore implements ActionStore {
  constructor(private readonly tables: ActionTables) {}

  async create(action: DeviceAction): Promise<CreateActionResult> {
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
    if (!holder) throw new PreconditionFailedError('the in-flight guard was released while creating; try again');
    return { created: false, inFlightActionId: holder };
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
   * Walks the accepted events newest first and joins each to its action. With an actionState filter it reads on until
   * the page is full or MAX_EVENTS_PER_PAGE events were read (a filtered page may then be short, with a continuation);
   * the skip token is the row key of the last event read (keyset paging).
   */
  async listAll(query: ListActionsQuery): Promise<Page<DeviceAction>> {
    let after = decodeFeedToken(query.skipToken);
    // The service may answer a filtered query with an empty page and a continuation; follow it.
    let continuation: string | undefined;
    const items: DeviceAction[] = [];
    let eventsRead = 0;
    while (items.length < query.top && eventsRead < MAX_EVENTS_PER_PAGE) {
      const filter = after ? `${ACCEPTED_ACTIONS_FILTER} and RowKey gt ${odataString(after)}` : ACCEPTED_ACTIONS_FILTER;
      const size = Math.min(query.top - items.length, MAX_EVENTS_PER_PAGE - eventsRead);
      const page = await this.queryPage(
        this.tables.audit,
        filter,
        { top: size, ...(continuation && { skipToken: continuation }) },
        ['rowKey', 'deviceId', 'actionId'],
      );
      const pointers = page.items.map((e) => PointerSchema.parse(e));
      eventsRead += pointers.length;
      if (pointers.length === 0) {
        if (!page.nextToken) return { items };
        continuation = page.nextToken;
        continue;
      }
      continuation = undefined;
      const actions = await Promise.all(pointers.map((p) => this.get(p.deviceId, p.actionId)));
      for (const [i, pointer] of pointers.entries()) {
        after = pointer.rowKey;
        const action = actions[i]?.value;
        if (action && (!query.actionState || action.actionState === query.actionState)) items.push(action);
      }
      if (!page.nextToken && pointers.length < size) return { items };
    }
    return { items, ...(after && { nextToken: encodeFeedToken(after) }) };
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

const pick = (page: { nextToken?: string }) => (page.nextToken ? { nextToken: page.nextToken } : {});
