import type { DeviceQuery } from '../core/deviceQuery';
import { apiError, PreconditionFailedError, TransientError } from '../core/errors';
import type { Device, DeviceAction, DeviceInput } from '../core/model';
import type { Page, Versioned } from '../ports';
import type { Caller } from '../security/caller';
import { presentActions } from './deviceActions';
import type { Services } from './services';
import { type DeviceView, toActionView, toDeviceView } from './views';

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
      written = await services.devices.put(device, existing);
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

/** How many of its reset actions a managed device carries in `deviceActionResults`, newest first. */
const DEVICE_ACTION_RESULTS = 10;

/** A device's newest actions as `deviceActionResults` shows them: states and times, never a passcode. */
const actionResults = (services: Services, actions: DeviceAction[]) =>
  actions.map((action) => toActionView(action, { showPasscode: false, services }));

/**
 * The device overview: inventory, reset support, its newest reset actions (`deviceActionResults`, as Graph's
 * managedDevice has them) and the latest reset (with its passcode while shown), from one read of its actions.
 */
export async function getDeviceOverview(
  services: Services,
  caller: Caller,
  deviceId: string,
): Promise<{ device: DeviceView; etag: string }> {
  const [found, latest] = await Promise.all([
    services.devices.read(deviceId),
    services.actions.listForDevice(deviceId, { top: DEVICE_ACTION_RESULTS }),
  ]);
  if (!found) throw apiError('deviceNotFound', { deviceId });
  const [last] = await presentActions(services, caller, latest.items.slice(0, 1));
  const device = toDeviceView(found.value, services.settings.deviceChannel, last);
  return { device: { ...device, deviceActionResults: actionResults(services, latest.items) }, etag: found.etag };
}

/**
 * A page of the devices a query finds. `deviceActionResults` costs one read per device, so a list carries it only when
 * asked for (`withActionResults`, from `$select`).
 */
export async function listDevices(
  services: Services,
  query: DeviceQuery & { top: number; skipToken?: string; withActionResults?: boolean },
): Promise<Page<DeviceView>> {
  const { withActionResults, ...search } = query;
  const page = await services.devices.list(search);
  const items = await Promise.all(
    page.items.map(async (d) => {
      const view = toDeviceView(d, services.settings.deviceChannel);
      if (!withActionResults) return view;
      const actions = await services.actions.listForDevice(d.id, { top: DEVICE_ACTION_RESULTS });
      return { ...view, deviceActionResults: actionResults(services, actions.items) };
    }),
  );
  return { items, ...(page.nextToken && { nextToken: page.nextToken }) };
}
