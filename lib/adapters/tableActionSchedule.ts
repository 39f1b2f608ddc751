import type { TableClient } from '@azure/data-tables';
import { PreconditionFailedError } from '../core/errors';
import type { ActionSchedule, ScheduleEntry } from '../ports';
import * as z from '../zod';
import { certainWrite } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { odataString } from './tableClients';

/** The one partition of the schedule table. */
const PARTITION = 'due';

/** Row key = due time (13-digit milliseconds), then the action id: a range query returns what is due, earliest first. */
const rowKeyOf = (entry: Pick<ScheduleEntry, 'dueDateTime' | 'actionId'>) =>
  `${String(new Date(entry.dueDateTime).getTime()).padStart(13, '0')}-${entry.actionId}`;

const EntrySchema = z.lazy(() =>
  z.object({
    deviceId: z.string(),
    actionId: z.string(),
    dueDateTime: z.string(),
    visits: z.number().check(z.int(), z.minimum(0)),
  }),
);

/**
 * ActionSchedule on Azure Table Storage, one partition ordered by due time. Moving an entry is one entity-group
 * transaction (create the new row, delete the old one): it fails as a whole when another sweeper moved it first.
 */
export class TableActionSchedule implements ActionSchedule {
  constructor(private readonly table: TableClient) {}

  async add(entry: ScheduleEntry): Promise<void> {
    try {
      await this.table.createEntity({ partitionKey: PARTITION, rowKey: rowKeyOf(entry), ...entry });
    } catch (error) {
      if (storageStatus(error) !== 409) translateStorageError(error);
    }
  }

  async listDue(now: Date, limit: number): Promise<ScheduleEntry[]> {
    const upTo = `${String(now.getTime()).padStart(13, '0')}.`;
    const filter = `PartitionKey eq ${odataString(PARTITION)} and RowKey lt ${odataString(upTo)}`;
    try {
      const pages = this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: limit });
      const { value } = await pages.next();
      return (value ?? []).map((entity: unknown) => EntrySchema.parse(entity));
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async reschedule(entry: ScheduleEntry, due: Date): Promise<void> {
    const next: ScheduleEntry = { ...entry, dueDateTime: due.toISOString(), visits: entry.visits + 1 };
    if (rowKeyOf(next) === rowKeyOf(entry)) return;
    try {
      await certainWrite(
        async () => {
          await this.table.submitTransaction([
            ['create', { partitionKey: PARTITION, rowKey: rowKeyOf(next), ...next }],
            ['delete', { partitionKey: PARTITION, rowKey: rowKeyOf(entry) }],
          ]);
          return true;
        },
        // This move already happened (its answer was lost): the new entry is there with this visit, the old one gone.
        async () => ((await this.has(next)) && !(await this.has(entry)) ? true : undefined),
      );
    } catch (error) {
      const status = storageStatus(error);
      if (status === 404 || status === 409) throw new PreconditionFailedError('the schedule entry moved');
      translateStorageError(error);
    }
  }

  private async has(entry: ScheduleEntry): Promise<boolean> {
    try {
      const stored = EntrySchema.parse(await this.table.getEntity(PARTITION, rowKeyOf(entry)));
      return stored.visits === entry.visits;
    } catch (error) {
      if (storageStatus(error) === 404) return false;
      throw error;
    }
  }

  async remove(entry: ScheduleEntry): Promise<void> {
    try {
      await this.table.deleteEntity(PARTITION, rowKeyOf(entry));
    } catch (error) {
      if (storageStatus(error) !== 404) translateStorageError(error);
    }
  }
}
