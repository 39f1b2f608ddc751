import type { TableClient, TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { actionIdUpperBoundFor } from '../core/actionId';
import { isTerminal } from '../core/actionState';
import { PreconditionFailedError } from '../core/errors';
import { ActionStateSchema, type DeviceAction, OperatingSystemSchema, PasscodePolicySchema } from '../core/model';
import type {
  ActionStore,
  CreateActionResult,
  IdempotencyRecord,
  InFlightGuard,
  ListActionsQuery,
  Page,
  Versioned,
} from '../ports';
import { storageStatus, translateStorageError } from './storageErrors';
import { checkContinuationToken, odataString } from './tableClients';

/** Row keys inside a device's partition of the actions table. */
const GUARD_ROW = 'inflight';
const actionRow = (actionId: string) => `action_${actionId}`;
const FEED_PARTITION = 'feed';

export interface ActionTables {
  /** Partition = deviceId: the device's actions and its in-flight guard, so they change atomically together. */
  actions: TableClient;
  /** One partition, row key = actionId (time-descending), pointing at every action: the "Device actions" list. */
  feed: TableClient;
  /** Partition = hash of caller and Idempotency-Key. */
  idempotency: TableClient;
}

const TargetSchema = z.object({
  operatingSystem: OperatingSystemSchema,
  osVersion: z.string(),
  passcodePolicy: PasscodePolicySchema,
});

const ActionEntitySchema = z.object({
  partitionKey: z.string(),
  etag: z.string(),
  actionId: z.string(),
  actionState: ActionStateSchema,
  startDateTime: z.string(),
  lastUpdatedDateTime: z.string(),
  requestedBy: z.string(),
  requestedById: z.string(),
  reason: z.string().optional(),
  attempts: z.number().int(),
  target: z.string().transform((s, ctx) => {
    const parsed = TargetSchema.safeParse(JSON.parse(s));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: 'bad target' });
    return z.NEVER;
  }),
  passcodeKeyId: z.string().optional(),
  passcodeCiphertext: z.string().optional(),
  appliedDateTime: z.string().optional(),
  passcodeExpirationDateTime: z.string().optional(),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
});

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
    ...(e.passcodeKeyId !== undefined &&
      e.passcodeCiphertext !== undefined && {
        sealedPasscode: { keyId: e.passcodeKeyId, value: e.passcodeCiphertext },
      }),
    ...(e.appliedDateTime !== undefined && { appliedDateTime: e.appliedDateTime }),
    ...(e.passcodeExpirationDateTime !== undefined && { passcodeExpirationDateTime: e.passcodeExpirationDateTime }),
    ...(e.errorCode !== undefined && { error: { code: e.errorCode, message: e.errorMessage ?? '' } }),
  };
  return { value: action, etag: e.etag };
}

/** The action as a table entity; the passcode only as ciphertext and its key id (DESIGN.md invariant 5). */
function toEntity(a: DeviceAction) {
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
    hasPasscode: a.sealedPasscode !== undefined,
    ...(a.reason !== undefined && { reason: a.reason }),
    ...(a.sealedPasscode && { passcodeKeyId: a.sealedPasscode.keyId, passcodeCiphertext: a.sealedPasscode.value }),
    ...(a.appliedDateTime !== undefined && { appliedDateTime: a.appliedDateTime }),
    ...(a.passcodeExpirationDateTime !== undefined && { passcodeExpirationDateTime: a.passcodeExpirationDateTime }),
    ...(a.error && { errorCode: a.error.code, errorMessage: a.error.message }),
  };
}

const GuardEntitySchema = z.object({ partitionKey: z.string(), actionId: z.string(), createdDateTime: z.string() });
const IdempotencyEntitySchema = z.object({
  deviceId: z.string(),
  requestHash: z.string(),
  actionId: z.string(),
  createdDateTime: z.string(),
});
const FeedEntitySchema = z.object({ deviceId: z.string(), actionId: z.string() });

/** ActionStore on Azure Table Storage. */
export class TableActionStore implements ActionStore {
  constructor(private readonly tables: ActionTables) {}

