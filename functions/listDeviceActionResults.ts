import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseOrThrow } from '../lib/http/parse';
import { passcodeViewer } from '../lib/http/passcodeViewer';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema, ListActionsQuerySchema, queryObject } from '../lib/http/schemas';
import { listActions } from '../lib/useCases/deviceActions';

/** One device's actions, or every device's ("Device actions"), newest first. */
const listHandler = (route: typeof ROUTES.listDeviceActionResults | typeof ROUTES.listAllDeviceActionResults) =>
  endpoint(route, async (ctx) => {
    const { request, deps, caller } = ctx;
    const deviceId =
      route === ROUTES.listDeviceActionResults
        ? parseOrThrow(DeviceParamsSchema, request.params, 'device id').deviceId
        : undefined;
    const query = parseOrThrow(ListActionsQuerySchema, queryObject(request.query), 'query');
    const scope = deviceId ? `actions/${deviceId}` : 'actions';
    const skipToken = openSkipToken(ctx, scope, query.$skipToken);
    const page = await listActions(deps.services, passcodeViewer(caller, query.includePasscode), {
      top: query.$top,
      ...(deviceId && { deviceId }),
      ...(skipToken && { skipToken }),
      ...(query.actionState && { actionState: query.actionState }),
    });
    const noStore: Record<string, string> = page.items.some((a) => a.passcode) ? { 'Cache-Control': 'no-store' } : {};
    return pageResponse(ctx, scope, page, noStore);
  });

app.http(ROUTES.listDeviceActionResults.name, {
  ...routeOptions(ROUTES.listDeviceActionResults),
  handler: listHandler(ROUTES.listDeviceActionResults),
});

app.http(ROUTES.listAllDeviceActionResults.name, {
  ...routeOptions(ROUTES.listAllDeviceActionResults),
  handler: listHandler(ROUTES.listAllDeviceActionResults),
});
