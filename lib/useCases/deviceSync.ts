import { apiError } from '../core/errors';
import type { Device } from '../core/model';
import type { DeviceSyncMessage } from '../ports';
import type { Services } from './services';

/** Devices marked deleted per write at the end of a sync. */
const DELETED_BATCH = 100;

/** What a sync request returns (202): when the sync started. */
export interface DeviceSyncRequest {
  syncStartedDateTime: string;
}

/**
 * Starts an inventory sync of the channel's own devices (Android Management): its first page is queued, and each page
 * queues the next, so a sync of any size is made of short, retried invocations. The timer and
 * `POST deviceManagement/androidManagement/sync` start one; two syncs at once are harmless (each write is the device
 * as read, and each sync marks deleted only devices nobody saw since it started).
 */
export async function requestDeviceSync(services: Services): Promise<DeviceSyncRequest> {
  if (!services.deviceSource) {
    throw apiError('notFound', {
      reason: 'The device inventory sync is there only with DEVICE_CHANNEL=androidManagement.',
    });
  }
  const syncStartedDateTime = services.clock.now().toISOString();
  await services.deviceSync.enqueue({ v: 1, startedDateTime: syncStartedDateTime, page: 1 });
  return { syncStartedDateTime };
}

export type DeviceSyncOutcome = `page ${number}: ${number} devices${string}`;

/**
 * One page: the source's devices are written (100 to a transaction) and the next page is queued. After the last page,
 * devices this sync never saw (they left the enterprise) are marked deleted: they stay in the inventory, shown as
 * deleted, and cannot be reset.
 */
export async function syncDevicePage(services: Services, message: DeviceSyncMessage): Promise<DeviceSyncOutcome> {
  const source = services.deviceSource;
  if (!source) return `page ${message.page}: 0 devices (no device source)`;
  const page = await source.listPage(message.pageToken);
  await services.devices.putSynced(page.devices);
  const skipped = page.skipped > 0 ? `, ${page.skipped} skipped` : '';
  if (page.nextPageToken) {
    await services.deviceSync.enqueue({ ...message, page: message.page + 1, pageToken: page.nextPageToken });
    return `page ${message.page}: ${page.devices.length} devices${skipped}`;
  }
  const deleted = await markLeftDevices(services, new Date(message.startedDateTime));
  return `page ${message.page}: ${page.devices.length} devices${skipped}, last page, ${deleted} marked deleted`;
}

async function markLeftDevices(services: Services, startedAt: Date): Promise<number> {
  const now = services.clock.now().toISOString();
  let marked = 0;
  for (;;) {
    const gone = await services.devices.listSyncedBefore(startedAt, DELETED_BATCH);
    if (gone.length === 0) return marked;
    await services.devices.putSynced(gone.map((device) => markedDeleted(device, now)));
    marked += gone.length;
    if (gone.length < DELETED_BATCH) return marked;
  }
}

function markedDeleted(device: Device, now: string): Device {
  const facts = device.androidManagement;
  return facts ? { ...device, lastUpdatedDateTime: now, androidManagement: { ...facts, state: 'deleted' } } : device;
}
