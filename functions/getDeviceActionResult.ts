import { app } from '@azure/functions';
import { actionResponse } from '../lib/http/actionResponses';
import { statusMonitorEndpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { ActionParamsSchema } from '../lib/http/schemas';
import { getAction } from '../lib/useCases/deviceActions';

app.http('getDeviceActionResult', {
  methods: ['GET'],
  route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}',
  authLevel: 'anonymous',
  handler: statusMonitorEndpoint(
    'Devices.Read',
    (request) => parseOrThrow(ActionParamsSchema, request.params, 'action id'),
    async ({ request, deps, caller }) => {
      const { deviceId, actionId } = parseOrThrow(ActionParamsSchema, request.params, 'action id');
      return actionResponse(request, deps, await getAction(deps.services, deviceId, actionId, caller));
    },
  ),
});
