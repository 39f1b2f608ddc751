import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStatusLinkSigner } from '../../../lib/security/statusLink';

function setup(ttlSeconds = 3600) {
  let now = new Date('2026-11-26T10:00:00.000Z');
  const clock = { now: () => now };
  const signer = createStatusLinkSigner({ key: randomBytes(32), ttlSeconds, clock });
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };
  return { signer, advance };
}

describe('status link signer', () => {
  it('verifies its own token for the same device and action, and the token is URL-safe', () => {
    const { signer } = setup();
    const token = signer.sign('device-1', 'action-1');
    expect(token).toMatch(/^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(true);
  });

  it('puts the expiry (now + ttl) in the token', () => {
    const { signer } = setup(600);
    const expiry = Date.parse('2026-11-26T10:00:00.000Z') / 1000 + 600;
    expect(signer.sign('device-1', 'action-1').split('.')[1]).toBe(String(expiry));
  });

  it('is valid until the expiry second and invalid from then on', () => {
    const { signer, advance } = setup(600);
    const token = signer.sign('device-1', 'action-1');
    advance(599);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(true);
    advance(1);
    expect(signer.verify(token, 'device-1', 'action-1')).toBe(false);
  });

  it('defaults to a one-hour lifetime', () => {
    let now = new Date('2026-11-26T10:00:00.000Z');
    const signer = createStatusLinkSigner({ key: randomBytes(32), clock: { now: () => now } });
    const token = signer.sign('d', 'a');
    now = new Date('2026-11-26T10:59:59.000Z');
    expect(signer.verify(token, 'd', 'a')).toBe(true);
    now = new Date('2026-11-26T11:00:00.000Z');
    expect(signer.verify(token, 'd', 'a')).toBe(false);
  });

  it('does not grant another action of the same device, or the same action id on another device', () => {
    const { signer } = setup();
    const token = signer.sign('device-1', 'action-1');
    expect(signer.verify(token, 'device-1', 'action-2')).toBe(false);
    expect(signer.verify(token, 'device-2', 'action-1')).toBe(false);
    // Shifting characters between the ids must not keep the MAC valid.
    expect(signer.verify(signer.sign('ab', 'c'), 'a', 'bc')).toBe(false);
  });

  it('rejects a token signed with another key', () => {
    const { signer } = setup();
    const other = setup().signer;
    expect(signer.verify(other.sign('device-1', 'action-1'), 'device-1', 'action-1')).toBe(false);
  });

  it('rejects a token whose expiry was pushed back', () => {
    const { signer, advance } = setup(60);
    const [version, expiry, mac] = signer.sign('device-1', 'action-1').split('.');
    advance(120);
    const extended = `${version}.${Number(expiry) + 3600}.${mac}`;
    expect(signer.verify(extended, 'device-1', 'action-1')).toBe(false);
  });

  it('rejects any single-character change to a token', () => {
    const { signer } = setup();
    const token = signer.sign('device-1', 'action-1');
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
    const { signer } = setup();
    const token = signer.sign('device-1', 'action-1');
    const garbage = ['', 'v1', 'v1..', 'garbage', token.replace(/^v1/, 'v2'), `${token}=`, ` ${token}`, `${token}.x`];
    for (const candidate of garbage) expect(signer.verify(candidate, 'device-1', 'action-1')).toBe(false);
    fc.assert(fc.property(fc.string(), (candidate) => !signer.verify(candidate, 'device-1', 'action-1')));
  });

  it('refuses keys shorter than 32 bytes and non-positive lifetimes', () => {
    const clock = { now: () => new Date() };
    expect(() => createStatusLinkSigner({ key: randomBytes(31), clock })).toThrow(/at least 32 bytes/);
    expect(() => createStatusLinkSigner({ key: randomBytes(32), ttlSeconds: 0, clock })).toThrow(/positive/);
  });

  it('refuses to sign ids that contain a line break', () => {
    const { signer } = setup();
    expect(() => signer.sign('device\n1', 'action-1')).toThrow(/single-line/);
    expect(signer.verify(signer.sign('device-1', 'action-1'), 'device-1', 'action-1\n')).toBe(false);
  });
});
