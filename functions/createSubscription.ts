import { app } from '@azure/functions';
import { MAX_SUBSCRIPTION_HOURS } from '../lib/core/subscription';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { CreateSubscriptionRequestSchema } from '../lib/http/schemas';
import { apiBaseUrl } from '../lib/http/urls';
import { createSubscription as subscribe } from '../lib/useCases/subscriptions';

// The subscription's own URL: Power Automate unsubscribes a webhook trigger by DELETE on the 201's Location
// (https://learn.microsoft.com/training/modules/create-triggers-custom-connectors/2-webhook-trigger).
export const createSubscription = endpoint(ROUTES.createSubscription, async ({ request, deps, caller, route }) => {
  const { body } = await parseRequest(request, CreateSubscriptionRequestSchema);
  const expirationDateTime =
    body.expirationDateTime ??
    new Date(deps.services.clock.now().getTime() + MAX_SUBSCRIPTION_HOURS * 3_600_000).toISOString();
  const view = await subscribe(deps.services, caller, { ...body, expirationDateTime });
  const path = ROUTES.getSubscription.route.replace('{subscriptionId}', encodeURIComponent(view.id));
  const location = `${apiBaseUrl(request, route, deps.config.PUBLIC_BASE_URL)}/${path}`;
  // A notificationUrl can be a signed callback URL (a capability): never kept by a cache.
  return json(201, view, { Location: location, 'Cache-Control': 'no-store' });
});

app.http(ROUTES.createSubscription.name, {
  ...routeOptions(ROUTES.createSubscription),
  handler: createSubscription,
});
