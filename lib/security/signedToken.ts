import { type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { KeyList } from './keyList';

/**
 * The app's own compact tokens (status links, skip tokens): JWTs (RFC 7519) in JWS compact form, HS256 under a key of
 * STATUS_LINK_KEYS named by the protected header's `kid`, made and checked by jose. Every character is URL-safe
 * (RFC 3986 unreserved). `aud` names what a token is for, so a token of one kind never opens as another.
 */
export type TokenPurpose = 'statusLink' | 'pageToken';

/**
 * Base64url header and payload, then a 43-character HMAC-SHA256 whose last character has its 2 unused bits clear.
 * jose decodes the signature loosely, so without this pattern 4 spellings of one signature would all verify.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{1,4000}\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A token for `purpose` with `claims`, signed with the current key. */
export async function signToken(keys: KeyList, purpose: TokenPurpose, claims: JWTPayload): Promise<string> {
  const kid = keys.currentKeyId;
  const key = keys.keys.get(kid);
  if (!key) throw new Error(`no key '${kid}'`);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).setAudience(purpose).sign(key);
}

/**
 * The claims of `token` when it is a token for `purpose` signed with any listed key, and unexpired at `now` when it
 * has an `exp`; undefined for anything else (garbage, another purpose, an unknown key, a bad signature, expired).
 */
export async function openToken(
  keys: KeyList,
  purpose: TokenPurpose,
  token: string,
  now?: Date,
): Promise<JWTPayload | undefined> {
  if (!COMPACT_JWS.test(token)) return undefined;
  try {
    const { payload } = await jwtVerify(
      token,
      ({ kid }) => {
        const key = kid === undefined ? undefined : keys.keys.get(kid);
        if (!key) throw new Error('unknown key id');
        return key;
      },
      { algorithms: ['HS256'], audience: purpose, ...(now && { currentDate: now }) },
    );
    return payload;
  } catch {
    return undefined;
  }
}
