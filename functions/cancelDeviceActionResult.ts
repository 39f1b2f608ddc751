import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ActionParamsSchema } from '../lib/http/schemas';
import { cancelAction } from '../lib/useCases/deviceActions';

app.http(ROUTES.cancelDeviceActionResult.name, {
  ...routeOptions(ROUTES.cancelDeviceActionResult),
  handler: endpoint(ROUTES.cancelDeviceActionResult, async ({ request, deps, caller }) => {
    const { deviceId, actionId } = parseOrThrow(ActionParamsSchema, request.params, 'action id');
    return json(200, await cancelAction(deps.services, deviceId, actionId, caller));
  }),
});
