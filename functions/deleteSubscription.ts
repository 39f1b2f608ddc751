import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { SubscriptionRequestSchema } from '../lib/http/schemas';
import { deleteSubscription as unsubscribe } from '../lib/useCases/subscriptions';

export const deleteSubscription = endpoint(ROUTES.deleteSubscription, async ({ request, deps, caller }) => {
  const { params } = await parseRequest(request, SubscriptionRequestSchema);
  await unsubscribe(deps.services, caller, params.subscriptionId);
  return { status: 204 };
});

app.http(ROUTES.deleteSubscription.name, { ...routeOptions(ROUTES.deleteSubscription), handler: deleteSubscription });
