import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports';

const VERSION = 'v1';
const MIN_KEY_BYTES = 32;
// v1.<expiry unix seconds>.<HMAC-SHA256 as base64url, 43 chars>: every character is URL-safe (RFC 3986 unreserved).
const TOKEN_PATTERN = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Signs and checks the short-lived tokens carried by status monitor URLs. */
export interface StatusLinkSigner {
  /** A URL-safe token that lets its bearer read this one action's state until it expires. */
  sign(deviceId: string, actionId: string): string;
  /** True only for an unexpired, untampered token made by `sign` for this very device and action. */
  verify(token: string, deviceId: string, actionId: string): boolean;
}

export interface StatusLinkOptions {
  /** HMAC key, at least 32 bytes (RFC 2104 §3: no shorter than the hash output). */
  key: Buffer;
  ttlSeconds?: number;
  clock: Clock;
}

/**
 * Power Automate and Logic Apps poll the `Location` URL without the caller's credentials, so the status
 * monitor URL carries its own proof of authorisation: an HMAC over the device, the action and an expiry.
 * https://learn.microsoft.com/azure/logic-apps/logic-apps-workflow-actions-triggers#asynchronous-patterns
 */
export function createStatusLinkSigner(options: StatusLinkOptions): StatusLinkSigner {
  const ttlSeconds = options.ttlSeconds ?? 3600;
  if (options.key.length < MIN_KEY_BYTES)
    throw new Error(`The status link key must be at least ${MIN_KEY_BYTES} bytes.`);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error('The status link lifetime must be a positive number of seconds.');
  const key = Buffer.from(options.key);
  const nowSeconds = () => Math.floor(options.clock.now().getTime() / 1000);
  const mac = (deviceId: string, actionId: string, expiry: number) =>
    createHmac('sha256', key).update(`${VERSION}\n${deviceId}\n${actionId}\n${expiry}`, 'utf8').digest();

  return {
    sign(deviceId, actionId) {
      if (!isSafeId(deviceId) || !isSafeId(actionId))
        throw new Error('Ids in a status link must be non-empty and single-line.');
      const expiry = nowSeconds() + ttlSeconds;
      return `${VERSION}.${expiry}.${mac(deviceId, actionId, expiry).toString('base64url')}`;
    },
    verify(token, deviceId, actionId) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match?.[1] || !match[2] || !isSafeId(deviceId) || !isSafeId(actionId)) return false;
      const expiry = Number(match[1]);
      // Compare the encoded texts, not decoded bytes: the last base64url character has 2 unused bits, so decoding
      // would accept 4 spellings of one MAC. Constant time, and before the expiry check, so timing tells nothing.
      const expected = Buffer.from(mac(deviceId, actionId, expiry).toString('base64url'), 'ascii');
      const authentic = timingSafeEqual(Buffer.from(match[2], 'ascii'), expected);
      return authentic && nowSeconds() < expiry;
    },
  };
}

// The MAC input separates fields with newlines, so a newline inside an id could shift the field boundary.
const isSafeId = (id: string) => id.length > 0 && !/[\r\n]/.test(id);
