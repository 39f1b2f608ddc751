import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { KeyList } from '../../../lib/security/keyList';
import { createStatusLinkSigner } from '../../../lib/security/statusLink';

const ACCEPTED = new Date('2026-11-26T10:00:00.000Z');
const keysOf = (...kids: string[]): KeyList => ({
  currentKeyId: kids[0] ?? 'k1',
  keys: new Map(kids.map((kid) => [kid, randomBytes(32)])),
});

function setup(ttlSeconds = 3600, keys = keysOf('k1')) {
  let now = ACCEPTED;
  const clock = { now: () => now };
  const signer = createStatusLinkSigner({ keys, ttlSeconds, clock });
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  const sign = (deviceId = 'device-1', actionId = 'action-1') => signer.sign(deviceId, actionId, ACCEPTED);
  return { signer, sign, advance };
}

describe('status link signer', () => {
  it('verifies its own token for the same device and action, and the token is a URL-safe HS256 JWT', async () => {
    const { signer, sign } = setup();
    const token = await sign();
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', kid: 'k1' });
    expect(decodeJwt(token)).toMatchObject({ aud: 'statusLink', dev: 'device-1', act: 'action-1' });
    expect(encodeURIComponent(token)).toBe(token);
    expect(await signer.verify(token, 'device-1', 'action-1')).toBe(true);
  });

  it('fixes the expiry at acceptance: signing again later gives the same token', async () => {
    const { sign, advance } = setup(600);
    const first = await sign();
    expect(decodeJwt(first).exp).toBe(ACCEPTED.getTime() / 1000 + 600);
    advance(300);
    expect(await sign()).toBe(first);
  });

  it('is valid until the expiry second and invalid from then on', async () => {
    const { signer, sign, advance } = setup(600);
    const token = await sign();
    advance(599);
    expect(await signer.verify(token, 'device-1', 'action-1')).toBe(true);
    advance(1);
    expect(await signer.verify(token, 'device-1', 'action-1')).toBe(false);
  });

  it('does not grant another action of the same device, or the same action id on another device', async () => {
    const { signer, sign } = setup();
    const token = await sign();
    expect(await signer.verify(token, 'device-1', 'action-2')).toBe(false);
    expect(await signer.verify(token, 'device-2', 'action-1')).toBe(false);
    // Shifting characters between the ids must not keep the signature valid.
    expect(await signer.verify(await sign('ab', 'c'), 'a', 'bc')).toBe(false);
  });

  it('rejects a token signed with another key, even under the same key id', async () => {
    const { signer } = setup();
    expect(await signer.verify(await setup().sign(), 'device-1', 'action-1')).toBe(false);
  });

  it('keeps verifying links of an older key after rotation, and stops once that key is removed', async () => {
    const old = keysOf('old');
    const before = setup(3600, old);
    const token = await before.sign();
    const rotated: KeyList = { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)], ...old.keys]) };
    const after = setup(3600, rotated);
    expect(await after.signer.verify(token, 'device-1', 'action-1')).toBe(true);
    expect(decodeProtectedHeader(await after.sign()).kid).toBe('new');
    const dropped = setup(3600, { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)]]) });
    expect(await dropped.signer.verify(token, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects a token whose expiry was pushed back', async () => {
    const { signer, sign, advance } = setup(60);
    const [header, payload, signature] = (await sign()).split('.');
    advance(120);
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    const extended = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url');
    expect(await signer.verify(`${header}.${extended}.${signature}`, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects a token with another purpose, no expiry, or no signature, even under a listed key', async () => {
    const keys = keysOf('k1');
    const { signer } = setup(3600, keys);
    const key = keys.keys.get('k1') ?? Buffer.alloc(0);
    const claims = { dev: 'device-1', act: 'action-1', exp: ACCEPTED.getTime() / 1000 + 60 };
    const jwt = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(key);
    expect(await signer.verify(await jwt({ ...claims, aud: 'statusLink' }), 'device-1', 'action-1')).toBe(true);
    expect(await signer.verify(await jwt({ ...claims, aud: 'pageToken' }), 'device-1', 'action-1')).toBe(false);
    expect(
      await signer.verify(await jwt({ ...claims, exp: undefined, aud: 'statusLink' }), 'device-1', 'action-1'),
    ).toBe(false);
    const unsecured = `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, aud: 'statusLink' })).toString('base64url')}.`;
    expect(await signer.verify(unsecured, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects any single-character change to a token', async () => {
    const { signer, sign } = setup();
    const token = await sign();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat(token.length - 1), fc.constantFrom(...alphabet), async (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        expect(await signer.verify(tampered, 'device-1', 'action-1')).toBe(false);
      }),
    );
    // The last base64url character carries 2 unused bits: respellings that decode to the same MAC are refused too.
    for (const replacement of alphabet.replace(token.at(-1) ?? '', '')) {
      expect(await signer.verify(token.slice(0, -1) + replacement, 'device-1', 'action-1')).toBe(false);
    }
  });

  it('rejects other versions, garbage and empty tokens', async () => {
    const { signer, sign } = setup();
    const token = await sign();
    const garbage = ['', 'v2', 'v2...', 'garbage', `v1.${token}`, `${token}=`, ` ${token}`, `${token}.x`];
    for (const candidate of garbage) expect(await signer.verify(candidate, 'device-1', 'action-1')).toBe(false);
    await fc.assert(
      fc.asyncProperty(fc.string(), async (candidate) => !(await signer.verify(candidate, 'device-1', 'action-1'))),
    );
  });

  it('refuses non-positive lifetimes', () => {
    const clock = { now: () => new Date() };
    expect(() => createStatusLinkSigner({ keys: keysOf('k1'), ttlSeconds: 0, clock })).toThrow(/positive/);
  });

  it('refuses to sign ids that contain a line break', async () => {
    const { signer, sign } = setup();
    await expect(sign('device\n1', 'action-1')).rejects.toThrow(/single-line/);
    expect(await signer.verify(await sign(), 'device-1', 'action-1\n')).toBe(false);
  });
});

