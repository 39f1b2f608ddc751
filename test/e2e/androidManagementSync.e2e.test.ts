import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../../lib/adapters/tableClients';
import { STORAGE_NAMES } from '../../lib/deps';
import { type GoogleTokenServices, startGoogleTokenServices } from '../support/androidManagement/googleTokens';
import { type AndroidManagementStandIn, startAndroidManagementStandIn } from '../support/androidManagement/standIn';
import { call, type Stack, startStack } from './stack';

// The inventory sync at fleet size (issue 23): one sync of an enterprise of 3,000 devices, through the local host,
// against the Android Management stand-in. It must be short invocations (one per page of 100), far inside the
// function timeout (5 minutes in host.json), with one devices.list call per page. (It was 10,000 devices before each
// device carried its four search index rows, issue 20: Azurite's inserts into one partition slow down as it grows,
// which Azure's do not; docs/android-management.md "Inventory".)

const DEVICES = 3_000;
const PAGE = 100;

describe('the Android Management inventory sync of 3,000 devices', () => {
  let stack: Stack;
  let amapi: AndroidManagementStandIn;
  let tokens: GoogleTokenServices;
  beforeAll(async () => {
    tokens = await startGoogleTokenServices();
    amapi = await startAndroidManagementStandIn({ tokens });
    stack = await startStack({
      DEVICE_CHANNEL: 'androidManagement',
      ANDROID_MANAGEMENT_ENTERPRISE: amapi.enterpriseName,
      ANDROID_MANAGEMENT_CREDENTIALS: JSON.stringify(tokens.serviceAccountKey()),
      ANDROID_MANAGEMENT_ROOT_URL: amapi.rootUrl,
      // Only the sync this test starts is counted: the 15-minute timer would start another at :00, :15, :30 or :45.
      'AzureWebJobs.syncManagedDevicesTimer.Disabled': 'true',
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await amapi?.stop();
    await tokens?.stop();
  });

  it('writes every device in short page invocations, one list call per page', async () => {
    amapi.addDevices(DEVICES, { managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    const devices = tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.devices);
    const countRows = async () => {
      let rows = 0;
      // Device rows only: their search index rows sort after them ("~…").
      for await (const _ of devices.listEntities({ queryOptions: { select: ['rowKey'], filter: "RowKey lt '~'" } }))
        rows++;
      return rows;
    };
    const started = Date.now();
    const sync = await call(`${stack.api}/deviceManagement/androidManagement/sync`, { method: 'POST' });
    expect(sync.status).toBe(202);
    let rows = await countRows();
    while (rows < DEVICES && Date.now() - started < 240_000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      rows = await countRows();
    }
    const seconds = (Date.now() - started) / 1000;

    const lists = amapi.requests.filter((request) => request.method === 'devices.list').length;
    const pageDurations = () =>
      [
        ...stack.host
          .logs()
          .matchAll(/Executed 'Functions\.syncManagedDevicesPage' \(Succeeded, Id=[^,]+, Duration=(\d+)ms/g),
      ]
        .map((match) => Number(match[1]))
        .sort((a, b) => a - b);
    // The last page's rows are written before its invocation ends (it then marks the devices that left): wait for it.
    await expect.poll(() => pageDurations().length, { timeout: 30_000 }).toBe(DEVICES / PAGE);
    const durations = pageDurations();
    console.log(
      `sync of ${DEVICES} devices: ${rows} rows in ${seconds.toFixed(1)} s; ${lists} devices.list calls; ` +
        `${durations.length} page invocations, median ${durations[durations.length >> 1]} ms, max ${durations.at(-1)} ms`,
    );
    expect(rows).toBe(DEVICES);
    expect(lists).toBe(DEVICES / PAGE);
    expect(durations).toHaveLength(DEVICES / PAGE);
    expect(durations.at(-1)).toBeLessThan(30_000);
  }, 300_000);
});
