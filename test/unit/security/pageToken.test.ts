import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../lib/core/errors';
import { createPageTokenSigner } from '../../../lib/security/pageToken';
import { createStatusLinkSigner } from '../../../lib/security/statusLink';

const signer = createPageTokenSigner({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
const continuation = Buffer.from(JSON.stringify({ nextPartitionKey: 'device', nextRowKey: 'abc' })).toString('base64');

async function refusal(scope: string, token: string): Promise<ApiError> {
  try {
    await signer.open(scope, token);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('a forged token was accepted');
}

describe('page token signer', () => {
  it('gives back the continuation it signed, for the same list', async () => {
    const token = await signer.sign('devices', continuation);
    expect(token).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(await signer.open('devices', token)).toBe(continuation);
  });

  it('carries a continuation as long as the earlier form did (1,500 bytes)', async () => {
    const long = JSON.stringify({ nextPartitionKey: 'p'.repeat(700), nextRowKey: 'r'.repeat(761) });
    expect(long.length).toBeGreaterThanOrEqual(1500);
    expect(await signer.open('devices', await signer.sign('devices', long))).toBe(long);
  });

  it('refuses a token of another list, with a 400 on $skipToken', async () => {
    const error = await refusal('audit', await signer.sign('devices', continuation));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalidRequest');
    expect(error.extra.target).toBe('$skipToken');
  });

  it('refuses a bare storage continuation and a forged one', async () => {
    expect((await refusal('devices', continuation)).status).toBe(400);
    const forged = Buffer.from('{"nextPartitionKey":1}').toString('base64url');
    expect((await refusal('devices', `${forged}.k1.${'A'.repeat(43)}`)).status).toBe(400);
    const unsigned = Buffer.from(JSON.stringify({ aud: 'pageToken', scope: 'devices', cont: 'x' })).toString(
      'base64url',
    );
    expect((await refusal('devices', `eyJhbGciOiJub25lIn0.${unsigned}.`)).status).toBe(400);
  });

  it('refuses any single-character change', async () => {
    const token = await signer.sign('devices', continuation);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat(token.length - 1), fc.constantFrom(...alphabet), async (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        await expect(signer.open('devices', tampered)).rejects.toThrow(ApiError);
      }),
    );
  });

  it('refuses a status link signed with the same keys', async () => {
    const keys = { currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) };
    const clock = { now: () => new Date('2026-11-26T10:00:00Z') };
    const link = await createStatusLinkSigner({ keys, ttlSeconds: 60, clock }).sign('devices', 'x', clock.now());
    await expect(createPageTokenSigner(keys).open('devices', link)).rejects.toThrow(ApiError);
  });
});

// Made by the HMAC code this file replaced (<base64url continuation>.<kid>.<mac>), before skip tokens became JWTs: a
// caller walking a list across the deployment gets its next page.
describe('skip tokens of the form before JWTs', () => {
  const legacy = createPageTokenSigner({
    currentKeyId: 'new',
    keys: new Map([
      ['new', randomBytes(32)],
      ['legacy', Buffer.from('GH6m0ZJxX1Lz3p8vC9qWbT4rN2sY7kAeUoIiHdFgMjQ=', 'base64')],
    ]),
  });
  const TOKEN =
    'eyJuZXh0UGFydGl0aW9uS2V5IjoiZGV2aWNlLTEiLCJuZXh0Um93S2V5IjoiYWJjIn0.legacy.4QMugEt1xbQhrkVSXnfMe_E3KzG84pntGD6c5d288_8';

  it('still open for their list, and not for another or when altered', async () => {
    expect(await legacy.open('actions/device-1', TOKEN)).toBe('{"nextPartitionKey":"device-1","nextRowKey":"abc"}');
    await expect(legacy.open('actions/device-2', TOKEN)).rejects.toThrow(ApiError);
    await expect(legacy.open('actions/device-1', `${TOKEN.slice(0, -1)}9`)).rejects.toThrow(ApiError);
  });
});
