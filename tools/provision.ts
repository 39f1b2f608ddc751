import { tableClient } from '../lib/adapters/tableClients';
import { TableDeviceStore } from '../lib/adapters/tableDeviceStore';
import { STORAGE_NAMES } from '../lib/deps';
import { DEMO_DEVICES } from './demoDevices';

/** Adds the demo devices, as a PUT would, when the inventory is empty. */
export async function seedDemoDevices(connectionString: string, now = new Date()): Promise<number> {
  const table = (name: string) => tableClient(connectionString, name);
  const devices = new TableDeviceStore(table(STORAGE_NAMES.tables.devices));
  if ((await devices.list({ top: 1 })).items.length > 0) return 0;
  const at = now.toISOString();
  for (const { id, ...input } of DEMO_DEVICES) {
    await devices.put({ id, ...input, createdDateTime: at, lastUpdatedDateTime: at });
  }
  return DEMO_DEVICES.length;
}
