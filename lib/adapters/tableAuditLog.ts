import type { TableClient } from '@azure/data-tables';
import { actionIdUpperBoundFor } from '../core/actionId';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditLog, type AuditQuery, type Page } from '../ports';
import * as z from '../zod';
import { storageStatus, translateStorageError } from './storageErrors';
import { checkContinuationToken, odataString, TRANSACTION_SIZE } from './tableClients';

/** The one partition of the audit table. */
const AUDIT_PARTITION = 'audit';

/** Row key = inverted event time, then the event id: the partition lists newest first. */
export function auditEntity(event: AuditEvent) {
  const { id, ...rest } = event;
  const rowKey = `${actionIdUpperBoundFor(new Date(event.eventDateTime))}-${id}`;
  return { partitionKey: AUDIT_PARTITION, rowKey, eventId: id, ...rest };
}

const AuditEntitySchema = z.lazy(() =>
  z.object({
    eventId: z.string(),
    eventDateTime: z.string(),
    eventType: z.enum(AUDIT_EVENT_TYPES),
    callerId: z.string(),
    callerName: z.string(),
    deviceId: z.string(),
    actionId: z.optional(z.string()),
    reason: z.optional(z.string()),
    outcome: z.enum(['success', 'failure']),
    detail: z.optional(z.string()),
  }),
);

function toEvent(entity: unknown): AuditEvent {
  const { eventId, ...rest } = AuditEntitySchema.parse(entity);
  return { id: eventId, ...rest };
}

/** The audit trail in one append-only partition, row key = inverted time, so it lists newest first. */
export class TableAuditLog implements AuditLog {
  constructor(private readonly table: TableClient) {}

  async record(event: AuditEvent): Promise<void> {
    try {
      await this.table.createEntity(auditEntity(event));
    } catch (error) {
      // The same event again (same time and id): append-only, so the first one stands.
      if (storageStatus(error) !== 409) translateStorageError(error);
    }
  }

  async list(query: AuditQuery): Promise<Page<AuditEvent>> {
    const filters = [`PartitionKey eq ${odataString(AUDIT_PARTITION)}`];
    // Row keys are inverted times: later events have smaller keys.
    if (query.to) filters.push(`RowKey ge ${odataString(actionIdUpperBoundFor(query.to))}`);
    if (query.from) filters.push(`RowKey lt ${odataString(`${actionIdUpperBoundFor(query.from)}.`)}`);
    if (query.deviceId) filters.push(`deviceId eq ${odataString(query.deviceId)}`);
    const continuationToken = checkContinuationToken(query.skipToken);
    try {
      const pages = this.table
        .listEntities({ queryOptions: { filter: filters.join(' and ') } })
        .byPage({ maxPageSize: query.top, ...(continuationToken && { continuationToken }) });
      const { value } = await pages.next();
      const items = (value ?? []).map(toEvent);
      const next: string | undefined = value?.continuationToken;
      return { items, ...(next && { nextToken: next }) };
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async listOlderThan(cutoff: Date, limit: number): Promise<AuditEvent[]> {
    // Inverted times: events before the cutoff have larger row keys ('~' sorts after the '-' that follows the time).
    const filter = `PartitionKey eq ${odataString(AUDIT_PARTITION)} and RowKey gt ${odataString(`${actionIdUpperBoundFor(cutoff)}~`)}`;
    try {
      const pages = this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: limit });
      const { value } = await pages.next();
      return (value ?? []).map(toEvent);
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async remove(events: AuditEvent[]): Promise<void> {
    const keys = events.map((event) => auditEntity(event).rowKey);
    for (let i = 0; i < keys.length; i += TRANSACTION_SIZE) {
      const batch = keys.slice(i, i + TRANSACTION_SIZE);
      try {
        await this.table.submitTransaction(
          batch.map((rowKey) => ['delete', { partitionKey: AUDIT_PARTITION, rowKey }]),
        );
      } catch (error) {
        // One event already gone fails the whole transaction: delete them one by one then.
        if (storageStatus(error) !== 404) translateStorageError(error);
        await Promise.all(batch.map((rowKey) => this.deleteOne(rowKey)));
      }
    }
  }

  private async deleteOne(rowKey: string): Promise<void> {
    try {
      await this.table.deleteEntity(AUDIT_PARTITION, rowKey);
    } catch (error) {
      if (storageStatus(error) !== 404) translateStorageError(error);
    }
  }
}
