import { invalidSkipToken } from '../core/errors';
import type { KeyList } from './keyList';
import { macMatches, macOf } from './mac';

/** Signs the continuation tokens of list pages ($skipToken), so that a forged or altered one is refused with a 400. */
export interface PageTokenSigner {
  /** The `$skipToken` for a store's continuation of the list named `scope`. */
  sign(scope: string, continuation: string): string;
  /** The store continuation inside `token`, or a 400 when it was not made by `sign` for this very list. */
  open(scope: string, token: string): string;
}

// <base64url continuation>.<key id>.<HMAC-SHA256 base64url>
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$/;

/**
 * A continuation is storage's own cursor (a partition and row key to resume at). Without a signature a caller could
 * steer it anywhere in the table, or into another list's table; the MAC binds it to this app and to one list (`scope`).
 */
export function createPageTokenSigner(keys: KeyList): PageTokenSigner {
  const input = (scope: string, encoded: string) => `pageToken\n${scope}\n${encoded}`;
  return {
    sign(scope, continuation) {
      const encoded = Buffer.from(continuation, 'utf8').toString('base64url');
      const kid = keys.currentKeyId;
      return `${encoded}.${kid}.${macOf(keys, kid, input(scope, encoded))}`;
    },
    open(scope, token) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match?.[1] || !match[2] || !match[3] || !macMatches(keys, match[2], input(scope, match[1]), match[3])) {
        throw invalidSkipToken();
      }
      return Buffer.from(match[1], 'base64url').toString('utf8');
    },
  };
}
