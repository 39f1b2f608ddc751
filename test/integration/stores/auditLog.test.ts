import { inject } from 'vitest';
import { TableAuditLog } from '../../../lib/adapters/tableAuditLog';
import { ensureTable, tableClient } from '../../../lib/adapters/tableClients';
import { MemoryAuditLog } from '../../support/memoryStores';
import { describeAuditLogContract } from '../../support/storeContracts';

let n = 0;
const tableName = () => `au${Date.now().toString(36)}${++n}`;

describeAuditLogContract('MemoryAuditLog', async () => ({ subject: new MemoryAuditLog() }));

describeAuditLogContract('TableAuditLog on Azurite', async () => {
  const table = tableClient(inject('storageConnectionString'), tableName());
  await ensureTable(table);
  return { subject: new TableAuditLog(table), dispose: () => table.deleteTable() };
});
