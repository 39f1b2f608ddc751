import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyList } from './keyList';

/** HMAC-SHA256 of `input` under the key `kid` of `keys`, as base64url (43 characters). */
export function macOf(keys: KeyList, kid: string, input: string): string {
  const key = keys.keys.get(kid);
  if (!key) throw new Error(`no key '${kid}'`);
  return createHmac('sha256', key).update(input, 'utf8').digest('base64url');
}

/**
 * Whether `mac` is the MAC of `input` under key `kid`; false for an unknown key id. Compares the encoded texts in
 * constant time: the last base64url character has 2 unused bits, so comparing decoded bytes would accept 4 spellings.
 */
export function macMatches(keys: KeyList, kid: string, input: string, mac: string): boolean {
  if (!keys.keys.has(kid)) return false;
  const expected = Buffer.from(macOf(keys, kid, input), 'ascii');
  const presented = Buffer.from(mac, 'ascii');
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
