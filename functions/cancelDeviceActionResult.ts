import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ActionRequestSchema } from '../lib/http/schemas';
import { cancelAction } from '../lib/useCases/deviceActions';

export const cancelDeviceActionResult = endpoint(ROUTES.cancelDeviceActionResult, async ({ request, deps, caller }) => {
  const { params } = await parseRequest(request, ActionRequestSchema);
  return json(200, await cancelAction(deps.services, params.deviceId, params.actionId, caller));
});

app.http(ROUTES.cancelDeviceActionResult.name, {
  ...routeOptions(ROUTES.cancelDeviceActionResult),
  handler: cancelDeviceActionResult,
});
