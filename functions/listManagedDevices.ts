import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListDevicesQuerySchema, queryObject } from '../lib/http/schemas';
import { nextLink } from '../lib/http/urls';
import { listDevices } from '../lib/useCases/devices';

app.http(ROUTES.listManagedDevices.name, {
  ...routeOptions(ROUTES.listManagedDevices),
  handler: endpoint(ROUTES.listManagedDevices.role, async ({ request, deps }) => {
    const query = parseOrThrow(ListDevicesQuerySchema, queryObject(request.query), 'query');
    const page = await listDevices(deps.services, {
      top: query.$top,
      ...(query.$skipToken && { skipToken: query.$skipToken }),
      ...(query.operatingSystem && { operatingSystem: query.operatingSystem }),
    });
    return json(200, { value: page.items, ...nextLink(request, page.nextToken) });
  }),
});
