import type * as z from 'zod/mini';
import { ActionSchema, ErrorBodySchema } from './schemas';

/** An API answer that was not a success, with the API's error code and message (docs/API.md "Errors"). */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly location?: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  /** Aborts the request: the promise then rejects with the signal's reason, never as a network error. */
  signal?: AbortSignal;
}

/** Calls the API as the signed-in admin: every answer is checked against its schema before the console uses it. */
export interface Api {
  request<S extends z.ZodMiniType>(schema: S, path: string, options?: RequestOptions): Promise<ApiResponse<z.infer<S>>>;
}

/**
 * `path` is relative to /api, or absolute on this origin (starts with /), or a URL the API returned (Location, @odata.nextLink). Those are absolute URLs built
 * from the app's public origin; the console calls its own origin with their path, so that the Content-Security-
 * Policy's connect-src 'self' holds even when the app is reached under another host name.
 */
function apiUrl(path: string): string {
  if (/^https?:\/\//i.test(path)) {
    const url = new URL(path);
    return `${url.pathname}${url.search}`;
  }
  return path.startsWith('/') ? path : `/api/${path}`;
}

/** `path` with one query parameter set. */
export function withQuery(path: string, name: string, value: string): string {
  const url = new URL(apiUrl(path), location.origin);
  url.searchParams.set(name, value);
  return `${url.pathname}${url.search}`;
}

export function createApi(accessToken: () => Promise<string | undefined>): Api {
  return {
    async request(schema, path, options = {}) {
      const headers = new Headers({ Accept: 'application/json', ...options.headers });
      const token = await accessToken();
      if (token) headers.set('Authorization', `Bearer ${token}`);
      // The API refuses a POST that does not say it is JSON, with a body or without one (a cross-site form's guard).
      if (options.body !== undefined || options.method === 'POST') headers.set('Content-Type', 'application/json');
      let response: Response;
      try {
        response = await fetch(apiUrl(path), {
          method: options.method ?? 'GET',
          headers,
          ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
          // App Service Authentication's session cookie, when that is how the app signs callers in.
          credentials: 'same-origin',
          cache: 'no-store',
          ...(options.signal && { signal: options.signal }),
        });
      } catch {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new ApiRequestError(0, 'networkError', 'The app could not be reached. Check your connection and retry.');
      }
      const json: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw errorOf(response, json);
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        throw new ApiRequestError(response.status, 'unexpectedResponse', 'The app answered with something unexpected.');
      }
      return { status: response.status, headers: response.headers, body: parsed.data };
    },
  };
}

function errorOf(response: Response, json: unknown): ApiRequestError {
  const parsed = ErrorBodySchema.safeParse(json);
  const location = response.headers.get('Location') ?? undefined;
  if (parsed.success) {
    return new ApiRequestError(response.status, parsed.data.error.code, parsed.data.error.message, location);
  }
  return new ApiRequestError(response.status, 'httpError', `The request failed (HTTP ${response.status}).`, location);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

const DEFAULT_RETRY_AFTER_SECONDS = 2;

/**
 * Follows an action's status monitor as docs/API.md describes it: while the answer is 202, wait Retry-After seconds and
 * GET its Location; the first 200 is the final state. Passcodes are left out (includePasscode=false): the console
 * fetches one only when an admin asks to see it, because every passcode shown is audited as a view.
 */
export async function followAction(
  api: Api,
  first: { location: string; retryAfter: string | null },
  onUpdate: (action: z.infer<typeof ActionSchema>) => void,
  signal: AbortSignal,
): Promise<void> {
  let location = first.location;
  let retryAfter = first.retryAfter;
  for (;;) {
    await sleep(retryAfterMs(retryAfter), signal);
    const response = await api.request(ActionSchema, withQuery(location, 'includePasscode', 'false'));
    if (signal.aborted) return;
    onUpdate(response.body);
    if (response.status !== 202) return;
    location = response.headers.get('Location') ?? location;
    retryAfter = response.headers.get('Retry-After');
  }
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return (Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 60) : DEFAULT_RETRY_AFTER_SECONDS) * 1000;
}

/** The status monitor URL of an action (relative to /api). */
export const actionPath = (deviceId: string, actionId: string) =>
  `deviceManagement/managedDevices/${encodeURIComponent(deviceId)}/deviceActionResults/${encodeURIComponent(actionId)}`;

export const devicePath = (deviceId: string) => `deviceManagement/managedDevices/${encodeURIComponent(deviceId)}`;
