import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { PutDeviceRequestSchema } from '../lib/http/schemas';
import { registerDevice } from '../lib/useCases/devices';

export const putManagedDevice = endpoint(ROUTES.putManagedDevice, async ({ request, deps, caller }) => {
  const { params, headers, body } = await parseRequest(request, PutDeviceRequestSchema);
  const ifMatch = headers['if-match'];
  const { created, device, etag } = await registerDevice(deps.services, caller, params.deviceId, body, ifMatch);
  return json(created ? 201 : 200, device, { ETag: etag });
});

app.http(ROUTES.putManagedDevice.name, { ...routeOptions(ROUTES.putManagedDevice), handler: putManagedDevice });
