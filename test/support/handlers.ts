import { randomBytes } from 'node:crypto';
import { type HttpHandler, HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { parseConfig } from '../../lib/config';
import { type AppDeps, getDeps } from '../../lib/deps';
import type { RouteSpec } from '../../lib/http/routes';
import { createAuthenticator } from '../../lib/security/authenticate';
import type { Role } from '../../lib/security/caller';
import { parseKeyList } from '../../lib/security/keyList';
import { createPageTokenSigner } from '../../lib/security/pageToken';
import { createStatusLinkSigner } from '../../lib/security/statusLink';
import type { Services } from '../../lib/useCases/services';
import { buildOpenApiDocument } from '../../tools/apiDocuments/openApi';
import { throwawaySettings } from '../../tools/localSettings';
import { validateResponse } from './openapiValidator';
import { makeTestServices, type TestServices } from './services';

/**
 * In-process handler tests: a function's exported handler is called with a built `HttpRequest` and an
 * `InvocationContext`, as the Functions host calls it, against memory stores (./memoryStores.ts) installed through
 * lib/deps.ts's test seam. Callers are authenticated by the app's own App Service mode, so a request carries its
 * caller in the `X-MS-CLIENT-PRINCIPAL` header that App Service Authentication would add (`as(...roles)`).
 */

export const ORIGIN = 'http://localhost:7071';

export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body (Content-Type is set). */
  json?: unknown;
  /** A raw body; set Content-Type in `headers` yourself. */
  body?: string;
  /** Overrides the parameters matched from the path (the host normally fills them). */
  params?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when there is none. */
  body: any;
}

export interface HandlerHarness extends TestServices {
  deps: AppDeps;
  /** Calls `handler` for `route` with `path` (after /api, with a query string if any) as the host would. */
  call(handler: HttpHandler, route: RouteSpec, path: string, init?: CallInit): Promise<CallResult>;
}

/** The App Service Authentication headers of a caller holding `roles`. */
export function as(...roles: Role[]): Record<string, string> {
  const principal = {
    auth_typ: 'aad',
    name_typ: 'name',
    claims: [
      { typ: 'oid', val: 'caller-1' },
      { typ: 'name', val: 'ana@contoso.com' },
      { typ: 'http://schemas.microsoft.com/identity/claims/scope', val: 'access_as_user' },
      ...roles.map((role) => ({ typ: 'roles', val: role })),
    ],
  };
  return { 'X-MS-CLIENT-PRINCIPAL': Buffer.from(JSON.stringify(principal)).toString('base64') };
}

/** The route's `{name}` parameters in `path`, decoded as the host decodes them; undefined when it does not match. */
function matchRoute(route: RouteSpec, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = route.route.replace(/\{([^}:?]+)[^}]*\}|[^{]+/g, (part, name?: string) => {
    if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    names.push(name);
    return '([^/]+)';
  });
  const match = new RegExp(`^${pattern}$`).exec(path.split('?')[0] ?? '');
  if (!match) return undefined;
  return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
}

export interface HarnessOptions {
  /** App settings on top of throwaway local ones, parsed by the app's own config. */
  settings?: Record<string, string>;
  /** The use cases' settings (daily limit, display window…) on top of TEST_SETTINGS. */
  limits?: Partial<Services['settings']>;
}

/** Builds the harness's dependencies: settings as the app parses them, memory stores, real signers. */
export function makeHandlerHarness({ settings = {}, limits = {} }: HarnessOptions = {}): HandlerHarness {
  const testServices = makeTestServices({ settings: limits });
  const config = parseConfig(throwawaySettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...settings }));
  const linkKeys = parseKeyList('STATUS_LINK_KEYS', `s1:${randomBytes(32).toString('base64')}`, { atLeast: 32 });
  const deps: AppDeps = {
    config,
    services: testServices.services,
    authenticate: createAuthenticator({ mode: 'appService', requiredScope: 'access_as_user' }),
    statusLinks: createStatusLinkSigner({ keys: linkKeys, ttlSeconds: 3600, clock: testServices.clock }),
    pageTokens: createPageTokenSigner(linkKeys),
  };
  const call = async (handler: HttpHandler, route: RouteSpec, path: string, init: CallInit = {}) => {
    const params = init.params ?? matchRoute(route, path);
    if (!params) throw new Error(`${path} does not match the route ${route.route}`);
    const method = init.method ?? route.method;
    // A POST, PUT or PATCH declares JSON even without a body, as the API requires; a raw `body` brings its own type.
    const declareJson =
      init.json !== undefined || (['POST', 'PUT', 'PATCH'].includes(method) && init.body === undefined);
    const headers: Record<string, string> = {
      ...(declareJson && { 'Content-Type': 'application/json' }),
      ...init.headers,
    };
    const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
    const request = new HttpRequest({
      method,
      url: `${ORIGIN}/api/${path}`,
      headers,
      params,
      ...(body !== undefined && { body: { string: body } }),
    });
    const context = new InvocationContext({ invocationId: 'invocation-1', functionName: route.name });
    const response = new HttpResponse(await handler(request, context));
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
  return { ...testServices, deps, call };
}

/**
 * A fresh harness for each test of the calling file, installed as the app's dependencies while the test runs: the
 * functions get them from `getDeps`, which the calling file must turn into a spy with
 * `vi.mock('<path to>/lib/deps', { spy: true })` (the app itself has no seam for tests).
 */
export function useHandlerHarness(options: HarnessOptions = {}): () => HandlerHarness {
  let harness: HandlerHarness | undefined;
  beforeEach(() => {
    if (!vi.isMockFunction(getDeps)) {
      throw new Error("the test file must call vi.mock('…/lib/deps', { spy: true }) for the handler harness");
    }
    const installed = makeHandlerHarness(options);
    vi.mocked(getDeps).mockReturnValue(installed.deps);
    harness = installed;
  });
  afterEach(() => {
    vi.mocked(getDeps).mockReset();
    harness = undefined;
  });
  return () => {
    if (!harness) throw new Error('the harness exists only while a test runs');
    return harness;
  };
}

/** `call` of a harness that also checks each response is one the OpenAPI document describes. */
export function documentedCalls(harness: () => HandlerHarness) {
  const openApi = buildOpenApiDocument();
  return async (handler: HttpHandler, route: RouteSpec, path: string, init: CallInit = {}): Promise<CallResult> => {
    const result = await harness().call(handler, route, path, init);
    const problems = validateResponse(openApi, {
      method: init.method ?? route.method,
      route: route.route,
      status: result.status,
      headers: result.headers,
      body: result.body,
    });
    expect(problems, `${route.method} ${path} → ${result.status} ${JSON.stringify(result.body)}`).toEqual([]);
    return result;
  };
}
