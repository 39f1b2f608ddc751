// Which host a request names, and whether this host answers it. A browser page on any site can make requests to
// 127.0.0.1 through a domain it controls that resolves there (DNS rebinding); such requests carry that domain in
// Host, so answering only loopback names (and the app's own public host) keeps other sites out.
// https://en.wikipedia.org/wiki/DNS_rebinding

export type RequestTarget =
  | { kind: 'ok'; authority: string; pathAndQuery: string }
  | { kind: 'invalid'; message: string };

/**
 * The authority and path of a request. For an absolute-form target (`GET http://host/path`) the target's authority
 * replaces the Host header: https://www.rfc-editor.org/rfc/rfc9112#section-3.2.2
 */
export function parseRequestTarget(rawTarget: string | undefined, hostHeader: string | undefined): RequestTarget {
  const target = rawTarget ?? '/';
  if (target.startsWith('/')) {
    if (hostHeader === undefined || hostHeader === '') {
      return { kind: 'invalid', message: 'The request has no Host header.' };
    }
    return { kind: 'ok', authority: hostHeader, pathAndQuery: target };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { kind: 'invalid', message: 'The request target is neither a path nor an absolute http URL.' };
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
    return { kind: 'invalid', message: 'The request target is neither a path nor an absolute http URL.' };
  }
  return { kind: 'ok', authority: url.host, pathAndQuery: `${url.pathname}${url.search}` };
}

interface Authority {
  hostname: string;
  port: number | undefined;
}

const AUTHORITY = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i;

function parseAuthority(authority: string): Authority | undefined {
  const match = AUTHORITY.exec(authority.trim());
  if (!match?.[1]) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && port > 65535) return undefined;
  return { hostname: match[1].toLowerCase(), port };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface AllowedHosts {
  /** The host of PUBLIC_BASE_URL, with its effective port. */
  publicHost?: { hostname: string; port: number };
}

/** The hosts a request may name besides the loopback: the one of PUBLIC_BASE_URL (an absolute URL), when set. */
export function allowedHostsFor(publicBaseUrl: string | undefined): AllowedHosts {
  if (publicBaseUrl === undefined || publicBaseUrl.trim() === '') return {};
  let url: URL;
  try {
    url = new URL(publicBaseUrl);
  } catch {
    return {};
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { publicHost: { hostname: url.hostname.toLowerCase(), port } };
}

/** Loopback names with any port; the public host with no port or its own. */
export function isAllowedAuthority(authority: string, allowed: AllowedHosts): boolean {
  const parsed = parseAuthority(authority);
  if (!parsed) return false;
  if (LOOPBACK.has(parsed.hostname)) return true;
  const publicHost = allowed.publicHost;
  return (
    publicHost !== undefined &&
    parsed.hostname === publicHost.hostname &&
    (parsed.port === undefined || parsed.port === publicHost.port)
  );
}
