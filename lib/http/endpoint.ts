import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { withinBudget } from '../adapters/storageDeadline';
import { ApiError } from '../core/errors';
import { type AppDeps, getDeps } from '../deps';
import { type Caller, type Role, requireRole } from '../security/caller';
import { telemetry } from '../telemetry/telemetry';
import { requireJsonContentType } from './parse';
import { errorResponse } from './responses';
import type { RouteSpec } from './routes';

export interface RequestContext<C> {
  request: HttpRequest;
  context: InvocationContext;
  deps: AppDeps;
  caller: C;
  /** The route this request matched (absolute URLs are built relative to it). */
  route: RouteSpec;
}

type Handler<C> = (ctx: RequestContext<C>) => Promise<HttpResponseInit>;

/**
 * How long a request may spend on storage: past it the caller gets 503 with Retry-After rather than a hang (Logic Apps
 * and portals time out on their own, and could not tell "try again" from "broken").
 */
const REQUEST_BUDGET_MS = 10_000;

/** The one error mapping of the API: handlers throw ApiErrors; anything else becomes a 500 that reveals nothing. */
function wrap<C>(
  route: RouteSpec,
  authorise: (request: HttpRequest, deps: AppDeps) => Promise<C>,
  handler: Handler<C>,
): HttpHandler {
  const attributes = { 'http.request.method': route.method, 'http.route': `/api/${route.route}` };
  const run = async (request: HttpRequest, context: InvocationContext) => {
    try {
      const deps = getDeps();
      return await withinBudget(REQUEST_BUDGET_MS, async () => {
        const caller = await authorise(request, deps);
        requireJsonContentType(request);
        return handler({ request, context, deps, caller, route });
      });
    } catch (error) {
      return errorResponse(error, context.invocationId);
    }
  };
  // The server span of OpenTelemetry's HTTP conventions, continuing the host's trace context. Its attributes name the
  // route template and never the URL's query (a status link's `sig`).
  return (request, context) =>
    telemetry().tracing.span(
      `${attributes['http.request.method']} ${attributes['http.route']}`,
      { kind: 'server', attributes, ...(traceParentOf(context) && { parent: traceParentOf(context) }) },
      async (span) => {
        const response = await run(request, context);
        const status = response.status ?? 200;
        span.setAttributes({ 'http.response.status_code': status });
        if (status >= 500) span.fail(String(status));
        return response;
      },
    );
}

const traceParentOf = (context: InvocationContext) => context.traceContext?.traceParent ?? undefined;

async function authenticated(request: HttpRequest, deps: AppDeps, role: Role): Promise<Caller> {
  const caller = await deps.authenticate(request.headers);
  requireRole(caller, role);
  return caller;
}

/** An endpoint for callers that hold the route's role. */
export const endpoint = (route: RouteSpec & { role: Role }, handler: Handler<Caller>) =>
  wrap(route, (request, deps) => authenticated(request, deps, route.role), handler);

/** An endpoint for any authenticated caller, whatever roles they hold (GET /api/me). */
export const signedInEndpoint = (route: RouteSpec & { signedIn: true }, handler: Handler<Caller>) =>
  wrap(route, (request, deps) => deps.authenticate(request.headers), handler);

/** An endpoint anyone may call (health, API documents). */
export const anonymousEndpoint = (route: RouteSpec, handler: Handler<undefined>) =>
  wrap(route, async () => undefined, handler);

/**
 * The status monitor: callers with the route's role, or, when a request carries no usable credentials, anyone holding
 * a valid signed link (query `sig`) for this very action, since Power Automate polls the Location URL without
 * credentials. A link reader has no caller and so never sees the passcode.
 */
export const statusMonitorEndpoint = (
  route: RouteSpec & { role: Role },
  target: (request: HttpRequest) => { deviceId: string; actionId: string },
  handler: Handler<Caller | undefined>,
) =>
  wrap(
    route,
    async (request, deps) => {
      const token = request.query.get('sig');
      try {
        return await authenticated(request, deps, route.role);
      } catch (error) {
        const unauthenticated = error instanceof ApiError && error.status === 401;
        if (!token || !unauthenticated) throw error;
        const { deviceId, actionId } = target(request);
        if (await deps.statusLinks.verify(token, deviceId, actionId)) return undefined;
        throw error;
      }
    },
    handler,
  );
