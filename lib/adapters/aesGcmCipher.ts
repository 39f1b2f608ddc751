import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SealedSecret } from '../core/model';
import type { Cipher } from '../ports';

const SETTING = 'PASSCODE_ENCRYPTION_KEYS';
const KEY_BYTES = 32;
// 96-bit IVs are the size GCM is designed for (NIST SP 800-38D §8.2); random IVs are safe far beyond our volume.
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encryption keys by key id; the current key seals, every key opens. */
export interface EncryptionKeys {
  currentKeyId: string;
  keys: Map<string, Buffer>;
}

/**
 * Parses `PASSCODE_ENCRYPTION_KEYS` (`kid1:base64key,kid2:base64key`, first = current).
 * Error messages name entries by position or key id and never echo key material.
 */
export function parseEncryptionKeys(text: string): EncryptionKeys {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`${SETTING} is empty: set it to kid:base64key[,kid:base64key...].`);
  // An App Service Key Vault reference that the platform could not resolve reaches the app verbatim.
  // https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
  if (trimmed.startsWith('@Microsoft.KeyVault(')) {
    throw new Error(
      `${SETTING} is a Key Vault reference that was not resolved: check that the app's managed identity ` +
        'is enabled and has permission to read the secret in Key Vault (Key Vault Secrets User), then restart the app.',
    );
  }
  const keys = new Map<string, Buffer>();
  trimmed.split(',').forEach((entry, index) => {
    const [kid, key] = parseEntry(entry.trim(), index + 1);
    if (keys.has(kid)) throw new Error(`${SETTING} lists the key id '${kid}' more than once.`);
    keys.set(kid, key);
  });
  const currentKeyId = keys.keys().next().value;
  if (currentKeyId === undefined) throw new Error(`${SETTING} has no keys.`);
  return { currentKeyId, keys };
}

function parseEntry(entry: string, position: number): [string, Buffer] {
  const colon = entry.indexOf(':');
  if (colon < 0) throw new Error(`${SETTING} entry ${position} is not of the form kid:base64key.`);
  const kid = entry.slice(0, colon);
  const encoded = entry.slice(colon + 1).trim();
  if (!KID_PATTERN.test(kid)) {
    throw new Error(
      `${SETTING} entry ${position} has an invalid key id: use 1-32 characters of A-Z, a-z, 0-9, _ or -.`,
    );
  }
  if (encoded === '' || !BASE64_PATTERN.test(encoded)) {
    throw new Error(`${SETTING} key '${kid}' is not valid base64.`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(`${SETTING} key '${kid}' must be ${KEY_BYTES} bytes after base64 decoding, not ${key.length}.`);
  }
  return [kid, key];
}

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
