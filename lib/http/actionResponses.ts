import type { HttpResponseInit } from '@azure/functions';
import { isTerminal } from '../core/actionLifecycle';
import type { ActionView } from '../useCases/views';
import type { RequestContext } from './endpoint';
import { passcodeCacheHeaders } from './passcodeViewer';
import { json } from './responses';
import { apiBaseUrl, statusMonitorUrl } from './urls';

/** Seconds a poller should wait before asking again (Logic Apps and Power Automate honour Retry-After). */
export const RETRY_AFTER_SECONDS = 2;

type Context = Pick<RequestContext<unknown>, 'request' | 'deps' | 'route'>;

/** The action's status monitor URL, without a signature (a 409 points another caller there: they need credentials). */
export const plainLocationOf = ({ request, deps, route }: Context, deviceId: string, actionId: string) =>
  statusMonitorUrl(apiBaseUrl(request, route, deps.config.PUBLIC_BASE_URL), deviceId, actionId);

/**
 * The headers of a 202 that points a poller at an action's status monitor. The Location carries a signed link whose
 * expiry was fixed when the action was accepted, so polling never extends it.
 */
export async function monitorHeaders(ctx: Context, action: Pick<ActionView, 'deviceId' | 'id' | 'startDateTime'>) {
  const sig = await ctx.deps.statusLinks.sign(action.deviceId, action.id, new Date(action.startDateTime));
  const base = apiBaseUrl(ctx.request, ctx.route, ctx.deps.config.PUBLIC_BASE_URL);
  const location = statusMonitorUrl(base, action.deviceId, action.id, sig);
  return { Location: location, 'Operation-Location': location, 'Retry-After': String(RETRY_AFTER_SECONDS) };
}

/**
 * An action as the asynchronous request-reply pattern wants it: 202 with Location and Retry-After while it is
 * in flight (Logic Apps keeps polling on 202 and stops at the first other status), 200 once terminal.
 */
export async function actionResponse(ctx: Context, action: ActionView): Promise<HttpResponseInit> {
  const headers = passcodeCacheHeaders([action]);
  if (isTerminal(action.actionState)) return json(200, action, headers);
  return json(202, action, { ...headers, ...(await monitorHeaders(ctx, action)) });
}
