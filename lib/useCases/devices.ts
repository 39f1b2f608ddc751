import { apiError } from '../core/errors';
import type { Device, DeviceInput, OperatingSystem } from '../core/model';
import type { Page } from '../ports';
import type { Caller } from '../security/caller';
import { presentActions } from './deviceActions';
import type { Services } from './services';
import { type DeviceView, toDeviceView } from './views';

/** Registers a device or replaces its inventory record (PUT); the audit trail records which. */
export async function registerDevice(
  services: Services,
  caller: Caller,
  deviceId: string,
  input: DeviceInput,
): Promise<{ created: boolean; device: DeviceView }> {
  const now = services.clock.now().toISOString();
  const existing = await services.devices.get(deviceId);
  const device: Device = {
    id: deviceId,
    ...input,
    createdDateTime: existing?.createdDateTime ?? now,
    lastUpdatedDateTime: now,
  };
  const result = await services.devices.put(device);
  await services.audit.record({
    id: services.randomHex(12),
    eventDateTime: now,
    eventType: result === 'created' ? 'deviceCreated' : 'deviceUpdated',
    callerId: caller.id,
    callerName: caller.name,
    deviceId,
    outcome: 'success',
  });
  return { created: result === 'created', device: toDeviceView(device, services.settings.deviceChannel) };
}

/** The device overview: inventory, reset support and the latest reset (with its passcode while shown). */
export async function getDeviceOverview(services: Services, caller: Caller, deviceId: string): Promise<DeviceView> {
  const [device, latest] = await Promise.all([
    services.devices.get(deviceId),
    services.actions.listForDevice(deviceId, { top: 1 }),
  ]);
  if (!device) throw apiError('deviceNotFound', { deviceId });
  const [last] = await presentActions(services, caller, latest.items.slice(0, 1));
  return toDeviceView(device, services.settings.deviceChannel, last);
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
