import { app } from '@azure/functions';
import { DeviceInputSchema } from '../lib/core/model';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow, readJsonBody } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema } from '../lib/http/schemas';
import { registerDevice } from '../lib/useCases/devices';

app.http(ROUTES.putManagedDevice.name, {
  ...routeOptions(ROUTES.putManagedDevice),
  handler: endpoint(ROUTES.putManagedDevice, async ({ request, deps, caller }) => {
    const { deviceId } = parseOrThrow(DeviceParamsSchema, request.params, 'device id');
    const input = parseOrThrow(DeviceInputSchema, await readJsonBody(request), 'device');
    const { created, device } = await registerDevice(deps.services, caller, deviceId, input);
    return json(created ? 201 : 200, device);
  }),
});
