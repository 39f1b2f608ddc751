import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ActionParamsSchema } from '../lib/http/schemas';
import { cancelAction } from '../lib/useCases/deviceActions';

app.http('cancelDeviceActionResult', {
  methods: ['DELETE'],
  route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}',
  authLevel: 'anonymous',
  handler: endpoint('Passcode.Reset', async ({ request, deps, caller }) => {
    const { deviceId, actionId } = parseOrThrow(ActionParamsSchema, request.params, 'action id');
    return json(200, await cancelAction(deps.services, deviceId, actionId, caller));
  }),
});