// Made by the HMAC code this file replaced (v2.<kid>.<expiry>.<mac>), before the links became JWTs: a link a poller
// already holds must keep opening after the deployment, until its own expiry.
describe('status links of the v2 form', () => {
  const LEGACY_KEYS: KeyList = {
    currentKeyId: 'legacy',
    keys: new Map([['legacy', Buffer.from('GH6m0ZJxX1Lz3p8vC9qWbT4rN2sY7kAeUoIiHdFgMjQ=', 'base64')]]),
  };
  // device-1 / action-1, accepted 2026-11-26T10:00:00Z with a lifetime of 86,400 s: expiry 1795773600.
  const V2_LINK = 'v2.legacy.1795773600.LPrhoP_9raxdALxO9Y-dji9rhjxbl7mDmPnZKTvATPw';

  it('still open for their device and action until their expiry, and for no other', async () => {
    const { signer, advance } = setup(86_400, LEGACY_KEYS);
    expect(await signer.verify(V2_LINK, 'device-1', 'action-1')).toBe(true);
    expect(await signer.verify(V2_LINK, 'device-1', 'action-2')).toBe(false);
    expect(await signer.verify(V2_LINK.replace('1795773600', '1795777200'), 'device-1', 'action-1')).toBe(false);
    expect(await signer.verify(`${V2_LINK.slice(0, -1)}Q`, 'device-1', 'action-1')).toBe(false);
    advance(86_399);
    expect(await signer.verify(V2_LINK, 'device-1', 'action-1')).toBe(true);
    advance(1);
    expect(await signer.verify(V2_LINK, 'device-1', 'action-1')).toBe(false);
  });

  it('still open after a rotation that keeps their key, and not once it is removed', async () => {
    const rotated: KeyList = { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)], ...LEGACY_KEYS.keys]) };
    expect(await setup(86_400, rotated).signer.verify(V2_LINK, 'device-1', 'action-1')).toBe(true);
    const dropped = setup(86_400, { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)]]) });
    expect(await dropped.signer.verify(V2_LINK, 'device-1', 'action-1')).toBe(false);
  });
});
