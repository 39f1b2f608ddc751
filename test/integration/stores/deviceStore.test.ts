import { inject } from 'vitest';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { TableDeviceStore } from '../../../lib/adapters/tableDeviceStore';
import { MemoryDeviceStore } from '../../support/memoryStores';
import { describeDeviceStoreContract } from '../../support/storeContracts';

let n = 0;
const tableName = () => `d${Date.now().toString(36)}${++n}`;

describeDeviceStoreContract('MemoryDeviceStore', async () => ({ subject: new MemoryDeviceStore() }));

describeDeviceStoreContract('TableDeviceStore on Azurite', async () => {
  const table = tableClient(inject('storageConnectionString'), tableName());
  await ensureTable(table);
  return { subject: new TableDeviceStore(table), dispose: () => table.deleteTable() };
});
