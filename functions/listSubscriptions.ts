import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListSubscriptionsRequestSchema } from '../lib/http/schemas';
import { listSubscriptions as listOwn } from '../lib/useCases/subscriptions';

/** The caller's own subscriptions that have not expired (Graph lists the caller's too); no paging, as in Graph. */
export const listSubscriptions = endpoint(ROUTES.listSubscriptions, async ({ request, deps, caller }) => {
  await parseRequest(request, ListSubscriptionsRequestSchema);
  return json(200, { value: await listOwn(deps.services, caller) }, { 'Cache-Control': 'no-store' });
});

app.http(ROUTES.listSubscriptions.name, { ...routeOptions(ROUTES.listSubscriptions), handler: listSubscriptions });
