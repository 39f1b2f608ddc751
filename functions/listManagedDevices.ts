import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseOrThrow } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListDevicesQuerySchema, queryObject } from '../lib/http/schemas';
import { listDevices } from '../lib/useCases/devices';

app.http(ROUTES.listManagedDevices.name, {
  ...routeOptions(ROUTES.listManagedDevices),
  handler: endpoint(ROUTES.listManagedDevices, async (ctx) => {
    const query = parseOrThrow(ListDevicesQuerySchema, queryObject(ctx.request.query), 'query');
    const skipToken = openSkipToken(ctx, 'devices', query.$skipToken);
    const page = await listDevices(ctx.deps.services, {
      top: query.$top,
      ...(skipToken && { skipToken }),
      ...(query.operatingSystem && { operatingSystem: query.operatingSystem }),
    });
    return pageResponse(ctx, 'devices', page);
  }),
});
