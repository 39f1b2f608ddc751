import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AesGcmCipher, parseEncryptionKeys } from '../../../lib/adapters/aesGcmCipher';

const key = (bytes = 32) => randomBytes(bytes).toString('base64');
const cipherWith = (text: string) => new AesGcmCipher(parseEncryptionKeys(text));
const AAD = 'device-1/action-1';

function flipByte(value: string, index: number): string {
  const data = Buffer.from(value, 'base64');
  data[index] = (data[index] ?? 0) ^ 0x01;
  return data.toString('base64');
}

describe('AesGcmCipher', () => {
  it('opens what it sealed, for any text', () => {
    const cipher = cipherWith(`k1:${key()}`);
    fc.assert(
      fc.property(fc.string(), fc.string(), (plaintext, aad) => {
        expect(cipher.open(cipher.seal(plaintext, aad), aad)).toBe(plaintext);
      }),
    );
  });

  it('seals with the current key id, as iv || ciphertext || tag, never the plaintext', () => {
    const sealed = cipherWith(`k1:${key()}`).seal('729403', AAD);
    expect(sealed.keyId).toBe('k1');
    expect(Buffer.from(sealed.value, 'base64')).toHaveLength(12 + 6 + 16);
    expect(sealed.value).not.toContain('729403');
  });

  it('uses a fresh IV every time, so equal passcodes give different ciphertexts', () => {
    const cipher = cipherWith(`k1:${key()}`);
    expect(cipher.seal('729403', AAD).value).not.toBe(cipher.seal('729403', AAD).value);
  });

  it('refuses to open with other associated data (another device or action)', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const sealed = cipher.seal('729403', 'device-1/action-1');
    expect(() => cipher.open(sealed, 'device-1/action-2')).toThrow('The sealed secret could not be opened.');
    expect(() => cipher.open(sealed, 'device-2/action-1')).toThrow('The sealed secret could not be opened.');
  });

  it('detects tampering with the IV, the ciphertext or the tag', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const sealed = cipher.seal('729403', AAD);
    const length = Buffer.from(sealed.value, 'base64').length;
    for (const index of [0, 11, 12, 17, 18, length - 1]) {
      expect(() => cipher.open({ ...sealed, value: flipByte(sealed.value, index) }, AAD)).toThrow(
        'The sealed secret could not be opened.',
      );
    }
  });

  it('rejects truncated values and unknown key ids with the same generic error', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const sealed = cipher.seal('729403', AAD);
    expect(() => cipher.open({ ...sealed, value: sealed.value.slice(0, 20) }, AAD)).toThrow(
      'The sealed secret could not be opened.',
    );
    expect(() => cipher.open({ ...sealed, keyId: 'k9' }, AAD)).toThrow('The sealed secret could not be opened.');
  });

  it('rejects a ciphertext sealed under another key that reuses the key id', () => {
    const sealed = cipherWith(`k1:${key()}`).seal('729403', AAD);
    expect(() => cipherWith(`k1:${key()}`).open(sealed, AAD)).toThrow('The sealed secret could not be opened.');
  });

  it('keeps opening old ciphertexts after a new current key is added (rotation)', () => {
    const oldKey = key();
    const before = cipherWith(`old:${oldKey}`);
    const sealedBefore = before.seal('729403', AAD);

    const after = cipherWith(`new:${key()},old:${oldKey}`);
    expect(after.open(sealedBefore, AAD)).toBe('729403');
    const sealedAfter = after.seal('118204', AAD);
    expect(sealedAfter.keyId).toBe('new');
    expect(after.open(sealedAfter, AAD)).toBe('118204');
    // The old deployment cannot read what the new key sealed: it really is another key.
    expect(() => before.open(sealedAfter, AAD)).toThrow('The sealed secret could not be opened.');
  });
});

describe('parseEncryptionKeys', () => {
  it('parses kid:base64key pairs, the first being current', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const parsed = parseEncryptionKeys(` 2026-11:${a.toString('base64')}, k_0-A:${b.toString('base64')}\n`);
    expect(parsed.currentKeyId).toBe('2026-11');
    expect([...parsed.keys.keys()]).toEqual(['2026-11', 'k_0-A']);
    expect(parsed.keys.get('2026-11')?.equals(a)).toBe(true);
    expect(parsed.keys.get('k_0-A')?.equals(b)).toBe(true);
  });

  it('accepts a kid of 32 characters and refuses one of 33', () => {
    expect(parseEncryptionKeys(`${'a'.repeat(32)}:${key()}`).currentKeyId).toBe('a'.repeat(32));
    expect(() => parseEncryptionKeys(`${'a'.repeat(33)}:${key()}`)).toThrow(/invalid key id/);
  });

  it.each([
    ['empty', '', /is empty/],
    ['blank', '  \n', /is empty/],
    ['no colon', 'justsometext', /entry 1 is not of the form kid:base64key/],
    ['empty kid', `:${key()}`, /entry 1 has an invalid key id/],
    ['kid with a space', `my key:${key()}`, /entry 1 has an invalid key id/],
    ['kid with a dot', `k.1:${key()}`, /entry 1 has an invalid key id/],
    ['empty key', 'k1:', /key 'k1' is not valid base64/],
    ['not base64', 'k1:not*base64!', /key 'k1' is not valid base64/],
    ['31-byte key', `k1:${key(31)}`, /key 'k1' must be 32 bytes after base64 decoding, not 31/],
    ['33-byte key', `k1:${key(33)}`, /must be 32 bytes after base64 decoding, not 33/],
    ['16-byte key in entry 2', `k1:${key()},k2:${key(16)}`, /key 'k2' must be 32 bytes/],
    ['duplicate kid', `k1:${key()},k1:${key()}`, /lists the key id 'k1' more than once/],
    ['trailing comma', `k1:${key()},`, /entry 2 is not of the form/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseEncryptionKeys(text)).toThrow(message);
  });

  it('says a Key Vault reference was not resolved and what to check', () => {
    const reference = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/passcode-keys/)';
    expect(() => parseEncryptionKeys(reference)).toThrow(/Key Vault reference that was not resolved/);
    expect(() => parseEncryptionKeys(reference)).toThrow(/managed identity/);
  });

  it('never echoes key material in its errors', () => {
    const secrets = [key(31), key(33), 'c2VjcmV0LW5vdC1iYXNlNjQ*', key()];
    const texts = [
      `k1:${secrets[0]}`,
      `k1:${secrets[1]}`,
      `k1:${secrets[2]}`,
      `${secrets[3]}`,
      `bad kid:${secrets[3]}`,
    ];
    for (const text of texts) {
      const error = captureError(() => parseEncryptionKeys(text));
      for (const secret of secrets) expect(error.message).not.toContain(secret);
    }
  });
});

function captureError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected an error');
}
