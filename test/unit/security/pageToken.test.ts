import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../lib/core/errors';
import { createPageTokenSigner } from '../../../lib/security/pageToken';

const signer = createPageTokenSigner({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
const continuation = Buffer.from(JSON.stringify({ nextPartitionKey: 'device', nextRowKey: 'abc' })).toString('base64');

function refusal(scope: string, token: string): ApiError {
  try {
    signer.open(scope, token);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('a forged token was accepted');
}

describe('page token signer', () => {
  it('gives back the continuation it signed, for the same list', () => {
    const token = signer.sign('devices', continuation);
    expect(token).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(signer.open('devices', token)).toBe(continuation);
  });

  it('refuses a token of another list, with a 400 on $skipToken', () => {
    const error = refusal('audit', signer.sign('devices', continuation));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalidRequest');
    expect(error.extra.target).toBe('$skipToken');
  });

  it('refuses a bare storage continuation and a forged one', () => {
    expect(refusal('devices', continuation).status).toBe(400);
    const forged = Buffer.from('{"nextPartitionKey":1}').toString('base64url');
    expect(refusal('devices', `${forged}.k1.${'A'.repeat(43)}`).status).toBe(400);
  });

  it('refuses any single-character change', () => {
    const token = signer.sign('devices', continuation);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.constantFrom(...alphabet), (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        expect(() => signer.open('devices', tampered)).toThrow(ApiError);
      }),
    );
  });
});
