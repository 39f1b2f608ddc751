import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ListAuditQuerySchema, queryObject } from '../lib/http/schemas';
import { nextLink } from '../lib/http/urls';

app.http('listAuditEvents', {
  methods: ['GET'],
  route: 'deviceManagement/auditEvents',
  authLevel: 'anonymous',
  handler: endpoint('Audit.Read', async ({ request, deps }) => {
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
