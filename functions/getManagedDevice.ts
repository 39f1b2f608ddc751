import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { passcodeCacheHeaders, passcodeViewer } from '../lib/http/passcodeViewer';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceOverviewRequestSchema } from '../lib/http/schemas';
import { getDeviceOverview } from '../lib/useCases/devices';

export const getManagedDevice = endpoint(ROUTES.getManagedDevice, async ({ request, deps, caller }) => {
  const { params, query } = await parseRequest(request, DeviceOverviewRequestSchema);
  const viewer = passcodeViewer(caller, query.includePasscode);
  const { device, etag } = await getDeviceOverview(deps.services, viewer, params.deviceId);
  // The ETag is what a PUT's If-Match names (docs/API.md "PUT a device").
  return json(200, device, { ETag: etag, ...passcodeCacheHeaders([device.lastResetPasscode]) });
});

app.http(ROUTES.getManagedDevice.name, { ...routeOptions(ROUTES.getManagedDevice), handler: getManagedDevice });
