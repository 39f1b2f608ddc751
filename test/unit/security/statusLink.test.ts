import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
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
  it('verifies its own token for the same device and action, and the token is URL-safe', () => {
    const { signer, sign } = setup();
    const token = sign();
    expect(token).toMatch(/^v2\.k1\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(true);
  });

  it('fixes the expiry at acceptance: signing again later gives the same token', () => {
    const { sign, advance } = setup(600);
    const first = sign();
    expect(first.split('.')[2]).toBe(String(ACCEPTED.getTime() / 1000 + 600));
    advance(300);
    expect(sign()).toBe(first);
  });

  it('is valid until the expiry second and invalid from then on', () => {
    const { signer, sign, advance } = setup(600);
    const token = sign();
    advance(599);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(true);
    advance(1);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(false);
  });

  it('does not grant another action of the same device, or the same action id on another device', () => {
    const { signer, sign } = setup();
    const token = sign();
    expect(signer.verify(token, 'device-1', 'action-2')).toBe(false);
    expect(signer.verify(token, 'device-2', 'action-1')).toBe(false);
    // Shifting characters between the ids must not keep the MAC valid.
    expect(signer.verify(sign('ab', 'c'), 'a', 'bc')).toBe(false);
  });

  it('rejects a token signed with another key, even under the same key id', () => {
    const { signer } = setup();
    expect(signer.verify(setup().sign(), 'device-1', 'action-1')).toBe(false);
  });

  it('keeps verifying links of an older key after rotation, and stops once that key is removed', () => {
    const old = keysOf('old');
    const before = setup(3600, old);
    const token = before.sign();
    const rotated: KeyList = { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)], ...old.keys]) };
    const after = setup(3600, rotated);
    expect(after.signer.verify(token, 'device-1', 'action-1')).toBe(true);
    expect(after.sign()).toMatch(/^v2\.new\./);
    const dropped = setup(3600, { currentKeyId: 'new', keys: new Map([['new', randomBytes(32)]]) });
    expect(dropped.signer.verify(token, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects a token whose expiry was pushed back', () => {
    const { signer, sign, advance } = setup(60);
    const [version, kid, expiry, mac] = sign().split('.');
    advance(120);
    const extended = `${version}.${kid}.${Number(expiry) + 3600}.${mac}`;
    expect(signer.verify(extended, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects any single-character change to a token', () => {
    const { signer, sign } = setup();
    const token = sign();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    fc.assert(
      fc.property(fc.nat(token.length - 1), fc.constantFrom(...alphabet), (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        expect(signer.verify(tampered, 'device-1', 'action-1')).toBe(false);
      }),
    );
    // The last base64url character carries 2 unused bits: respellings that decode to the same MAC are refused too.
    for (const replacement of alphabet.replace(token.at(-1) ?? '', '')) {
      expect(signer.verify(token.slice(0, -1) + replacement, 'device-1', 'action-1')).toBe(false);
    }
  });

  it('rejects other versions, garbage and empty tokens', () => {
    const { signer, sign } = setup();
    const token = sign();
    const garbage = ['', 'v2', 'v2...', 'garbage', token.replace(/^v2/, 'v1'), `${token}=`, ` ${token}`, `${token}.x`];
    for (const candidate of garbage) expect(signer.verify(candidate, 'device-1', 'action-1')).toBe(false);
    fc.assert(fc.property(fc.string(), (candidate) => !signer.verify(candidate, 'device-1', 'action-1')));
  });

  it('refuses non-positive lifetimes', () => {
    const clock = { now: () => new Date() };
    expect(() => createStatusLinkSigner({ keys: keysOf('k1'), ttlSeconds: 0, clock })).toThrow(/positive/);
  });

  it('refuses to sign ids that contain a line break', () => {
    const { signer, sign } = setup();
    expect(() => sign('device\n1', 'action-1')).toThrow(/single-line/);
    expect(signer.verify(sign(), 'device-1', 'action-1\n')).toBe(false);
  });
});
