import type { Caller } from '../security/caller';

/**
 * The caller a response is shaped for. With `includePasscode` false it is the caller without Passcode.Read, so the
 * use cases neither decrypt a passcode nor record a passcodeViewed event: a client that only shows state (the admin
 * console, until an admin reveals the passcode) reads this way, and the audit trail keeps meaning "someone saw it".
 */
export function passcodeViewer(caller: Caller, includePasscode: boolean): Caller {
  if (includePasscode || !caller.roles.has('Passcode.Read')) return caller;
  return { ...caller, roles: new Set([...caller.roles].filter((role) => role !== 'Passcode.Read')) };
}

/**
 * The caching headers of a response that may show passcodes: once it shows one, no cache (browser, proxy) may keep it
 * (`no-store`, RFC 9111 section 5.2.2.5). Every response that can carry a passcode takes its headers from here.
 */
export const passcodeCacheHeaders = (shown: readonly ({ passcode?: string } | undefined)[]): Record<string, string> =>
  shown.some((view) => view?.passcode !== undefined) ? { 'Cache-Control': 'no-store' } : {};
