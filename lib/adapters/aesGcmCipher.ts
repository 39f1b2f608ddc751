import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SealedSecret } from '../core/model';
import type { Cipher } from '../ports';
import { type KeyList, parseKeyList } from '../security/keyList';

const KEY_BYTES = 32;
// 96-bit IVs are the size GCM is designed for (NIST SP 800-38D §8.2); random IVs are safe far beyond our volume.
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encryption keys by key id; the current key seals, every key opens. */
export type EncryptionKeys = KeyList;

/** Parses `PASSCODE_ENCRYPTION_KEYS` (`kid1:base64key,kid2:base64key`, first = current; 256-bit keys). */
export const parseEncryptionKeys = (text: string): EncryptionKeys =>
  parseKeyList('PASSCODE_ENCRYPTION_KEYS', text, { exactly: KEY_BYTES });

/** AES-256-GCM sealing of passcodes; the key id travels with each ciphertext so old keys keep opening old data. */
export class AesGcmCipher implements Cipher {
  private readonly currentKeyId: string;
  private readonly currentKey: Buffer;
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(keys: EncryptionKeys) {
    const currentKey = keys.keys.get(keys.currentKeyId);
    if (currentKey === undefined) throw new Error('The current encryption key id has no key.');
    for (const key of keys.keys.values()) {
      if (key.length !== KEY_BYTES) throw new Error(`Every encryption key must be ${KEY_BYTES} bytes.`);
    }
    this.currentKeyId = keys.currentKeyId;
    this.currentKey = currentKey;
    this.keys = new Map(keys.keys);
  }

  seal(plaintext: string, aad: string): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.currentKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const value = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64');
    return { keyId: this.currentKeyId, value };
  }

  open(sealed: SealedSecret, aad: string): string {
    // One message for every failure: which check failed is of no use to a caller and some use to an attacker.
    const key = this.keys.get(sealed.keyId);
    const data = Buffer.from(sealed.value, 'base64');
    if (key === undefined || data.length < IV_BYTES + TAG_BYTES) throw openFailed();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plaintext = decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES));
      return Buffer.concat([plaintext, decipher.final()]).toString('utf8');
    } catch {
      throw openFailed();
    }
  }
}

const openFailed = () => new Error('The sealed secret could not be opened.');
