import { ensureQueue, queueClient } from '../lib/adapters/storageActionQueue';
import { ensureTable, tableClient } from '../lib/adapters/tableClients';
import { TableDeviceStore } from '../lib/adapters/tableDeviceStore';
import { STORAGE_NAMES } from '../lib/deps';
import { DEMO_DEVICES } from './demoDevices';

/** Creates every table and queue the app uses (in Azure, infrastructure as code does this). */
export async function provisionStorage(connectionString: string): Promise<void> {
  await Promise.all([
    ...Object.values(STORAGE_NAMES.tables).map((name) => ensureTable(tableClient(connectionString, name))),
    ensureQueue(queueClient(connectionString, STORAGE_NAMES.queue)),
    ensureQueue(queueClient(connectionString, STORAGE_NAMES.poisonQueue)),
  ]);
}

/** Adds the demo devices when the inventory is empty; returns how many were added. */
export async function seedDemoDevices(connectionString: string, now = new Date()): Promise<number> {
  const store = new TableDeviceStore(tableClient(connectionString, STORAGE_NAMES.tables.devices));
  if ((await store.list({ top: 1 })).items.length > 0) return 0;
  const at = now.toISOString();
  for (const { id, ...input } of DEMO_DEVICES) {
    await store.put({ id, ...input, createdDateTime: at, lastUpdatedDateTime: at });
  }
  return DEMO_DEVICES.length;
}
