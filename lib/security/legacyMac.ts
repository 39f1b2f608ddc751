import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyList } from './keyList';

/**
 * Checks the MAC of a token in the forms used before the tokens became JWTs (signedToken.ts): `v2.<kid>.<expiry>.<mac>`
 * status links and `<continuation>.<kid>.<mac>` skip tokens. Their MAC (HMAC-SHA256 of a newline-joined text, base64url)
 * is not a JWS signature, so jose cannot check it. Read only: nothing signs in these forms any more. A v2 link dies at its own expiry (at most
 * STATUS_LINK_TTL_SECONDS after it was made) and a skip token lives for one list walk, so this file goes once the
 * deployment that introduced signedToken.ts has run for STATUS_LINK_TTL_SECONDS (docs/security.md, "Token formats").
 *
 * Compares the encoded texts in constant time: the last base64url character has 2 unused bits, so comparing decoded
 * bytes would accept 4 spellings. False for an unknown key id.
 */
export function legacyMacMatches(keys: KeyList, kid: string, input: string, mac: string): boolean {
  const key = keys.keys.get(kid);
  if (!key) return false;
  const expected = Buffer.from(createHmac('sha256', key).update(input, 'utf8').digest('base64url'), 'ascii');
  const presented = Buffer.from(mac, 'ascii');
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
