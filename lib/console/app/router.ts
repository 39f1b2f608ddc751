import { useEffect, useState } from 'preact/hooks';

/** Where the console is served (the function app's route prefix is /api). */
const BASE = '/api/console';

export type Route =
  | { name: 'devices' }
  | { name: 'device'; deviceId: string }
  | { name: 'actions' }
  | { name: 'audit' }
  | { name: 'notFound' };

/** The console's pages by path (after BASE); the same paths as the portal's "Devices" blade, in spirit. */
function parseRoute(pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'devices')) return { name: 'devices' };
  if (parts.length === 2 && parts[0] === 'devices' && parts[1]) {
    try {
      return { name: 'device', deviceId: decodeURIComponent(parts[1]) };
    } catch {
      return { name: 'notFound' };
    }
  }
  if (parts.length === 1 && parts[0] === 'actions') return { name: 'actions' };
  if (parts.length === 1 && parts[0] === 'audit') return { name: 'audit' };
  return { name: 'notFound' };
}

export const href = (path: string) => `${BASE}${path}`;
export const deviceHref = (deviceId: string) => href(`/devices/${encodeURIComponent(deviceId)}`);

const CHANGE = 'console:navigate';

/** Goes to a console URL without reloading the page. */
export function navigate(url: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event(CHANGE));
}

/**
 * The current location, re-rendering on navigation (links, back and forward). `path` identifies the page: a change
 * of query only (a filter) keeps the page and its state.
 */
export function useLocation(): { route: Route; query: URLSearchParams; path: string } {
  const read = () => ({
    route: parseRoute(location.pathname),
    query: new URLSearchParams(location.search),
    path: location.pathname,
  });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const update = () => setCurrent(read());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return current;
}

/** Same-tab clicks on console links navigate in place; a modified click (new tab, window) is left to the browser. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const anchor = event.currentTarget;
  if (!(anchor instanceof HTMLAnchorElement) || anchor.origin !== location.origin) return;
  event.preventDefault();
  navigate(anchor.href);
}
