import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';

// A self-signed X.509 certificate for 127.0.0.1 and localhost, built with node:crypto alone (CI has no openssl).
// The DER structures are those of RFC 5280 section 4.1: https://www.rfc-editor.org/rfc/rfc5280#section-4.1

function der(tag: number, content: Buffer): Buffer {
  const length = content.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), content]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | bytes.length, ...bytes]), content]);
}

const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer) => der(0xa0 + n, content);
const integer = (bytes: Buffer) =>
  der(0x02, bytes[0] !== undefined && bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const bitString = (bytes: Buffer) => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));
const octetString = (bytes: Buffer) => der(0x04, bytes);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const boolean = (value: boolean) => der(0x01, Buffer.from([value ? 0xff : 0]));

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let n = arc; ; n = Math.floor(n / 128)) {
      groups.unshift((n % 128) | (groups.length > 0 ? 0x80 : 0));
      if (n < 128) break;
    }
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
    .slice(2);
  return der(0x17, Buffer.from(text, 'ascii'));
}

export interface SelfSignedCert {
  /** PEM certificate; also the trust anchor to give NODE_EXTRA_CA_CERTS. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

/** An ECDSA P-256 certificate valid for a day, for `localhost` and 127.0.0.1, that is its own CA. */
export function selfSignedCert(commonName = 'localhost', now = new Date()): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
  const subjectAltName = sequence(
    der(0x82, Buffer.from('localhost', 'ascii')), // dNSName
    der(0x87, Buffer.from([127, 0, 0, 1])), // iPAddress
  );
  const extensions = sequence(
    sequence(oid('2.5.29.19'), boolean(true), octetString(sequence(boolean(true)))), // basicConstraints: CA
    sequence(oid('2.5.29.17'), octetString(subjectAltName)),
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    name,
    sequence(utcTime(new Date(now.getTime() - 60_000)), utcTime(new Date(now.getTime() + 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certificate = sequence(tbs, ecdsaWithSha256, bitString(signature));
  const base64 = certificate.toString('base64').replace(/(.{64})/g, '$1\n');
  const cert = `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`;
  // Parse it back: a malformed structure fails here rather than as an opaque TLS error later.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(publicKey) || !parsed.checkIP('127.0.0.1'))
    throw new Error('the generated certificate is invalid');
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
