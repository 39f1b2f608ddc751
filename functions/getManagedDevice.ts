import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { DeviceParamsSchema } from '../lib/http/schemas';
import { getDeviceOverview } from '../lib/useCases/devices';

app.http('getManagedDevice', {
  methods: ['GET'],
  route: 'deviceManagement/managedDevices/{deviceId}',
  authLevel: 'anonymous',
  handler: endpoint('Devices.Read', async ({ request, deps, caller }) => {
    const { deviceId } = parseOrThrow(DeviceParamsSchema, request.params, 'device id');
    const device = await getDeviceOverview(deps.services, caller, deviceId);
    return json(200, device, device.lastResetPasscode?.passcode ? { 'Cache-Control': 'no-store' } : {});
  }),
});
