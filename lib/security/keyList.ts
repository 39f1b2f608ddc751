import { createHash } from 'node:crypto';

/** Keys by key id; the first listed is current (it signs or seals), every key still verifies or opens. */
export interface KeyList {
  currentKeyId: string;
  keys: Map<string, Buffer>;
}

const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

/** How long a key of a list must be, in bytes after base64 decoding. */
export type KeyLength = { exactly: number } | { atLeast: number };

/**
 * Parses a `kid1:base64key,kid2:base64key` setting (first = current). Error messages name the setting and entries
 * by position or key id, never key material, so they are safe to log and to show in a start-up failure.
 */
export function parseKeyList(setting: string, text: string, length: KeyLength): KeyList {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`${setting} is empty: set it to kid:base64key[,kid:base64key...].`);
  // An App Service Key Vault reference that the platform could not resolve reaches the app verbatim.
  // https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
  if (trimmed.startsWith(KEY_VAULT_REFERENCE)) {
    throw new Error(
      `${setting} is a Key Vault reference that was not resolved: check that the app's managed identity ` +
        'is enabled and has permission to read the secret in Key Vault (Key Vault Secrets User), then restart the app.',
    );
  }
  const keys = new Map<string, Buffer>();
  trimmed.split(',').forEach((entry, index) => {
    const [kid, key] = parseEntry(setting, entry.trim(), index + 1, length);
    if (keys.has(kid)) throw new Error(`${setting} lists the key id '${kid}' more than once.`);
    keys.set(kid, key);
  });
  const currentKeyId = keys.keys().next().value;
  if (currentKeyId === undefined) throw new Error(`${setting} has no keys.`);
  return { currentKeyId, keys };
}

function parseEntry(setting: string, entry: string, position: number, length: KeyLength): [string, Buffer] {
  const colon = entry.indexOf(':');
  if (colon < 0) throw new Error(`${setting} entry ${position} is not of the form kid:base64key.`);
  const kid = entry.slice(0, colon);
  const encoded = entry.slice(colon + 1).trim();
  if (!KID_PATTERN.test(kid)) {
    throw new Error(
      `${setting} entry ${position} has an invalid key id: use 1-32 characters of A-Z, a-z, 0-9, _ or -.`,
    );
  }
  if (encoded === '' || !BASE64_PATTERN.test(encoded)) throw new Error(`${setting} key '${kid}' is not valid base64.`);
  const key = Buffer.from(encoded, 'base64');
  if ('exactly' in length && key.length !== length.exactly) {
    throw new Error(
      `${setting} key '${kid}' must be ${length.exactly} bytes after base64 decoding, not ${key.length}.`,
    );
  }
  if ('atLeast' in length && key.length < length.atLeast) {
    throw new Error(`${setting} key '${kid}' must be at least ${length.atLeast} bytes after base64 decoding.`);
  }
  return [kid, key];
}

/**
 * SHA-256 fingerprints (hex) of every key published in this repository's examples (local.settings.example.json, the
 * docs). Anyone can read those, so an app running in Azure refuses them; test/unit/security/keyList.test.ts fails when
 * an example file gains a key that is missing here.
 */
export const EXAMPLE_KEY_FINGERPRINTS: ReadonlySet<string> = new Set([
  // local.settings.example.json: PASSCODE_ENCRYPTION_KEYS and the status link key
  '96ded448920b1cbb8a3dd04711c8506b4891750e9490a27bed9e46eeecaed776',
  'c38ff990c3d99ecaae10adfa8d131ec7a6e9e0f0c01729ac5568e78c6377d727',
  // Azurite's well-known account key (tools/azurite.ts)
  'cb4de97f405a7e4686710db86f345ac95acb27c33192e82caafa9c197f2019e5',
  // docs/device-gateway.md: the worked signature example's shared secret (UTF-8)
  '8f60bb5bf760d6a36159b69b14f560758598ce8c7288f83e8a42bf1f12e438b5',
]);

export const keyFingerprint = (key: Buffer): string => createHash('sha256').update(key).digest('hex');

/** Bits a key must carry by the estimate below; a random 32-byte key estimates at about 157. */
const MIN_ESTIMATED_BITS = 128;

/**
 * Why a key must not protect production data, or undefined when it may: a published example, or too regular to be
 * random. The estimate is length × log2(distinct byte values), which a random 32-byte key (about 30 distinct values)
 * or a 64-character hex secret passes easily and an all-zero or "aaaa…" key fails; bytes in arithmetic progression
 * (00 01 02 …) are refused as well.
 */
export function weakKeyReason(key: Buffer): string | undefined {
  if (EXAMPLE_KEY_FINGERPRINTS.has(keyFingerprint(key))) return 'is an example key published in the repository';
  const distinct = new Set(key).size;
  const step = (key[1] ?? 0) - (key[0] ?? 0);
  const progression = key.every((byte, i) => i === 0 || byte - (key[i - 1] ?? 0) === step);
  if (key.length * Math.log2(Math.max(distinct, 1)) < MIN_ESTIMATED_BITS || progression) {
    return 'has too little entropy to be a random key';
  }
  return undefined;
}
