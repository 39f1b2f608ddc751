import type { TableClient, TransactionAction } from '@azure/data-tables';
import { PreconditionFailedError } from '../core/errors';
import {
  ANDROID_MANAGEMENT_STATES,
  type AndroidManagementFacts,
  type Device,
  OperatingSystemSchema,
  PasscodePolicySchema,
} from '../core/model';
import type { DeviceStore, Page, Versioned } from '../ports';
import * as z from '../zod';
import { certainWrite, sameContent } from './certainWrite';
import { storageStatus, translateStorageError } from './storageErrors';
import { checkContinuationToken, jsonColumn, odataString } from './tableClients';

const PARTITION = 'device';
/** An entity-group transaction holds at most 100 operations. */
const TRANSACTION_SIZE = 100;

const AndroidManagementFactsSchema = z.lazy(() =>
  z.object({
    name: z.string(),
    managementMode: z.enum(['fullyManaged', 'workProfile']),
    ownership: z.enum(['companyOwned', 'personallyOwned', 'unspecified']),
    state: z.enum(ANDROID_MANAGEMENT_STATES),
    apiLevel: z.optional(z.number()),
    lastStatusReportDateTime: z.optional(z.string()),
    enrollmentDateTime: z.optional(z.string()),
    syncedDateTime: z.string(),
  }),
);

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
    androidManagement: z.optional(jsonColumn(AndroidManagementFactsSchema, 'androidManagement')),
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
    ...(e.androidManagement && { androidManagement: e.androidManagement as AndroidManagementFacts }),
  };
}

/**
 * A device as an entity. Android Management facts are one JSON column, plus their sync time and state as columns of
 * their own: the sync finds the devices that left the enterprise with a filter on them.
 */
function toEntity(device: Device) {
  const { id, passcodePolicy, androidManagement, ...rest } = device;
  return {
    partitionKey: PARTITION,
    rowKey: id,
    ...rest,
    passcodePolicy: JSON.stringify(passcodePolicy),
    ...(androidManagement && {
      androidManagement: JSON.stringify(androidManagement),
      androidManagementSyncedDateTime: androidManagement.syncedDateTime,
      androidManagementState: androidManagement.state,
    }),
  };
}

/**
 * The device inventory in one table. Devices share one partition so that listing is a single ordered
 * range scan and a sync writes them 100 to a transaction (see docs/PERFORMANCE.md for the partition limits).
 */
export class TableDeviceStore implements DeviceStore {
  constructor(private readonly table: TableClient) {}

  async get(deviceId: string): Promise<Device | undefined> {
    return (await this.read(deviceId))?.value;
  }

  async read(deviceId: string): Promise<Versioned<Device> | undefined> {
    try {
      return await this.readRaw(deviceId);
    } catch (error) {
      return translateStorageError(error);
    }
  }

  private async readRaw(deviceId: string): Promise<Versioned<Device> | undefined> {
    try {
      const entity = await this.table.getEntity(PARTITION, deviceId);
      return { value: toDevice(entity), etag: String(entity.etag) };
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async put(device: Device, etag?: string): Promise<Versioned<Device>> {
    const entity = toEntity(device);
    try {
      return await certainWrite(
        async () => {
          const written =
            etag === undefined
              ? await this.table.createEntity(entity)
              : await this.table.updateEntity(entity, 'Replace', { etag });
          if (!written.etag) throw new Error('the write response has no ETag');
          return { value: device, etag: written.etag };
        },
        async () => {
          const stored = await this.readRaw(device.id);
          return stored && sameContent(stored.value, device) ? stored : undefined;
        },
      );
    } catch (error) {
      if (storageStatus(error) === 404) throw new PreconditionFailedError('the device is gone');
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

  async putSynced(devices: Device[]): Promise<void> {
    try {
      for (let i = 0; i < devices.length; i += TRANSACTION_SIZE) {
        const batch = devices.slice(i, i + TRANSACTION_SIZE);
        await this.table.submitTransaction(
          batch.map((device): TransactionAction => ['upsert', toEntity(device), 'Replace']),
        );
      }
    } catch (error) {
      translateStorageError(error);
    }
  }

  async listSyncedBefore(cutoff: Date, limit: number): Promise<Device[]> {
    const filter = [
      `PartitionKey eq ${odataString(PARTITION)}`,
      `androidManagementSyncedDateTime lt ${odataString(cutoff.toISOString())}`,
      `androidManagementState ne ${odataString('deleted')}`,
    ].join(' and ');
    try {
      const found: Device[] = [];
      for await (const entity of this.table.listEntities({ queryOptions: { filter } })) {
        found.push(toDevice(entity));
        if (found.length >= limit) break;
      }
      return found;
    } catch (error) {
      return translateStorageError(error);
    }
  }
}
