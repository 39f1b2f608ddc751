// CORS the way `func start` applies Host.CORS / Host.CORSCredentials: ASP.NET Core's CORS middleware in front of the
// host, with the given origins, any method and any header:
// https://github.com/Azure/azure-functions-core-tools/blob/main/src/Cli/func/Actions/HostActions/Startup.cs
// https://learn.microsoft.com/aspnet/core/security/cors
import { HostConfigError } from './config';

export interface CorsPolicy {
  /** '*' = any origin; otherwise lower-cased origins without a trailing slash. */
  origins: '*' | ReadonlySet<string>;
  credentials: boolean;
}

export interface CorsRequest {
  method: string;
  origin: string | undefined;
  /** Access-Control-Request-Method. */
  requestMethod: string | undefined;
  /** Access-Control-Request-Headers. */
  requestHeaders: string | undefined;
}

export interface CorsDecision {
  /** A preflight is answered by the host (204) and never reaches a function. */
  preflight: boolean;
  /** Headers to add to the response (none for a request without Origin or from an origin not allowed). */
  headers: Record<string, string>;
}

const normalizeOrigin = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, '');

/**
 * The policy for a comma-separated origin list (undefined or empty: CORS off). Like ASP.NET Core, "*" cannot be
 * combined with credentials; unlike it, "*" mixed with origins is refused instead of being silently ignored.
 */
export function parseCorsPolicy(origins: string | undefined, credentials: boolean): CorsPolicy | undefined {
  const list = (origins ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  if (list.length === 0) return undefined;
  if (list.includes('*')) {
    if (list.length > 1) throw new HostConfigError(`CORS origins "${origins}": "*" must stand alone`);
    if (credentials) {
      throw new HostConfigError('CORS "*" cannot be combined with CORSCredentials (the CORS protocol forbids it)');
    }
    return { origins: '*', credentials: false };
  }
  for (const origin of list) {
    if (!/^https?:\/\/[^/\s]+\/?$/i.test(origin)) {
      throw new HostConfigError(`CORS origin "${origin}" is not an origin such as https://portal.example.com`);
    }
  }
  return { origins: new Set(list.map(normalizeOrigin)), credentials };
}

/** What the CORS middleware does with a request: answer it as a preflight, and which headers to add. */
export function decideCors(policy: CorsPolicy | undefined, request: CorsRequest): CorsDecision {
  const { origin } = request;
  // Without a policy or an Origin header, CORS is not involved and OPTIONS goes to the functions like any method.
  if (!policy || origin === undefined) return { preflight: false, headers: {} };
  const preflight = request.method.toUpperCase() === 'OPTIONS' && (request.requestMethod ?? '') !== '';
  const allowed = policy.origins === '*' || policy.origins.has(normalizeOrigin(origin));
  if (!allowed) return { preflight, headers: {} };

  const headers: Record<string, string> = {};
  if (policy.origins === '*') {
    headers['access-control-allow-origin'] = '*';
  } else {
    headers['access-control-allow-origin'] = origin;
    headers.vary = 'Origin';
  }
  if (policy.credentials) headers['access-control-allow-credentials'] = 'true';
  if (preflight) {
    // AllowAnyMethod / AllowAnyHeader: the requested method and headers are echoed back.
    headers['access-control-allow-methods'] = request.requestMethod ?? '';
    const requested = (request.requestHeaders ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    if (requested.length > 0) headers['access-control-allow-headers'] = requested.join(',');
  }
  return { preflight, headers };
}
