import type { TableClient } from '@azure/data-tables';
import { type Device, OperatingSystemSchema, PasscodePolicySchema } from '../core/model';
import type { DeviceStore, Page } from '../ports';
import * as z from '../zod';
import { storageStatus, translateStorageError } from './storageErrors';
import { checkContinuationToken, jsonColumn, odataString } from './tableClients';

const PARTITION = 'device';

const DeviceEntitySchema = z.lazy(() =>
  z.object({
    rowKey: z.string(),
    deviceName: z.string(),
    operatingSystem: OperatingSystemSchema,
    osVersion: z.string(),
    azureADJoined: z.boolean(),
    userPrincipalName: z.optional(z.string()),
    passcodePolicy: jsonColumn(PasscodePolicySchema, 'passcodePolicy'),
    createdDateTime: z.string(),
    lastUpdatedDateTime: z.string(),
  }),
);

function toDevice(entity: unknown): Device {
  const e = DeviceEntitySchema.parse(entity);
  return {
    id: e.rowKey,
    deviceName: e.deviceName,
    operatingSystem: e.operatingSystem,
    osVersion: e.osVersion,
    azureADJoined: e.azureADJoined,
    ...(e.userPrincipalName !== undefined ? { userPrincipalName: e.userPrincipalName } : {}),
    passcodePolicy: e.passcodePolicy,
    createdDateTime: e.createdDateTime,
    lastUpdatedDateTime: e.lastUpdatedDateTime,
  };
}

/**
 * The device inventory in one table. Devices share one partition so that listing is a single ordered
 * range scan; inventory writes are rare (see docs/PERFORMANCE.md for the partition limits).
 */
export class TableDeviceStore implements DeviceStore {
  constructor(private readonly table: TableClient) {}

  async get(deviceId: string): Promise<Device | undefined> {
    try {
      return toDevice(await this.table.getEntity(PARTITION, deviceId));
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      return translateStorageError(error);
    }
  }

  async put(device: Device): Promise<'created' | 'updated'> {
    const { id, passcodePolicy, ...rest } = device;
    const entity = { partitionKey: PARTITION, rowKey: id, ...rest, passcodePolicy: JSON.stringify(passcodePolicy) };
    try {
      await this.table.createEntity(entity);
      return 'created';
    } catch (error) {
      if (storageStatus(error) !== 409) return translateStorageError(error);
    }
    try {
      await this.table.updateEntity(entity, 'Replace');
      return 'updated';
    } catch (error) {
      return translateStorageError(error);
    }
  }

  async list(query: { operatingSystem?: string; top: number; skipToken?: string }): Promise<Page<Device>> {
    const filters = [`PartitionKey eq ${odataString(PARTITION)}`];
    if (query.operatingSystem) filters.push(`operatingSystem eq ${odataString(query.operatingSystem)}`);
    const continuationToken = checkContinuationToken(query.skipToken);
    try {
      const pages = this.table
        .listEntities({ queryOptions: { filter: filters.join(' and ') } })
        .byPage({ maxPageSize: query.top, ...(continuationToken ? { continuationToken } : {}) });
      const { value: page } = await pages.next();
      const items = (page ?? []).map(toDevice);
      const next: string | undefined = page?.continuationToken;
      return { items, ...(next ? { nextToken: next } : {}) };
    } catch (error) {
      return translateStorageError(error);
    }
  }
}
