import { app } from '@azure/functions';
import { actionResponse } from '../lib/http/actionResponses';
import { statusMonitorEndpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { passcodeViewer } from '../lib/http/passcodeViewer';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ActionParamsSchema, PasscodeQuerySchema, queryObject } from '../lib/http/schemas';
import { getAction } from '../lib/useCases/deviceActions';

app.http(ROUTES.getDeviceActionResult.name, {
  ...routeOptions(ROUTES.getDeviceActionResult),
  handler: statusMonitorEndpoint(
    ROUTES.getDeviceActionResult,
    (request) => parseOrThrow(ActionParamsSchema, request.params, 'action id'),
    async (ctx) => {
      const { deviceId, actionId } = parseOrThrow(ActionParamsSchema, ctx.request.params, 'action id');
      const { includePasscode } = parseOrThrow(PasscodeQuerySchema, queryObject(ctx.request.query), 'query');
      const viewer = ctx.caller && passcodeViewer(ctx.caller, includePasscode);
      return actionResponse(ctx, await getAction(ctx.deps.services, deviceId, actionId, viewer));
    },
  ),
});
