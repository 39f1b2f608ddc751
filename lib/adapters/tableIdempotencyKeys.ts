import type { TableClient } from '@azure/data-tables';
import type { IdempotencyKeys, IdempotencyRecord, Versioned } from '../ports';
import * as z from '../zod';
import { certainWrite } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';

const RecordSchema = z.lazy(() =>
  z.object({
    etag: z.string(),
    deviceId: z.string(),
    requestHash: z.string(),
    actionId: z.string(),
    createdDateTime: z.string(),
  }),
);

/** Idempotency-Key reservations on Azure Table Storage: partition = hash of caller and key, one row each. */
export class TableIdempotencyKeys implements IdempotencyKeys {
  constructor(private readonly table: TableClient) {}

  async find(keyHash: string): Promise<Versioned<IdempotencyRecord> | undefined> {
    try {
      const { etag, ...value } = RecordSchema.parse(await this.table.getEntity(keyHash, ''));
      return { value, etag };
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async reserve(keyHash: string, record: IdempotencyRecord, replacing?: Versioned<IdempotencyRecord>) {
    const entity = { partitionKey: keyHash, rowKey: '', ...record };
    try {
      return await certainWrite(
        async () => {
          if (replacing) await this.table.updateEntity(entity, 'Replace', { etag: replacing.etag });
          else await this.table.createEntity(entity);
          return true;
        },
        // Reserved already by this very request (its answer was lost): the record names this action.
        async () => ((await this.find(keyHash))?.value.actionId === record.actionId ? true : undefined),
      );
    } catch (error) {
      const status = storageStatus(error);
      if (status === 409 || status === 412 || status === 404) return false;
      return translateStorageError(error);
    }
  }

  async remove(keyHash: string, actionId: string): Promise<void> {
    const found = await this.find(keyHash);
    if (found?.value.actionId !== actionId) return;
    try {
      await this.table.deleteEntity(keyHash, '', { etag: found.etag });
    } catch (error) {
      const status = storageStatus(error);
      if (status !== 404 && status !== 412) translateStorageError(error);
    }
  }
}
