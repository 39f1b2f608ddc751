import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { SubscriptionRequestSchema } from '../lib/http/schemas';
import { getSubscription as getOwn } from '../lib/useCases/subscriptions';

export const getSubscription = endpoint(ROUTES.getSubscription, async ({ request, deps, caller }) => {
  const { params } = await parseRequest(request, SubscriptionRequestSchema);
  return json(200, await getOwn(deps.services, caller, params.subscriptionId), { 'Cache-Control': 'no-store' });
});

app.http(ROUTES.getSubscription.name, { ...routeOptions(ROUTES.getSubscription), handler: getSubscription });
