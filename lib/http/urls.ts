import type { HttpRequest } from '@azure/functions';
import { ROUTES, type RouteSpec } from './routes';

/**
 * The origin absolute URLs are built on: PUBLIC_BASE_URL when set (required in Azure), else the request's own origin
 * (local use, where the local host only answers loopback Host names). Never a Host header in Azure: a forged one would
 * put an attacker's host into Location and nextLink.
 */
const originOf = (request: HttpRequest, publicBaseUrl: string | undefined) =>
  new URL(publicBaseUrl ?? request.url).origin;

/**
 * The path prefix in front of the app's routes (host.json routePrefix, "/api" by default): the request's path minus
 * the segments of the route that matched it. Derived per request, so a routePrefix override needs no setting.
 */
function routePrefixOf(request: HttpRequest, route: RouteSpec): string {
  const segments = new URL(request.url).pathname.split('/').filter(Boolean);
  const routeSegments = route.route.split('/').filter(Boolean).length;
  const prefix = segments.slice(0, Math.max(0, segments.length - routeSegments));
  return prefix.length > 0 ? `/${prefix.join('/')}` : '';
}

/** The absolute URL of the app's API root (origin + route prefix) as seen from a request to `route`. */
export const apiBaseUrl = (request: HttpRequest, route: RouteSpec, publicBaseUrl: string | undefined): string =>
  `${originOf(request, publicBaseUrl)}${routePrefixOf(request, route)}`;

/** Absolute URL of an action's status monitor; `sig` (a signed link) lets a poller without credentials read it. */
export function statusMonitorUrl(apiBase: string, deviceId: string, actionId: string, sig?: string): string {
  const path = ROUTES.getDeviceActionResult.route
    .replace('{deviceId}', encodeURIComponent(deviceId))
    .replace('{actionId}', encodeURIComponent(actionId));
  const url = new URL(`${apiBase}/${path}`);
  if (sig) url.searchParams.set('sig', sig);
  return url.toString();
}

/** The @odata.nextLink for a page: this request's URL, on the public origin, with the continuation as $skipToken. */
export function nextLink(
  request: HttpRequest,
  publicBaseUrl: string | undefined,
  skipToken: string | undefined,
): { '@odata.nextLink'?: string } {
  if (!skipToken) return {};
  const requested = new URL(request.url);
  const url = new URL(`${requested.pathname}${requested.search}`, originOf(request, publicBaseUrl));
  url.searchParams.set('$skipToken', skipToken);
  // Keep OData's "$" readable ($top, $skipToken), as Graph's nextLinks do; URLSearchParams would write %24.
  url.search = [...url.searchParams]
    .map(([key, value]) => `${encodeURIComponent(key).replace(/^%24/, '$')}=${encodeURIComponent(value)}`)
    .join('&');
  return { '@odata.nextLink': url.toString() };
}
