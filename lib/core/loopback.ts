/**
 * Where plain http is acceptable: the loopback, where nothing crosses a network (Azurite, a gateway or a notification
 * receiver on the same machine, tests). Every such rule of the app asks here.
 */

/** Loopback host names as a WHATWG URL's `hostname` spells them (an IPv6 address keeps its brackets). */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether `url` is a plain `http:` URL to the loopback. The host is compared whole after URL parsing, so
 * `http://localhost.example.com` and `http://127.0.0.1.nip.io` are not loopback; an unparsable URL is not either.
 */
export function isLoopbackHttpUrl(url: string | URL | undefined): boolean {
  if (url === undefined) return false;
  const text = url.toString();
  if (!URL.canParse(text)) return false;
  const parsed = new URL(text);
  return parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname);
}
