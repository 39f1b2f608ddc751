import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema, ListActionsQuerySchema, queryObject } from '../lib/http/schemas';
import { nextLink } from '../lib/http/urls';
import { listActions } from '../lib/useCases/deviceActions';

/** One device's actions, or every device's ("Device actions"), newest first. */
const listHandler = (scope: 'device' | 'all') =>
  endpoint(ROUTES.listDeviceActionResults.role, async ({ request, deps, caller }) => {
    const deviceId =
      scope === 'device' ? parseOrThrow(DeviceParamsSchema, request.params, 'device id').deviceId : undefined;
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

app.http(ROUTES.listDeviceActionResults.name, {
  ...routeOptions(ROUTES.listDeviceActionResults),
  handler: listHandler('device'),
});

app.http(ROUTES.listAllDeviceActionResults.name, {
  ...routeOptions(ROUTES.listAllDeviceActionResults),
  handler: listHandler('all'),
});
