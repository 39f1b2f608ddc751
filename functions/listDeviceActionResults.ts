import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { DeviceParamsSchema, ListActionsQuerySchema, queryObject } from '../lib/http/schemas';
import { nextLink } from '../lib/http/urls';
import { listActions } from '../lib/useCases/deviceActions';

/** One device's actions, or every device's ("Device actions"), newest first. */
const listHandler = (scope: 'device' | 'all') =>
  endpoint('Devices.Read', async ({ request, deps, caller }) => {
    const deviceId = scope === 'device' ? parseOrThrow(DeviceParamsSchema, request.params, 'device id').deviceId : undefined;
    const query = parseOrThrow(ListActionsQuerySchema, queryObject(request.query), 'query');
    const page = await listActions(deps.services, caller, {
      top: query.$top,
      ...(deviceId && { deviceId }),
      ...(query.$skipToken && { skipToken: query.$skipToken }),
      ...(query.actionState && { actionState: query.actionState }),
    });
    const noStore: Record<string, string> = page.items.some((a) => a.passcode) ? { 'Cache-Control': 'no-store' } : {};
    return json(200, { value: page.items, ...nextLink(request, page.nextToken) }, noStore);
  });

app.http('listDeviceActionResults', {
  methods: ['GET'],
  route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults',
  authLevel: 'anonymous',
  handler: listHandler('device'),
});

app.http('listAllDeviceActionResults', {
  methods: ['GET'],
  route: 'deviceManagement/deviceActionResults',
  authLevel: 'anonymous',
  handler: listHandler('all'),
});
