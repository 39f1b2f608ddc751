import { apiError, PreconditionFailedError, TransientError } from '../core/errors';
import type { Device, DeviceInput, OperatingSystem } from '../core/model';
import type { Page, Versioned } from '../ports';
import type { Caller } from '../security/caller';
import { presentActions } from './deviceActions';
import type { Services } from './services';
import { type DeviceView, toDeviceView } from './views';

/**
 * How many times a PUT without If-Match reads and writes again when another write got in between. Each round of
 * concurrent PUTs of one device has a winner, so ten PUTs at the same moment (an automation's burst) all succeed.
 */
const PUT_ATTEMPTS = 10;

/**
 * Registers a device or replaces its inventory record (PUT), in one conditional write of the whole device: a PUT
 * replaces only the version it read, so two PUTs at once never interleave. With `ifMatch` (the ETag a caller read) a
 * device that changed since is refused (412); without it, the PUT reads again and retries. A synced device keeps its
 * Android Management facts (the sync owns them). The audit trail records which it was.
 */
export async function registerDevice(
  services: Services,
  caller: Caller,
  deviceId: string,
  input: DeviceInput,
  ifMatch?: string,
): Promise<{ created: boolean; device: DeviceView; etag: string }> {
  for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
    const now = services.clock.now().toISOString();
    const existing = await services.devices.read(deviceId);
    if (ifMatch !== undefined && (existing === undefined || (ifMatch !== '*' && existing.etag !== ifMatch))) {
      throw apiError('preconditionFailed', {
        reason: existing ? 'the device changed since it was read' : 'no such device',
      });
    }
    const device: Device = {
      id: deviceId,
      ...input,
      createdDateTime: existing?.value.createdDateTime ?? now,
      lastUpdatedDateTime: now,
      ...(existing?.value.androidManagement && { androidManagement: existing.value.androidManagement }),
    };
    let written: Versioned<Device>;
    try {
      written = await services.devices.put(device, existing?.etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      if (ifMatch !== undefined)
        throw apiError('preconditionFailed', { reason: 'the device changed since it was read' });
      continue;
    }
    await services.audit.record({
      id: services.randomHex(12),
      eventDateTime: now,
      eventType: existing ? 'deviceUpdated' : 'deviceCreated',
      callerId: caller.id,
      callerName: caller.name,
      deviceId,
      outcome: 'success',
    });
    return {
      created: !existing,
      device: toDeviceView(written.value, services.settings.deviceChannel),
      etag: written.etag,
    };
  }
  throw new TransientError('The device kept changing while it was written; retry.', 1);
}

/** The device overview: inventory, reset support and the latest reset (with its passcode while shown). */
export async function getDeviceOverview(
  services: Services,
  caller: Caller,
  deviceId: string,
): Promise<{ device: DeviceView; etag: string }> {
  const [found, latest] = await Promise.all([
    services.devices.read(deviceId),
    services.actions.listForDevice(deviceId, { top: 1 }),
  ]);
  if (!found) throw apiError('deviceNotFound', { deviceId });
  const [last] = await presentActions(services, caller, latest.items.slice(0, 1));
  return { device: toDeviceView(found.value, services.settings.deviceChannel, last), etag: found.etag };
}

export async function listDevices(
  services: Services,
  query: { operatingSystem?: OperatingSystem; top: number; skipToken?: string },
): Promise<Page<DeviceView>> {
  const page = await services.devices.list(query);
  return {
    items: page.items.map((d) => toDeviceView(d, services.settings.deviceChannel)),
    ...(page.nextToken && { nextToken: page.nextToken }),
  };
}
