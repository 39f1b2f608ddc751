import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';

/** What the OIDC tokens of a Pub/Sub push subscription say by default. */
export interface PushSignerOptions {
  /** Google's issuer; Pub/Sub's tokens carry `https://accounts.google.com`. */
  issuer?: string;
  audience: string;
  /** The service account the push subscription authenticates as. */
  email: string;
  emailVerified?: boolean;
  lifetimeSeconds?: number;
}

/** How to make a token a receiver must refuse. */
interface TokenOverrides {
  /** Claims set over the defaults (aud, email, email_verified, iss, sub, azp, iat, exp). */
  claims?: JWTPayload & Record<string, unknown>;
  /** Claims left out. */
  omit?: string[];
  /** Issued two lifetimes ago, so expired one lifetime ago. */
  expired?: boolean;
  /** 'foreign': signed by a key that is not in the JWKS, under the signer's own kid (a forgery). */
  key?: 'foreign';
  /** 'none': an unsecured JWT (RFC 7519 §6), no signature at all. */
  alg?: 'none';
  /** The header's kid, e.g. one the JWKS does not have. */
  kid?: string;
}

/** A Google-like OIDC token issuer for Pub/Sub push, with its JWKS endpoint on loopback. */
export interface PushSigner {
  /** Serves `{ keys: [...] }` like https://www.googleapis.com/oauth2/v3/certs. */
  jwksUrl: string;
  issuer: string;
  audience: string;
  email: string;
  kid: string;
  /** How many times the JWKS was fetched (receivers should cache it). */
  readonly jwksRequests: number;
  sign(overrides?: TokenOverrides): Promise<string>;
  stop(): Promise<void>;
}

const kidOf = () => randomBytes(20).toString('hex');

/** Starts a push signer: an RS256 key with a kid, published in a JWKS beside a second (rotation) key. */
export async function createPushSigner(options: PushSignerOptions): Promise<PushSigner> {
  const issuer = options.issuer ?? 'https://accounts.google.com';
  const lifetime = options.lifetimeSeconds ?? 3600;
  const kid = kidOf();
  const key = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256');
  // Google publishes two keys at a time (the current one and the next); a receiver must pick by kid.
  const rotation = await generateKeyPair('RS256', { extractable: true });
  const jwk = async (publicKey: CryptoKey, id: string): Promise<JWK> => ({
    ...(await exportJWK(publicKey)),
    kid: id,
    alg: 'RS256',
    use: 'sig',
  });
  const body = JSON.stringify({ keys: [await jwk(key.publicKey, kid), await jwk(rotation.publicKey, kidOf())] });
  // A Google account id: 21 digits.
  const subject = `1${Array.from({ length: 20 }, () => randomInt(10)).join('')}`;
  let jwksRequests = 0;

  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/oauth2/v3/certs') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    jwksRequests++;
    res
      .writeHead(200, {
        'content-type': 'application/json; charset=UTF-8',
        'cache-control': 'public, max-age=21600, must-revalidate, no-transform',
      })
      .end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the JWKS endpoint has no port');

  const sign = async (overrides: TokenOverrides = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const iat = overrides.expired ? now - 2 * lifetime : now;
    const claims: Record<string, unknown> = {
      aud: options.audience,
      azp: subject,
      email: options.email,
      email_verified: options.emailVerified ?? true,
      exp: iat + lifetime,
      iat,
      iss: issuer,
      sub: subject,
      ...overrides.claims,
    };
    for (const name of overrides.omit ?? []) delete claims[name];
    if (overrides.alg === 'none') return new UnsecuredJWT(claims).encode();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: overrides.kid ?? kid, typ: 'JWT' })
      .sign(overrides.key === 'foreign' ? foreign.privateKey : key.privateKey);
  };

  return {
    jwksUrl: `http://127.0.0.1:${address.port}/oauth2/v3/certs`,
    issuer,
    audience: options.audience,
    email: options.email,
    kid,
    get jwksRequests() {
      return jwksRequests;
    },
    sign,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Where and how a push subscription delivers. */
export interface PushTarget {
  url: string;
  /** The OIDC token's aud; Pub/Sub uses the endpoint URL when the subscription names none. */
  audience?: string;
  /** The OIDC token's email; the signer's by default. */
  serviceAccountEmail?: string;
  signer: PushSigner;
  subscription?: string;
  /** The first retry's delay, doubled on each further try (Pub/Sub's own backoff starts at seconds). */
  initialBackoffMs?: number;
  maxAttempts?: number;
  /** How long an attempt waits for an answer before it counts as unanswered. */
  timeoutMs?: number;
}

/** One delivery attempt: the endpoint's status, or null when it gave none (timeout, refused, reset). */
export interface PushAttempt {
  messageId: string;
  attempt: number;
  status: number | null;
  acknowledged: boolean;
  attributes: Record<string, string>;
  at: string;
}

// Pub/Sub's push acknowledgement codes: https://cloud.google.com/pubsub/docs/push#receive_push
const ACK = new Set([102, 200, 201, 202, 204]);

/** A Pub/Sub push subscription: posts each published message to the endpoint until acknowledged or out of tries. */
export class PubsubPushSender {
  /** Every attempt, in order. */
  readonly attempts: PushAttempt[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private nextId = BigInt(randomInt(1_000_000_000, 9_000_000_000)) * 1000n;
  private stopped = false;

  constructor(private readonly target: PushTarget) {}

  /** Publishes `data` (a JSON value, serialized and base64-encoded like Pub/Sub's data field) and returns its id. */
  publish(data: unknown, attributes: Record<string, string>): string {
    this.nextId += BigInt(randomInt(1, 1000));
    const messageId = String(this.nextId);
    const delivery = this.deliver(messageId, data, attributes).finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
    return messageId;
  }

  /** Resolves when every published message has been acknowledged or given up on. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Stops retrying; messages not yet acknowledged are dropped. */
  stop(): void {
    this.stopped = true;
  }

  private async deliver(messageId: string, data: unknown, attributes: Record<string, string>) {
    const publishTime = new Date().toISOString();
    const body = JSON.stringify({
      message: {
        attributes,
        data: Buffer.from(JSON.stringify(data)).toString('base64'),
        messageId,
        message_id: messageId,
        publishTime,
        publish_time: publishTime,
      },
      subscription: this.target.subscription ?? 'projects/test/subscriptions/amapi',
    });
    const maxAttempts = this.target.maxAttempts ?? 5;
    let delay = this.target.initialBackoffMs ?? 200;
    for (let attempt = 1; attempt <= maxAttempts && !this.stopped; attempt++) {
      const status = await this.post(body);
      const acknowledged = status !== null && ACK.has(status);
      this.attempts.push({ messageId, attempt, status, acknowledged, attributes, at: new Date().toISOString() });
      if (acknowledged) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  private async post(body: string): Promise<number | null> {
    const token = await this.target.signer.sign({
      claims: {
        aud: this.target.audience ?? this.target.url,
        email: this.target.serviceAccountEmail ?? this.target.signer.email,
      },
    });
    try {
      const response = await fetch(this.target.url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
        },
        body,
        signal: AbortSignal.timeout(this.target.timeoutMs ?? 2000),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return null;
    }
  }
}
