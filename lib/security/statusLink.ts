import type { Clock } from '../ports';
import type { KeyList } from './keyList';
import { macMatches, macOf } from './mac';

// v2.<key id>.<expiry unix seconds>.<HMAC-SHA256 as base64url, 43 chars>: every character is URL-safe (RFC 3986).
const TOKEN_PATTERN = /^v2\.([A-Za-z0-9_-]{1,32})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Signs and checks the tokens carried by status monitor URLs. */
export interface StatusLinkSigner {
  /**
   * A URL-safe token that lets its bearer read this one action's state. Its expiry is fixed by the action's
   * acceptance time (`acceptedAt` + the lifetime), so signing again for the same action gives the same expiry:
   * polling never extends a link.
   */
  sign(deviceId: string, actionId: string, acceptedAt: Date): string;
  /** True only for an unexpired, untampered token made by `sign` (with any listed key) for this device and action. */
  verify(token: string, deviceId: string, actionId: string): boolean;
}

export interface StatusLinkOptions {
  /** HMAC keys by id (STATUS_LINK_KEYS): the current one signs, every one verifies, so keys rotate without breaking links. */
  keys: KeyList;
  ttlSeconds: number;
  clock: Clock;
}

/**
 * Power Automate and Logic Apps poll the `Location` URL without the caller's credentials, so the status
 * monitor URL carries its own proof of authorisation: an HMAC over the device, the action and an expiry.
 * https://learn.microsoft.com/azure/logic-apps/logic-apps-workflow-actions-triggers#asynchronous-patterns
 */
export function createStatusLinkSigner(options: StatusLinkOptions): StatusLinkSigner {
  const { keys, ttlSeconds } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error('The status link lifetime must be a positive number of seconds.');
  const input = (deviceId: string, actionId: string, expiry: number) =>
    `statusLink\n${deviceId}\n${actionId}\n${expiry}`;

  return {
    sign(deviceId, actionId, acceptedAt) {
      if (!isSafeId(deviceId) || !isSafeId(actionId))
        throw new Error('Ids in a status link must be non-empty and single-line.');
      const expiry = Math.floor(acceptedAt.getTime() / 1000) + ttlSeconds;
      const kid = keys.currentKeyId;
      return `v2.${kid}.${expiry}.${macOf(keys, kid, input(deviceId, actionId, expiry))}`;
    },
    verify(token, deviceId, actionId) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match?.[1] || !match[2] || !match[3] || !isSafeId(deviceId) || !isSafeId(actionId)) return false;
      const expiry = Number(match[2]);
      const authentic = macMatches(keys, match[1], input(deviceId, actionId, expiry), match[3]);
      return authentic && Math.floor(options.clock.now().getTime() / 1000) < expiry;
    },
  };
}

// The MAC input separates fields with newlines, so a newline inside an id could shift the field boundary.
const isSafeId = (id: string) => id.length > 0 && !/[\r\n]/.test(id);
