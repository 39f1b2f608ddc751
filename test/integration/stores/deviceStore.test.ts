import { describe, expect, inject, it } from 'vitest';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { TableDeviceStore } from '../../../lib/adapters/tableDeviceStore';
import { MemoryDeviceStore } from '../../support/memoryStores';
import { deviceFixture } from '../../support/services';
import { describeDeviceStoreContract } from '../../support/storeContracts';

let n = 0;
const tableName = () => `d${Date.now().toString(36)}${++n}`;

describeDeviceStoreContract('MemoryDeviceStore', async () => ({ subject: new MemoryDeviceStore() }));

describeDeviceStoreContract('TableDeviceStore on Azurite', async () => {
  const table = tableClient(inject('storageConnectionString'), tableName());
  await ensureTable(table);
  return { subject: new TableDeviceStore(table), dispose: () => table.deleteTable() };
});

describe('TableDeviceStore with a device written before the indexes', () => {
  it('indexes it at its next PUT, although it has no index rows to drop', async () => {
    const table = tableClient(inject('storageConnectionString'), tableName());
    await ensureTable(table);
    const store = new TableDeviceStore(table);
    const device = deviceFixture({ id: 'legacy-1', deviceName: 'Legacy phone' });
    // As the previous version wrote it: the device row alone.
    await table.createEntity({
      partitionKey: 'device',
      rowKey: device.id,
      deviceName: device.deviceName,
      operatingSystem: device.operatingSystem,
      osVersion: device.osVersion,
      azureADJoined: device.azureADJoined,
      userPrincipalName: device.userPrincipalName,
      passcodePolicy: JSON.stringify(device.passcodePolicy),
      createdDateTime: device.createdDateTime,
      lastUpdatedDateTime: device.lastUpdatedDateTime,
    });
    await expect(store.list({ top: 5, deviceNamePrefix: 'legacy' })).resolves.toEqual({ items: [] });
    const current = await store.read(device.id);
    await store.put({ ...device, deviceName: 'Legacy phone 2' }, current);
    const found = await store.list({ top: 5, deviceNamePrefix: 'legacy' });
    expect(found.items.map((d) => d.deviceName)).toEqual(['Legacy phone 2']);
    await table.deleteTable();
  });
});
