import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { passcodeViewer } from '../lib/http/passcodeViewer';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceOverviewRequestSchema } from '../lib/http/schemas';
import { getDeviceOverview } from '../lib/useCases/devices';

export const getManagedDevice = endpoint(ROUTES.getManagedDevice, async ({ request, deps, caller }) => {
  const { params, query } = await parseRequest(request, DeviceOverviewRequestSchema);
  const device = await getDeviceOverview(deps.services, passcodeViewer(caller, query.includePasscode), params.deviceId);
  return json(200, device, device.lastResetPasscode?.passcode ? { 'Cache-Control': 'no-store' } : {});
});

app.http(ROUTES.getManagedDevice.name, { ...routeOptions(ROUTES.getManagedDevice), handler: getManagedDevice });
