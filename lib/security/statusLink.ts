import type { Clock } from '../ports';
import type { KeyList } from './keyList';
import { legacyMacMatches } from './legacyMac';
import { openToken, signToken } from './signedToken';

// Before the JWT form: v2.<key id>.<expiry unix seconds>.<HMAC-SHA256 as base64url, 43 chars>. Still opened until the
// last such link expires (legacyMac.ts).
const V2_TOKEN_PATTERN = /^v2\.([A-Za-z0-9_-]{1,32})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Signs and checks the tokens carried by status monitor URLs. */
export interface StatusLinkSigner {
  /**
   * A URL-safe token that lets its bearer read this one action's state. Its expiry is fixed by the action's
   * acceptance time (`acceptedAt` + the lifetime), so signing again for the same action gives the same expiry:
   * polling never extends a link.
   */
  sign(deviceId: string, actionId: string, acceptedAt: Date): Promise<string>;
  /** True only for an unexpired, untampered token made by `sign` (with any listed key) for this device and action. */
  verify(token: string, deviceId: string, actionId: string): Promise<boolean>;
}

export interface StatusLinkOptions {
  /** HMAC keys by id (STATUS_LINK_KEYS): the current one signs, every one verifies, so keys rotate without breaking links. */
  keys: KeyList;
  ttlSeconds: number;
  clock: Clock;
}

/**
 * Power Automate and Logic Apps poll the `Location` URL without the caller's credentials, so the status
 * monitor URL carries its own proof of authorisation: a JWT (signedToken.ts) naming the device and the action, with
 * an expiry.
 * https://learn.microsoft.com/azure/logic-apps/logic-apps-workflow-actions-triggers#asynchronous-patterns
 */
export function createStatusLinkSigner(options: StatusLinkOptions): StatusLinkSigner {
  const { keys, ttlSeconds } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error('The status link lifetime must be a positive number of seconds.');

  const verifyV2 = (token: string, deviceId: string, actionId: string) => {
    const match = V2_TOKEN_PATTERN.exec(token);
    if (!match?.[1] || !match[2] || !match[3]) return false;
    const expiry = Number(match[2]);
    const input = `statusLink\n${deviceId}\n${actionId}\n${expiry}`;
    return legacyMacMatches(keys, match[1], input, match[3]) && nowSeconds(options.clock) < expiry;
  };

  return {
    async sign(deviceId, actionId, acceptedAt) {
      if (!isSafeId(deviceId) || !isSafeId(actionId))
        throw new Error('Ids in a status link must be non-empty and single-line.');
      const exp = Math.floor(acceptedAt.getTime() / 1000) + ttlSeconds;
      return signToken(keys, 'statusLink', { dev: deviceId, act: actionId, exp });
    },
    async verify(token, deviceId, actionId) {
      if (!isSafeId(deviceId) || !isSafeId(actionId)) return false;
      if (token.startsWith('v2.')) return verifyV2(token, deviceId, actionId);
      const claims = await openToken(keys, 'statusLink', token, options.clock.now());
      // jose has checked `exp` against the clock; a link without one would never expire, so it is refused.
      return claims?.dev === deviceId && claims.act === actionId && typeof claims.exp === 'number';
    },
  };
}

const nowSeconds = (clock: Clock) => Math.floor(clock.now().getTime() / 1000);

// Ids are single-line: the v2 MAC input separated fields with newlines, so a newline inside an id could shift a field
// boundary there.
const isSafeId = (id: string) => id.length > 0 && !/[\r\n]/.test(id);