  async create(action: DeviceAction): Promise<CreateActionResult> {
    try {
      // The feed pointer goes first: a pointer to an action that was never written is skipped when listing,
      // whereas an action without a pointer would be missing from "Device actions".
      await this.tables.feed.upsertEntity({
        partitionKey: FEED_PARTITION,
        rowKey: action.id,
        deviceId: action.deviceId,
        actionId: action.id,
      });
      const guard = {
        partitionKey: action.deviceId,
        rowKey: GUARD_ROW,
        actionId: action.id,
        createdDateTime: action.startDateTime,
      };
      const result = await this.tables.actions.submitTransaction([
        ['create', toEntity(action)],
        ['create', guard],
      ]);
      // Sub-responses come in request order; update responses carry no row key, so go by position.
      const etag = result.subResponses[0]?.etag;
      if (!etag) throw new Error('the transaction response has no ETag for the action');
      return { created: true, etag };
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    const holder = await this.getGuard(action.deviceId);
    if (!holder) throw new PreconditionFailedError('the in-flight guard was released while creating; try again');
    return { created: false, inFlightActionId: holder.actionId };
  }

  private async getGuard(deviceId: string): Promise<InFlightGuard | undefined> {
    try {
      const e = GuardEntitySchema.parse(await this.tables.actions.getEntity(deviceId, GUARD_ROW));
      return { deviceId: e.partitionKey, actionId: e.actionId, createdDateTime: e.createdDateTime };
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async get(deviceId: string, actionId: string): Promise<Versioned<DeviceAction> | undefined> {
    try {
      return toVersionedAction(await this.tables.actions.getEntity(deviceId, actionRow(actionId)));
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async update(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    const batch: TransactionAction[] = [['update', toEntity(next), 'Replace', { etag: current.etag }]];
    // The write that ends the action releases its guard in the same transaction: if the ETag check fails, neither
    // happens. Later writes of a terminal action (a passcode purge) leave the guard alone: by then it is absent or
    // held by a newer action of the device. (A transaction delete cannot carry an ETag; this one needs none, since
    // while `current` is the stored, non-terminal version, the guard is this action's.)
    if (isTerminal(next.actionState) && !isTerminal(current.value.actionState)) {
      batch.push(['delete', { partitionKey: next.deviceId, rowKey: GUARD_ROW }]);
    }
    try {
      const result = await this.tables.actions.submitTransaction(batch);
      // Sub-responses come in request order; update responses carry no row key, so go by position.
      const etag = result.subResponses[0]?.etag;
      if (!etag) throw new Error('the transaction response has no ETag for the action');
      return { value: next, etag };
    } catch (error) {
      if (storageStatus(error) === 404) throw new PreconditionFailedError('the action or its guard is gone');
      return translateStorageError(error);
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

  async listAll(query: ListActionsQuery): Promise<Page<DeviceAction>> {
    const page = await this.queryPage(this.tables.feed, `PartitionKey eq ${odataString(FEED_PARTITION)}`, query);
    const pointers = page.items.map((e) => FeedEntitySchema.parse(e));
    const actions = await Promise.all(pointers.map((p) => this.get(p.deviceId, p.actionId)));
    const items = actions
      .filter((a) => a !== undefined)
      .map((a) => a.value)
      .filter((a) => !query.actionState || a.actionState === query.actionState);
    return { items, ...pick(page) };
  }

  async startTimesSince(deviceId: string, since: Date, limit: number): Promise<string[]> {
    const filter = [
      `PartitionKey eq ${odataString(deviceId)}`,
      `RowKey ge ${odataString(actionRow(''))}`,
      `RowKey lt ${odataString(actionRow(actionIdUpperBoundFor(since)))}`,
    ].join(' and ');
    const page = await this.queryPage(this.tables.actions, filter, { top: limit }, ['startDateTime']);
    return page.items.map((e) => z.object({ startDateTime: z.string() }).parse(e).startDateTime);
  }

  async listInFlight(): Promise<InFlightGuard[]> {
    const guards: InFlightGuard[] = [];
    try {
      for await (const entity of this.tables.actions.listEntities({
        queryOptions: { filter: `RowKey eq ${odataString(GUARD_ROW)}` },
      })) {
        const e = GuardEntitySchema.parse(entity);
        guards.push({ deviceId: e.partitionKey, actionId: e.actionId, createdDateTime: e.createdDateTime });
      }
    } catch (error) {
      return translateStorageError(error);
    }
    return guards;
  }

  async listWithExpiredPasscodes(before: Date): Promise<Versioned<DeviceAction>[]> {
    const filter = `hasPasscode eq true and passcodeExpirationDateTime lt ${odataString(before.toISOString())}`;
    const found: Versioned<DeviceAction>[] = [];
    try {
      for await (const entity of this.tables.actions.listEntities({ queryOptions: { filter } })) {
        found.push(toVersionedAction(entity));
      }
    } catch (error) {
      return translateStorageError(error);
    }
    return found;
  }

  async reserveIdempotencyKey(keyHash: string, record: IdempotencyRecord): Promise<IdempotencyRecord | undefined> {
    try {
      await this.tables.idempotency.createEntity({ partitionKey: keyHash, rowKey: '', ...record });
      return undefined;
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    try {
      return IdempotencyEntitySchema.parse(await this.tables.idempotency.getEntity(keyHash, ''));
    } catch (error) {
      return translateStorageError(error);
    }
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
