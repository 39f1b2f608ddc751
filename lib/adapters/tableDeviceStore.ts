import type { TableClient, TransactionAction } from '@azure/data-tables';
import pLimit from 'p-limit';
import {
  type DeviceQuery,
  deviceIndexKeys,
  deviceMatches,
  INDEX_KEY_START,
  planDeviceQuery,
} from '../core/deviceQuery';
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
import { checkContinuationToken, jsonColumn, odataString, TRANSACTION_SIZE } from './tableClients';

const PARTITION = 'device';

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
    deviceId: z.optional(z.string()),
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

/** A device row, or an index row (whose `deviceId` column names the device its copy is of). */
function toDevice(entity: unknown): Device {
  const e = DeviceEntitySchema.parse(entity);
  return {
    id: e.deviceId ?? e.rowKey,
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

/** A copy of the device under one index key; it answers a search without reading the device row. */
function toIndexEntity(device: Device, rowKey: string) {
  const { androidManagementSyncedDateTime: _synced, androidManagementState: _state, ...columns } = toEntity(device);
  return { ...columns, rowKey, deviceId: device.id };
}

type Current = Versioned<Device> | undefined;

/**
 * The writes that put `device` where `current` is: the device row, its index rows, and the index rows it leaves. The
 * scale benchmark loads its fleet with them, so that it stores what the app stores.
 */
export function deviceWrites(device: Device, current: Current, dropOldIndex: boolean): TransactionAction[] {
  const entity = toEntity(device);
  const keys = deviceIndexKeys(device);
  const left = current && dropOldIndex ? deviceIndexKeys(current.value).filter((key) => !keys.includes(key)) : [];
  return [
    current ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity],
    ...keys.map((key): TransactionAction => ['upsert', toIndexEntity(device, key), 'Replace']),
    ...left.map((rowKey): TransactionAction => ['delete', { partitionKey: PARTITION, rowKey }]),
  ];
}

/** How many times a synced device is read and written again when a PUT changed it in between. */
const SYNC_WRITE_ATTEMPTS = 5;
/** Parallel reads of the devices a sync page is about to replace. */
const SYNC_READS_AT_ONCE = 20;

/**
 * The device inventory in one table and one partition: device rows (keyed by id) and, after them, index rows (keyed
 * "~name|…", "~upn.iOS|…": deviceQuery.ts) holding a copy of the device, written in the same entity-group transaction
 * as the device, so an index is never out of step with what it indexes and a search reads one key range
 * (docs/architecture.md "Finding a device"; docs/PERFORMANCE.md for the partition limits).
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

  async put(device: Device, current?: Versioned<Device>): Promise<Versioned<Device>> {
    try {
      return await this.write(device, current);
    } catch (error) {
      if (storageStatus(error) === 404 || storageStatus(error) === 412 || storageStatus(error) === 409) {
        throw new PreconditionFailedError('the device is not what was read');
      }
      return translateStorageError(error);
    }
  }

  /**
   * One transaction: the device (created, or replacing the version read) and its index. A device written before the
   * index existed has no index rows to drop, and deleting a missing row fails the whole transaction (404): it is then
   * written again without the drops.
   */
  private async write(device: Device, current: Current): Promise<Versioned<Device>> {
    const submit = (dropOldIndex: boolean) =>
      certainWrite(
        async () => {
          const result = await this.table.submitTransaction(deviceWrites(device, current, dropOldIndex));
          // Sub-responses come in request order; the device's write is the first.
          const etag = result.subResponses[0]?.etag;
          if (!etag) throw new Error('the transaction response has no ETag for the device');
          return { value: device, etag };
        },
        async () => {
          const stored = await this.readRaw(device.id);
          return stored && sameContent(stored.value, device) ? stored : undefined;
        },
      );
    try {
      return await submit(true);
    } catch (error) {
      if (storageStatus(error) !== 404 || !current) throw error;
      return await submit(false);
    }
  }

  async list(query: DeviceQuery & { top: number; skipToken?: string }): Promise<Page<Device>> {
    const plan = planDeviceQuery(query);
    if (plan.kind === 'id') {
      const found = await this.get(plan.id);
      return { items: found && deviceMatches(found, query) ? [found] : [] };
    }
    const range =
      plan.kind === 'index'
        ? [`RowKey ge ${odataString(plan.from)}`, `RowKey lt ${odataString(plan.to)}`]
        : [`RowKey lt ${odataString(INDEX_KEY_START)}`];
    const filter = [`PartitionKey eq ${odataString(PARTITION)}`, ...range].join(' and ');
    const continuationToken = checkContinuationToken(query.skipToken);
    try {
      const pages = this.table
        .listEntities({ queryOptions: { filter } })
        .byPage({ maxPageSize: query.top, ...(continuationToken ? { continuationToken } : {}) });
      const { value: page } = await pages.next();
      // Index keys are cut at a length; the final check drops a device that matched only the cut part.
      const items = (page ?? []).map(toDevice).filter((device: Device) => deviceMatches(device, query));
      const next: string | undefined = page?.continuationToken;
      return { items, ...(next ? { nextToken: next } : {}) };
    } catch (error) {
      return translateStorageError(error);
    }
  }

  /**
   * Writes a sync page's devices with their indexes: each device's current version is read (its index rows to drop
   * follow from it), then the writes go 100 to a transaction. A device a PUT changed in between fails its group, whose
   * devices are then read and written one by one.
   */
  async putSynced(devices: Device[]): Promise<void> {
    try {
      const limit = pLimit(SYNC_READS_AT_ONCE);
      const current: Current[] = await Promise.all(devices.map((d) => limit(() => this.readRaw(d.id))));
      let group: TransactionAction[] = [];
      let members: number[] = [];
      const flush = async () => {
        if (group.length === 0) return;
        try {
          await this.table.submitTransaction(group);
        } catch (error) {
          if (![404, 409, 412].includes(storageStatus(error) ?? 0)) throw error;
          for (const i of members) await this.writeSynced(devices[i] as Device);
        }
        group = [];
        members = [];
      };
      for (const [i, device] of devices.entries()) {
        const writes = deviceWrites(device, current[i], true);
        if (group.length + writes.length > TRANSACTION_SIZE) await flush();
        group.push(...writes);
        members.push(i);
      }
      await flush();
    } catch (error) {
      translateStorageError(error);
    }
  }

  /** One synced device, read again and written, as often as a concurrent PUT gets in between. */
  private async writeSynced(device: Device): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.write(device, await this.readRaw(device.id));
        return;
      } catch (error) {
        const conflict = [404, 409, 412].includes(storageStatus(error) ?? 0);
        if (!conflict || attempt >= SYNC_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  async listSyncedBefore(cutoff: Date, limit: number): Promise<Device[]> {
    const filter = [
      `PartitionKey eq ${odataString(PARTITION)}`,
      `RowKey lt ${odataString(INDEX_KEY_START)}`,
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
