import { app } from '@azure/functions';
import { ACTION_FILTER, ACTION_PROPERTIES, actionQueryOf } from '../lib/core/actionQuery';
import { parseFilter, parseSelect, selectProperties } from '../lib/core/graphQuery';
import { endpoint, type RequestContext } from '../lib/http/endpoint';
import { openSkipToken, pageResponse } from '../lib/http/paging';
import { parseRequest } from '../lib/http/parse';
import { passcodeCacheHeaders, passcodeViewer } from '../lib/http/passcodeViewer';
import { ROUTES, routeOptions } from '../lib/http/routes';
import type { ListActionsQuerySchema } from '../lib/http/schemas';
import { ListAllActionsRequestSchema, ListDeviceActionsRequestSchema } from '../lib/http/schemas';
import type { Caller } from '../lib/security/caller';
import { listActions } from '../lib/useCases/deviceActions';
import type * as z from '../lib/zod';

/** One device's actions (deviceId in the path or in $filter), or every device's ("Device actions"), newest first. */
async function listPage(
  ctx: RequestContext<Caller>,
  pathDeviceId: string | undefined,
  query: z.infer<typeof ListActionsQuerySchema>,
) {
  const { deviceId, actionState } = actionQueryOf(
    query.$filter === undefined ? [] : parseFilter(query.$filter, ACTION_FILTER),
    { deviceId: pathDeviceId, actionState: query.actionState },
  );
  const selected = query.$select === undefined ? undefined : parseSelect(query.$select, ACTION_PROPERTIES);
  const scope = deviceId ? `actions/${deviceId}` : 'actions';
  const skipToken = await openSkipToken(ctx, `${scope}?${actionState ?? ''}`, query.$skipToken);
  const page = await listActions(ctx.deps.services, passcodeViewer(ctx.caller, query.includePasscode), {
    top: query.$top,
    ...(deviceId && { deviceId }),
    ...(skipToken && { skipToken }),
    ...(actionState && { actionState }),
  });
  const items = page.items.map((action) => selectProperties(action, selected));
  return pageResponse(ctx, `${scope}?${actionState ?? ''}`, { ...page, items }, passcodeCacheHeaders(page.items));
}

export const listDeviceActionResults = endpoint(ROUTES.listDeviceActionResults, async (ctx) => {
  const { params, query } = await parseRequest(ctx.request, ListDeviceActionsRequestSchema);
  return listPage(ctx, params.deviceId, query);
});

export const listAllDeviceActionResults = endpoint(ROUTES.listAllDeviceActionResults, async (ctx) => {
  const { query } = await parseRequest(ctx.request, ListAllActionsRequestSchema);
  return listPage(ctx, undefined, query);
});

app.http(ROUTES.listDeviceActionResults.name, {
  ...routeOptions(ROUTES.listDeviceActionResults),
  handler: listDeviceActionResults,
});

app.http(ROUTES.listAllDeviceActionResults.name, {
  ...routeOptions(ROUTES.listAllDeviceActionResults),
  handler: listAllDeviceActionResults,
});
