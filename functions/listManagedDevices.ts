import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseRequest } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListDevicesRequestSchema } from '../lib/http/schemas';
import { listDevices } from '../lib/useCases/devices';

export const listManagedDevices = endpoint(ROUTES.listManagedDevices, async (ctx) => {
  const { query } = await parseRequest(ctx.request, ListDevicesRequestSchema);
  const skipToken = await openSkipToken(ctx, 'devices', query.$skipToken);
  const page = await listDevices(ctx.deps.services, {
    top: query.$top,
    ...(skipToken && { skipToken }),
    ...(query.operatingSystem && { operatingSystem: query.operatingSystem }),
  });
  return pageResponse(ctx, 'devices', page);
});

app.http(ROUTES.listManagedDevices.name, { ...routeOptions(ROUTES.listManagedDevices), handler: listManagedDevices });
