import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { passcodeViewer } from '../lib/http/passcodeViewer';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema, PasscodeQuerySchema, queryObject } from '../lib/http/schemas';
import { getDeviceOverview } from '../lib/useCases/devices';

app.http(ROUTES.getManagedDevice.name, {
  ...routeOptions(ROUTES.getManagedDevice),
  handler: endpoint(ROUTES.getManagedDevice, async ({ request, deps, caller }) => {
    const { deviceId } = parseOrThrow(DeviceParamsSchema, request.params, 'device id');
    const { includePasscode } = parseOrThrow(PasscodeQuerySchema, queryObject(request.query), 'query');
    const device = await getDeviceOverview(deps.services, passcodeViewer(caller, includePasscode), deviceId);
    return json(200, device, device.lastResetPasscode?.passcode ? { 'Cache-Control': 'no-store' } : {});
  }),
});
