import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { isTerminal } from '../core/actionState';
import type { AppDeps } from '../deps';
import type { ActionView } from '../useCases/views';
import { json } from './responses';
import { statusMonitorUrl } from './urls';

/** Seconds a poller should wait before asking again (Logic Apps and Power Automate honour Retry-After). */
export const RETRY_AFTER_SECONDS = 2;

/** The status monitor's Location (absolute, with a fresh signed link) for an action. */
export const locationOf = (request: HttpRequest, deps: AppDeps, deviceId: string, actionId: string) =>
  statusMonitorUrl(request, deviceId, actionId, deps.statusLinks.sign(deviceId, actionId));

/** The headers of a 202 that points a poller at an action's status monitor. */
export function monitorHeaders(request: HttpRequest, deps: AppDeps, deviceId: string, actionId: string) {
  const location = locationOf(request, deps, deviceId, actionId);
  return { Location: location, 'Operation-Location': location, 'Retry-After': String(RETRY_AFTER_SECONDS) };
}

/**
 * An action as the asynchronous request-reply pattern wants it: 202 with Location and Retry-After while it is
 * in flight (Logic Apps keeps polling on 202 and stops at the first other status), 200 once terminal.
 */
export function actionResponse(request: HttpRequest, deps: AppDeps, action: ActionView): HttpResponseInit {
  const headers: Record<string, string> = action.passcode ? { 'Cache-Control': 'no-store' } : {};
  if (isTerminal(action.actionState)) return json(200, action, headers);
  return json(202, action, { ...headers, ...monitorHeaders(request, deps, action.deviceId, action.id) });
}
