import { app } from '@azure/functions';
import { actionResponse } from '../lib/http/actionResponses';
import { statusMonitorEndpoint } from '../lib/http/endpoint';
import { parseOrThrow, parseRequest } from '../lib/http/parse';
import { passcodeViewer } from '../lib/http/passcodeViewer';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ActionParamsSchema, StatusMonitorRequestSchema } from '../lib/http/schemas';
import { getAction } from '../lib/useCases/deviceActions';

export const getDeviceActionResult = statusMonitorEndpoint(
  ROUTES.getDeviceActionResult,
  (request) => parseOrThrow(ActionParamsSchema, request.params),
  async (ctx) => {
    const { params, query } = await parseRequest(ctx.request, StatusMonitorRequestSchema);
    const viewer = ctx.caller && passcodeViewer(ctx.caller, query.includePasscode);
    return actionResponse(ctx, await getAction(ctx.deps.services, params.deviceId, params.actionId, viewer));
  },
);

app.http(ROUTES.getDeviceActionResult.name, {
  ...routeOptions(ROUTES.getDeviceActionResult),
  handler: getDeviceActionResult,
});
