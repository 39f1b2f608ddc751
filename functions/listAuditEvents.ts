import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListAuditQuerySchema, queryObject } from '../lib/http/schemas';
import { nextLink } from '../lib/http/urls';

app.http(ROUTES.listAuditEvents.name, {
  ...routeOptions(ROUTES.listAuditEvents),
  handler: endpoint(ROUTES.listAuditEvents.role, async ({ request, deps }) => {
    const query = parseOrThrow(ListAuditQuerySchema, queryObject(request.query), 'query');
    const page = await deps.services.audit.list({
      top: query.$top,
      ...(query.$skipToken && { skipToken: query.$skipToken }),
      ...(query.deviceId && { deviceId: query.deviceId }),
      ...(query.from && { from: new Date(query.from) }),
      ...(query.to && { to: new Date(query.to) }),
    });
    return json(200, { value: page.items, ...nextLink(request, page.nextToken) });
  }),
});
