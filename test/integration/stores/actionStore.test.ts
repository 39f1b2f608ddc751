import { inject } from 'vitest';
import { TableActionSchedule } from '../../../lib/adapters/tableActionSchedule';
import { TableActionStore } from '../../../lib/adapters/tableActionStore';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { TableIdempotencyKeys } from '../../../lib/adapters/tableIdempotencyKeys';
import { TableSubscriptionStore } from '../../../lib/adapters/tableSubscriptionStore';
import {
  MemoryActionStore,
  MemoryIdempotencyKeys,
  MemorySchedule,
  MemorySubscriptionStore,
} from '../../support/memoryStores';
import {
  describeActionScheduleContract,
  describeActionStoreContract,
  describeIdempotencyKeysContract,
  describeSubscriptionStoreContract,
} from '../../support/storeContracts';

// Table names: letters and digits, starting with a letter; unique per test so every test starts empty.
let n = 0;
const tableName = (role: string) => `a${role}${Date.now().toString(36)}${++n}`;

describeActionStoreContract('MemoryActionStore', async () => {
  const subject = new MemoryActionStore();
  return {
    subject,
    rawAction: async (deviceId, actionId) => (await subject.get(deviceId, actionId))?.value,
  };
});

describeActionStoreContract('TableActionStore on Azurite', async () => {
  const connection = inject('storageConnectionString');
  const tables = { actions: tableClient(connection, tableName('act')) };
  await Promise.all(Object.values(tables).map(ensureTable));
  return {
    subject: new TableActionStore(tables),
    rawAction: (deviceId, actionId) => tables.actions.getEntity(deviceId, `action_${actionId}`),
    dispose: async () => {
      await Promise.all(Object.values(tables).map((t) => t.deleteTable()));
    },
  };
});

describeActionScheduleContract('MemorySchedule', async () => ({ subject: new MemorySchedule() }));

describeActionScheduleContract('TableActionSchedule on Azurite', async () => {
  const table = tableClient(inject('storageConnectionString'), tableName('sch'));
  await ensureTable(table);
  return { subject: new TableActionSchedule(table), dispose: () => table.deleteTable() };
});

describeIdempotencyKeysContract('MemoryIdempotencyKeys', async () => ({ subject: new MemoryIdempotencyKeys() }));

describeIdempotencyKeysContract('TableIdempotencyKeys on Azurite', async () => {
  const table = tableClient(inject('storageConnectionString'), tableName('idem'));
  await ensureTable(table);
  return { subject: new TableIdempotencyKeys(table), dispose: () => table.deleteTable() };
});

describeSubscriptionStoreContract('MemorySubscriptionStore', async () => ({ subject: new MemorySubscriptionStore() }));

describeSubscriptionStoreContract('TableSubscriptionStore on Azurite', async () => {
  const connection = inject('storageConnectionString');
  const tables = {
    subscriptions: tableClient(connection, tableName('sub')),
    deliveries: tableClient(connection, tableName('del')),
  };
  await Promise.all(Object.values(tables).map(ensureTable));
  return {
    subject: new TableSubscriptionStore(tables),
    dispose: async () => {
      await Promise.all(Object.values(tables).map((t) => t.deleteTable()));
    },
  };
});
