import { app } from '@azure/functions';
import { DEVICE_FILTER, DEVICE_PROPERTIES, deviceQueryOf } from '../lib/core/deviceQuery';
import { parseFilter, parseSelect, selectProperties } from '../lib/core/graphQuery';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseRequest } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListDevicesRequestSchema } from '../lib/http/schemas';
import { listDevices } from '../lib/useCases/devices';

export const listManagedDevices = endpoint(ROUTES.listManagedDevices, async (ctx) => {
  const { query } = await parseRequest(ctx.request, ListDevicesRequestSchema);
  const search = deviceQueryOf(
    query.$filter === undefined ? [] : parseFilter(query.$filter, DEVICE_FILTER),
    query.operatingSystem,
  );
  const selected = query.$select === undefined ? undefined : parseSelect(query.$select, DEVICE_PROPERTIES);
  // A $skipToken opens only for the very search it was made for.
  const scope = `devices?${JSON.stringify(search)}`;
  const skipToken = await openSkipToken(ctx, scope, query.$skipToken);
  const page = await listDevices(ctx.deps.services, {
    ...search,
    top: query.$top,
    ...(skipToken && { skipToken }),
    withActionResults: selected?.includes('deviceActionResults') ?? false,
  });
  const items = page.items.map((device) => selectProperties(device, selected));
  // $count is answered when it costs nothing: the whole answer is this one page.
  const complete = skipToken === undefined && page.nextToken === undefined;
  const count = query.$count === 'true' && complete ? { '@odata.count': items.length } : {};
  return pageResponse(ctx, scope, { ...page, items }, {}, count);
});

app.http(ROUTES.listManagedDevices.name, { ...routeOptions(ROUTES.listManagedDevices), handler: listManagedDevices });
