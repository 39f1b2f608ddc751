import { invalidSkipToken } from '../core/errors';
import type { KeyList } from './keyList';
import { legacyMacMatches } from './legacyMac';
import { openToken, signToken } from './signedToken';

/** Signs the continuation tokens of list pages ($skipToken), so that a forged or altered one is refused with a 400. */
export interface PageTokenSigner {
  /** The `$skipToken` for a store's continuation of the list named `scope`. */
  sign(scope: string, continuation: string): Promise<string>;
  /** The store continuation inside `token`, or a 400 when it was not made by `sign` for this very list. */
  open(scope: string, token: string): Promise<string>;
}

// Before the JWT form: <base64url continuation>.<key id>.<HMAC-SHA256 base64url>. Still opened for a walk through a
// list that a deployment interrupted (legacyMac.ts).
const LEGACY_TOKEN_PATTERN = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$/;

/**
 * A continuation is storage's own cursor (a partition and row key to resume at). Without a signature a caller could
 * steer it anywhere in the table, or into another list's table; the token (signedToken.ts) binds it to this app and
 * to one list (`scope`).
 */
export function createPageTokenSigner(keys: KeyList): PageTokenSigner {
  const openLegacy = (scope: string, token: string) => {
    const match = LEGACY_TOKEN_PATTERN.exec(token);
    if (!match?.[1] || !match[2] || !match[3]) return undefined;
    if (!legacyMacMatches(keys, match[2], `pageToken\n${scope}\n${match[1]}`, match[3])) return undefined;
    return Buffer.from(match[1], 'base64url').toString('utf8');
  };
  return {
    sign(scope, continuation) {
      return signToken(keys, 'pageToken', { scope, cont: continuation });
    },
    async open(scope, token) {
      const claims = await openToken(keys, 'pageToken', token);
      if (claims?.scope === scope && typeof claims.cont === 'string') return claims.cont;
      const legacy = openLegacy(scope, token);
      if (legacy !== undefined) return legacy;
      throw invalidSkipToken();
    },
  };
}
