import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseRequest } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListAuditRequestSchema } from '../lib/http/schemas';

export const listAuditEvents = endpoint(ROUTES.listAuditEvents, async (ctx) => {
  const { query } = await parseRequest(ctx.request, ListAuditRequestSchema);
  const skipToken = await openSkipToken(ctx, 'audit', query.$skipToken);
  const page = await ctx.deps.services.audit.list({
    top: query.$top,
    ...(skipToken && { skipToken }),
    ...(query.deviceId && { deviceId: query.deviceId }),
    ...(query.from && { from: new Date(query.from) }),
    ...(query.to && { to: new Date(query.to) }),
  });
  return pageResponse(ctx, 'audit', page);
});

app.http(ROUTES.listAuditEvents.name, { ...routeOptions(ROUTES.listAuditEvents), handler: listAuditEvents });
