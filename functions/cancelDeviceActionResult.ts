import { app } from '@azure/functions';
import { actionResponse } from '../lib/http/actionResponses';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ActionRequestSchema } from '../lib/http/schemas';
import { cancelAction } from '../lib/useCases/deviceActions';

// 200 with the canceled action; 202 with Location while the device channel has not yet confirmed the cancel of a
// command that waits for the device (docs/API.md "Cancel").
export const cancelDeviceActionResult = endpoint(ROUTES.cancelDeviceActionResult, async (ctx) => {
  const { params } = await parseRequest(ctx.request, ActionRequestSchema);
  const result = await cancelAction(ctx.deps.services, params.deviceId, params.actionId, ctx.caller);
  return actionResponse(ctx, result.action);
});

app.http(ROUTES.cancelDeviceActionResult.name, {
  ...routeOptions(ROUTES.cancelDeviceActionResult),
  handler: cancelDeviceActionResult,
});
