import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { RenewSubscriptionRequestSchema } from '../lib/http/schemas';
import { renewSubscription as renew } from '../lib/useCases/subscriptions';

export const renewSubscription = endpoint(ROUTES.renewSubscription, async ({ request, deps, caller }) => {
  const { params, body } = await parseRequest(request, RenewSubscriptionRequestSchema);
  const view = await renew(deps.services, caller, params.subscriptionId, body.expirationDateTime);
  return json(200, view, { 'Cache-Control': 'no-store' });
});

app.http(ROUTES.renewSubscription.name, { ...routeOptions(ROUTES.renewSubscription), handler: renewSubscription });
