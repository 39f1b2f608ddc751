import { inject } from 'vitest';
import { TableActionStore } from '../../../lib/adapters/tableActionStore';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { MemoryActionStore, MemoryAuditLog } from '../../support/memoryStores';
import { describeActionStoreContract } from '../../support/storeContracts';

// Table names: letters and digits, starting with a letter; unique per test so every test starts empty.
let n = 0;
const tableName = (role: string) => `a${role}${Date.now().toString(36)}${++n}`;

describeActionStoreContract('MemoryActionStore', async () => {
  const subject = new MemoryActionStore(new MemoryAuditLog());
  return { subject, rawAction: async (deviceId, actionId) => (await subject.get(deviceId, actionId))?.value };
});

describeActionStoreContract('TableActionStore on Azurite', async () => {
  const connection = inject('storageConnectionString');
  const tables = {
    actions: tableClient(connection, tableName('act')),
    audit: tableClient(connection, tableName('aud')),
    idempotency: tableClient(connection, tableName('idem')),
  };
  await Promise.all(Object.values(tables).map(ensureTable));
  return {
    subject: new TableActionStore(tables),
    rawAction: (deviceId, actionId) => tables.actions.getEntity(deviceId, `action_${actionId}`),
    dispose: async () => {
      await Promise.all(Object.values(tables).map((t) => t.deleteTable()));
    },
  };
});
