import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ListSubscriptionsRequestSchema } from '../lib/http/schemas';
import { listAllSubscriptions, listSubscriptions as listOwn } from '../lib/useCases/subscriptions';

const NO_STORE = { 'Cache-Control': 'no-store' };

/**
 * The caller's own subscriptions that have not expired (Graph lists the caller's too), no paging as in Graph; with
 * `all=true`, every caller's, paged, for an administrator.
 */
export const listSubscriptions = endpoint(ROUTES.listSubscriptions, async (ctx) => {
  const { query } = await parseRequest(ctx.request, ListSubscriptionsRequestSchema);
  const { services } = ctx.deps;
  if (query.all !== 'true') return json(200, { value: await listOwn(services, ctx.caller) }, NO_STORE);
  const after = await openSkipToken(ctx, 'subscriptions', query.$skipToken);
  const page = await listAllSubscriptions(services, ctx.caller, { top: query.$top, ...(after && { after }) });
  return pageResponse(
    ctx,
    'subscriptions',
    { items: page.value, ...(page.after && { nextToken: page.after }) },
    NO_STORE,
  );
});

app.http(ROUTES.listSubscriptions.name, { ...routeOptions(ROUTES.listSubscriptions), handler: listSubscriptions });
