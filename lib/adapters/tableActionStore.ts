import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { actionIdUpperBoundFor } from '../core/actionId';
import { isTerminal } from '../core/actionState';
import { acceptedResetEvent } from '../core/auditEvents';
import { invalidRequest, PreconditionFailedError } from '../core/errors';
import { ActionStateSchema, type DeviceAction, OperatingSystemSchema, PasscodePolicySchema } from '../core/model';
import type {
  ActionStore,
  CreateActionResult,
  DeviceProfile,
  IdempotencyRecord,
  InFlightGuard,
  ListActionsQuery,
  Page,
  ResetContext,
  Versioned,
} from '../ports';
import { storageStatus, translateStorageError } from './storageErrors';
import { ACCEPTED_ACTIONS_FILTER, TableAuditLog } from './tableAuditLog';
import { checkContinuationToken, odataString } from './tableClients';

/** Row keys inside a device's partition of the actions table. */
const GUARD_ROW = 'inflight';
const PROFILE_ROW = 'profile';
const actionRow = (actionId: string) => `action_${actionId}`;

export interface ActionTables {
  /**
   * Partition = deviceId: the device's actions, its in-flight guard (so they change atomically together) and its
   * reset profile (so that accepting a reset is one read).
   */
  actions: TableClient;
  /** The audit table: its accepted-request events are the all-devices list ("Device actions"), newest first. */
  audit: TableClient;
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
const PointerSchema = z.object({ rowKey: z.string(), deviceId: z.string(), actionId: z.string() });

/** The all-devices list's skip token: the audit row key of the last event read. */
const encodeFeedToken = (rowKey: string) => Buffer.from(`after:${rowKey}`, 'utf8').toString('base64url');
function decodeFeedToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^after:(\d{13}-[A-Za-z0-9._-]{1,128})$/.exec(text);
  if (!match?.[1]) {
    throw invalidRequest(
      'The $skipToken is not valid; use the @odata.nextLink of the previous page as is.',
      [],
      '$skipToken',
    );
  }
  return match[1];
}
const ProfileEntitySchema = z.object({
  profile: z.string().transform((text, ctx) => {
    const parsed = z
      .object({
        operatingSystem: OperatingSystemSchema,
        osVersion: z.string(),
        azureADJoined: z.boolean(),
        passcodePolicy: PasscodePolicySchema,
      })
      .safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: 'bad device profile' });
    return z.NEVER;
  }),
});

/** ActionStore on Azure Table Storage. */
export class TableActionStore implements ActionStore {
  private readonly auditLog: TableAuditLog;

  constructor(private readonly tables: ActionTables) {
    this.auditLog = new TableAuditLog(tables.audit);
  }

  async create(action: DeviceAction): Promise<CreateActionResult> {
    let etag: string | undefined;
    try {
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
      etag = result.subResponses[0]?.etag;
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    if (etag) {
      // A crash right here leaves the action pending without its event and its message: the sweeper re-records the
      // (identical) event and re-enqueues the action.
      await this.auditLog.record(acceptedResetEvent(action));
      return { created: true, etag };
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
    const entity = toEntity(next);
    const ifMatch = { etag: current.etag };
    try {
      // The write that ends the action releases its guard in the same transaction: if the ETag check fails, neither
      // happens. Later writes of a terminal action (a passcode purge) leave the guard alone: by then it is absent or
      // held by a newer action of the device. (A transaction delete cannot carry an ETag; this one needs none, since
      // while `current` is the stored, non-terminal version, the guard is this action's.)
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

  /**
   * Walks the accepted events newest first and joins each to its action. With an actionState filter it reads on until
   * the page is full (or 10 pointer pages were read), so that filtered pages are not short; the skip token is the row
   * key of the last event read (keyset paging).
   */
  async listAll(query: ListActionsQuery): Promise<Page<DeviceAction>> {
    let after = decodeFeedToken(query.skipToken);
    // The service may answer a filtered query with an empty page and a continuation; follow it.
    let continuation: string | undefined;
    const items: DeviceAction[] = [];
    for (let round = 0; round < 10 && items.length < query.top; round++) {
      const filter = after ? `${ACCEPTED_ACTIONS_FILTER} and RowKey gt ${odataString(after)}` : ACCEPTED_ACTIONS_FILTER;
      const page = await this.queryPage(
        this.tables.audit,
        filter,
        { top: query.top, ...(continuation && { skipToken: continuation }) },
        ['rowKey', 'deviceId', 'actionId'],
      );
      const pointers = page.items.map((e) => PointerSchema.parse(e));
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
        if (items.length === query.top) break;
      }
      if (after === pointers.at(-1)?.rowKey && !page.nextToken) return { items };
    }
    return { items, ...(after && { nextToken: encodeFeedToken(after) }) };
  }

  async resetContext(deviceId: string, since: Date, limit: number): Promise<ResetContext> {
    // Action rows sort before the profile row ("action_" < "profile"); the daily limit keeps the window small.
    const recent = `RowKey ge ${odataString(actionRow(''))} and RowKey lt ${odataString(actionRow(actionIdUpperBoundFor(since)))}`;
    const filter = `PartitionKey eq ${odataString(deviceId)} and ((${recent}) or RowKey eq ${odataString(PROFILE_ROW)})`;
    const rows: Record<string, unknown>[] = [];
    try {
      for await (const row of this.tables.actions.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        rows.push(row);
      }
    } catch (error) {
      return translateStorageError(error);
    }
    const profileRow = rows.find((r) => r.rowKey === PROFILE_ROW);
    const recentStarts = rows
      .filter((r) => r.rowKey !== PROFILE_ROW)
      .slice(0, limit)
      .map((r) => z.object({ startDateTime: z.string() }).parse(r).startDateTime);
    return { ...(profileRow && { profile: ProfileEntitySchema.parse(profileRow).profile }), recentStarts };
  }

  async putDeviceProfile(deviceId: string, profile: DeviceProfile): Promise<void> {
    try {
      await this.tables.actions.upsertEntity(
        { partitionKey: deviceId, rowKey: PROFILE_ROW, profile: JSON.stringify(profile) },
        'Replace',
      );
    } catch (error) {
      translateStorageError(error);
    }
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
