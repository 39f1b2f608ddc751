import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, randomInt, verify } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

// Stand-ins for Google's token services on one loopback server (their paths do not collide), sharing one registry of
// issued access tokens that the Android Management stand-in consults, so that a token is only good where Google's
// would be:
// - `POST /token`: oauth2.googleapis.com/token, the JWT bearer grant (RFC 7523) of a service account key;
// - `POST /v1/token`: sts.googleapis.com/v1/token, the token exchange (RFC 8693) of workload identity federation;
// - `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`: iamcredentials.googleapis.com impersonation.
// The request shapes are those google-auth-library 11 sends (gtoken/getToken.js, auth/stscredentials.js,
// auth/baseexternalclient.js); the error shapes are Google's (OAuth errors on the first two, google.rpc on IAM).

/** A service account key file as the Google Cloud console downloads it. */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

/** A credential configuration as `gcloud iam workload-identity-pools create-cred-config … --azure` writes it. */
export interface ExternalAccountCredential {
  universe_domain: string;
  type: 'external_account';
  audience: string;
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt';
  token_url: string;
  credential_source: {
    url: string;
    headers: Record<string, string>;
    format: { type: 'json'; subject_token_field_name: string };
  };
  service_account_impersonation_url: string;
}

/** Which flow issued a token: the key's JWT grant, the STS exchange (federated), or IAM impersonation. */
type TokenKind = 'service_account' | 'federated' | 'impersonated';

/** An access token in the shared registry. */
export interface IssuedToken {
  /** A short id for logs and assertions ("sa-1", "sts-2", "iam-1"); the token itself is never logged. */
  id: string;
  kind: TokenKind;
  /** The service account email, or the federated principal (the subject token's sub). */
  principal: string;
  scopes: string[];
  expiresAt: number;
}

/** A token endpoint. */
type TokenEndpoint = 'token' | 'sts' | 'generateAccessToken';

/** One request a token endpoint answered. */
interface TokenRequest {
  endpoint: TokenEndpoint | 'unknown';
  status: number;
  /** The OAuth error code, or the google.rpc status, when refused. */
  error?: string;
  /** The id of the token issued. */
  tokenId?: string;
  at: string;
}

/** A scripted failure of a token endpoint. */
interface TokenFault {
  endpoint: TokenEndpoint;
  status: number;
  times?: number;
  retryAfterSeconds?: number;
}

/** What the token services accept and how long their tokens live. */
export interface GoogleTokenServicesOptions {
  /** The lifetime of every access token issued (default 3600). */
  expiresInSeconds?: number;
  /** The workload identity provider, the STS audience (`//iam.googleapis.com/projects/…/providers/…`). */
  workloadIdentityProvider?: string;
  /** The aud the Entra subject token must carry (default api://AzureADTokenExchange). */
  subjectTokenAudience?: string;
  /** When set, the subject token's iss must be this tenant's; otherwise any tenant GUID is accepted. */
  tenantId?: string;
  /** The service account workload identity federation may impersonate. */
  serviceAccountEmail?: string;
}

/** The running token services. */
export interface GoogleTokenServices {
  /** The OAuth 2.0 token endpoint, a key's token_uri, and the aud its assertions must carry. */
  tokenUrl: string;
  /** The STS token exchange endpoint (a credential configuration's token_url). */
  stsUrl: string;
  workloadIdentityProvider: string;
  subjectTokenAudience: string;
  serviceAccountEmail: string;
  /** The generateAccessToken URL for a service account (the configured one by default). */
  impersonationUrl(email?: string): string;
  /** A new key (testServiceAccountKey with this token endpoint) that the endpoint trusts. */
  serviceAccountKey(options?: TestServiceAccountKeyOptions): ServiceAccountKey;
  /** Trusts a key made elsewhere: its assertions are verified with its public key. */
  trustServiceAccountKey(key: ServiceAccountKey): void;
  /** The credential configuration for this STS, provider and service account. */
  externalAccountCredential(): ExternalAccountCredential;
  /** What a bearer token is, if these services issued it and it has not expired. */
  lookup(accessToken: string): IssuedToken | undefined;
  /** Every request answered, in order. */
  readonly requests: readonly TokenRequest[];
  /** Tokens issued per endpoint (tests assert that many calls reuse one token). */
  issued(endpoint: TokenEndpoint): number;
  /** Requests received per endpoint, refused ones included. */
  received(endpoint: TokenEndpoint): number;
  /** Changes the lifetime of tokens issued from now on (short ones test refresh). */
  setExpiresIn(seconds: number): void;
  /** Expires the tokens with these ids, or every token issued so far (a client holding one then gets 401s). */
  expire(tokenIds?: readonly string[]): void;
  failNext(fault: TokenFault): void;
  stop(): Promise<void>;
}

/** Names in a generated service account key. */
export interface TestServiceAccountKeyOptions {
  projectId?: string;
  /** The part of the email before the @. */
  accountId?: string;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
// Google refuses assertions whose iat/exp are too far from its clock; a little skew is tolerated.
const SKEW_SECONDS = 300;

const digits = (count: number) =>
  `${randomInt(1, 10)}${Array.from({ length: count - 1 }, () => randomInt(10)).join('')}`;

/** Generates an RSA key and returns it as a service account key file whose token_uri is `tokenUri`. */
export function testServiceAccountKey(tokenUri: string, options: TestServiceAccountKeyOptions = {}): ServiceAccountKey {
  const projectId = options.projectId ?? 'amapi-test-project';
  const email = `${options.accountId ?? 'amapi-channel'}@${projectId}.iam.gserviceaccount.com`;
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: email,
    client_id: digits(21),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: 'googleapis.com',
  };
}

/** The credential configuration gcloud writes for an Azure workload (its credential_source is Azure IMDS). */
export function testExternalAccountCredential(options: {
  stsUrl: string;
  impersonationUrl: string;
  audience: string;
}): ExternalAccountCredential {
  return {
    universe_domain: 'googleapis.com',
    type: 'external_account',
    audience: options.audience,
    subject_token_type: JWT_TOKEN_TYPE,
    token_url: options.stsUrl,
    credential_source: {
      url: 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://AzureADTokenExchange',
      headers: { Metadata: 'True' },
      format: { type: 'json', subject_token_field_name: 'access_token' },
    },
    service_account_impersonation_url: options.impersonationUrl,
  };
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly body: object,
    readonly code: string,
  ) {
    super(code);
  }
}

// RFC 6749 §5.2 errors, as oauth2.googleapis.com and sts.googleapis.com answer them.
const oauthError = (error: string, description: string, status = 400) =>
  new Refusal(status, { error, error_description: description }, error);

const RPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const rpcError = (status: number, message: string) => {
  const name = RPC_STATUS[status] ?? 'UNKNOWN';
  return new Refusal(status, { error: { code: status, message, status: name } }, name);
};

function decodeJwtPart(part: string | undefined): Record<string, unknown> | undefined {
  if (!part) return undefined;
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw rpcError(400, 'Request payload too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the token services on a free loopback port. */
export async function startGoogleTokenServices(options: GoogleTokenServicesOptions = {}): Promise<GoogleTokenServices> {
  let expiresIn = options.expiresInSeconds ?? 3600;
  const projectNumber = digits(12);
  const workloadIdentityProvider =
    options.workloadIdentityProvider ??
    `//iam.googleapis.com/projects/${projectNumber}/locations/global/workloadIdentityPools/azure-functions/providers/entra-id`;
  const subjectTokenAudience = options.subjectTokenAudience ?? 'api://AzureADTokenExchange';
  const serviceAccountEmail = options.serviceAccountEmail ?? 'amapi-channel@amapi-test-project.iam.gserviceaccount.com';
  const keys = new Map<string, { keyId: string; publicKey: KeyObject }>();
  const tokens = new Map<string, IssuedToken>();
  const requests: TokenRequest[] = [];
  const faults: (TokenFault & { times: number })[] = [];
  const sequence: Record<TokenEndpoint, number> = { token: 0, sts: 0, generateAccessToken: 0 };
  const ID_PREFIX: Record<TokenEndpoint, string> = { token: 'sa', sts: 'sts', generateAccessToken: 'iam' };
  let base = '';

  const issue = (endpoint: TokenEndpoint, kind: TokenKind, principal: string, scopes: string[], lifetime: number) => {
    sequence[endpoint]++;
    const accessToken = `ya29.${randomBytes(96).toString('base64url')}`;
    const token: IssuedToken = {
      id: `${ID_PREFIX[endpoint]}-${sequence[endpoint]}`,
      kind,
      principal,
      scopes,
      expiresAt: Date.now() + lifetime * 1000,
    };
    tokens.set(accessToken, token);
    return { accessToken, token };
  };

  const lookup = (accessToken: string) => {
    const token = tokens.get(accessToken);
    return token && token.expiresAt > Date.now() ? token : undefined;
  };

  /** The JWT bearer grant: the assertion must be signed by a trusted key and addressed to this endpoint. */
  const jwtBearer = (form: URLSearchParams) => {
    if (form.get('grant_type') !== JWT_BEARER) {
      throw oauthError('unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
    }
    const assertion = form.get('assertion') ?? '';
    const [headerPart, payloadPart, signature] = assertion.split('.');
    const header = decodeJwtPart(headerPart);
    const claims = decodeJwtPart(payloadPart);
    if (!header || !claims || signature === undefined) throw oauthError('invalid_grant', 'Invalid JWT: malformed.');
    if (header.alg !== 'RS256') throw oauthError('invalid_grant', 'Invalid JWT: the signing algorithm must be RS256.');
    const key = typeof claims.iss === 'string' ? keys.get(claims.iss) : undefined;
    if (!key) throw oauthError('invalid_grant', 'Invalid grant: account not found');
    if (header.kid !== undefined && header.kid !== key.keyId)
      throw oauthError('invalid_grant', 'Invalid JWT Signature.');
    const signed = verify(
      'RSA-SHA256',
      Buffer.from(`${headerPart}.${payloadPart}`),
      key.publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) throw oauthError('invalid_grant', 'Invalid JWT Signature.');
    if (claims.aud !== `${base}/token`) {
      throw oauthError('invalid_grant', `Invalid JWT: Failed audience check. The expected audience is ${base}/token.`);
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      iat > now + SKEW_SECONDS ||
      exp < now - SKEW_SECONDS ||
      exp <= iat ||
      exp - iat > 3600
    ) {
      throw oauthError(
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (claims.sub !== undefined && claims.sub !== claims.iss) {
      // Domain-wide delegation: this service account has none.
      throw oauthError(
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      );
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    if (scopes.length === 0) throw oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const { accessToken, token } = issue('token', 'service_account', claims.iss as string, scopes, expiresIn);
    return { body: { access_token: accessToken, expires_in: expiresIn, token_type: 'Bearer' }, token };
  };

  /** The STS exchange of an Entra token (decoded, not verified) for a federated Google token. */
  const exchange = (form: URLSearchParams) => {
    if (form.get('grant_type') !== TOKEN_EXCHANGE) {
      throw oauthError('unsupported_grant_type', `Unsupported grant_type: ${form.get('grant_type') ?? ''}`);
    }
    if (form.get('requested_token_type') !== ACCESS_TOKEN_TYPE) {
      throw oauthError('invalid_request', 'Invalid value for "requested_token_type".');
    }
    if (form.get('audience') !== workloadIdentityProvider) {
      throw oauthError(
        'invalid_target',
        'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.',
      );
    }
    if (form.get('subject_token_type') !== JWT_TOKEN_TYPE) {
      throw oauthError('invalid_request', 'Invalid value for "subject_token_type".');
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) throw oauthError('invalid_scope', 'Invalid scope.');
    const [headerPart, payloadPart, signature] = (form.get('subject_token') ?? '').split('.');
    const claims = decodeJwtPart(payloadPart);
    if (!decodeJwtPart(headerPart) || !claims || !signature) {
      throw oauthError('invalid_grant', 'Unable to parse the ID Token.');
    }
    if (claims.aud !== subjectTokenAudience) {
      throw oauthError(
        'invalid_grant',
        `The audience in ID Token [${String(claims.aud)}] does not match the expected audience ${subjectTokenAudience}.`,
      );
    }
    const issuer = options.tenantId
      ? `https://sts.windows.net/${options.tenantId}/`
      : /^https:\/\/sts\.windows\.net\/[0-9a-f-]{36}\/$/;
    const iss = String(claims.iss);
    if (typeof issuer === 'string' ? iss !== issuer : !issuer.test(iss)) {
      throw oauthError('invalid_grant', `The issuer in ID Token [${iss}] does not match the expected issuer.`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < now) throw oauthError('invalid_grant', 'ID Token has expired.');
    if (typeof claims.nbf === 'number' && claims.nbf > now + SKEW_SECONDS) {
      throw oauthError('invalid_grant', 'ID Token is not yet valid.');
    }
    const lifetime = Math.min(expiresIn, claims.exp - now);
    const principal = String(claims.sub ?? claims.oid ?? 'unknown');
    const { accessToken, token } = issue('sts', 'federated', principal, scopes, lifetime);
    return {
      body: {
        access_token: accessToken,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: lifetime,
      },
      token,
    };
  };

  /** IAM credentials' generateAccessToken, authorised by a federated token. */
  const impersonate = (email: string, bearer: string | undefined, text: string) => {
    const caller = bearer ? lookup(bearer) : undefined;
    if (!caller) {
      throw rpcError(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      );
    }
    if (!caller.scopes.includes(CLOUD_PLATFORM)) throw rpcError(403, 'Request had insufficient authentication scopes.');
    if (caller.kind !== 'federated' || email !== serviceAccountEmail) {
      throw rpcError(403, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw rpcError(400, 'Invalid JSON payload received. Unexpected token.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw rpcError(400, 'Invalid JSON payload received.');
    }
    const request = body as Record<string, unknown>;
    for (const name of Object.keys(request)) {
      if (!['delegates', 'scope', 'lifetime'].includes(name)) {
        throw rpcError(400, `Invalid JSON payload received. Unknown name "${name}": Cannot find field.`);
      }
    }
    const scopes = request.scope;
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string')) {
      throw rpcError(400, 'Scope required.');
    }
    let lifetime = 3600;
    if (request.lifetime !== undefined) {
      const match = typeof request.lifetime === 'string' ? /^(\d+)(\.\d{1,9})?s$/.exec(request.lifetime) : null;
      if (!match) throw rpcError(400, `Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration)`);
      lifetime = Number(match[1]);
      // 3600 s is the maximum unless an organization policy extends it to 12 h; none does here.
      if (lifetime > 3600 || lifetime < 1) {
        throw rpcError(400, 'The lifetime requested is not valid: it must be between 1 second and 3600 seconds.');
      }
    }
    lifetime = Math.min(lifetime, expiresIn);
    const { accessToken, token } = issue('generateAccessToken', 'impersonated', email, scopes as string[], lifetime);
    // Google answers with whole seconds: "2024-06-01T12:00:00Z".
    const expireTime = `${new Date(token.expiresAt).toISOString().slice(0, 19)}Z`;
    return { body: { accessToken, expireTime }, token };
  };

  const route = (req: IncomingMessage) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'POST' && path === '/token') return { endpoint: 'token' as const };
    if (req.method === 'POST' && path === '/v1/token') return { endpoint: 'sts' as const };
    const match = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    if (req.method === 'POST' && match) {
      return { endpoint: 'generateAccessToken' as const, email: decodeURIComponent(match[1]!) };
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = route(req);
    const at = new Date().toISOString();
    const answer = (status: number, body: object, extra: Partial<TokenRequest> = {}, headers = {}) => {
      requests.push({ endpoint: target?.endpoint ?? 'unknown', status, at, ...extra });
      res
        .writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          ...headers,
        })
        .end(JSON.stringify(body));
    };
    try {
      const text = await readBody(req);
      if (!target) throw rpcError(404, 'Method not found.');
      const fault = faults.find((f) => f.endpoint === target.endpoint);
      if (fault) {
        if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        const refusal =
          target.endpoint === 'generateAccessToken'
            ? rpcError(fault.status, 'The service is currently unavailable.')
            : oauthError(
                fault.status === 429 ? 'rate_limit_exceeded' : 'internal_failure',
                'Try again later.',
                fault.status,
              );
        const retryAfter =
          fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
        return answer(refusal.status, refusal.body, { error: refusal.code }, retryAfter);
      }
      if (target.endpoint === 'generateAccessToken') {
        const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        const { body, token } = impersonate(target.email!, bearer, text);
        return answer(200, body, { tokenId: token.id });
      }
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        throw oauthError('invalid_request', 'The request must be application/x-www-form-urlencoded.');
      }
      const form = new URLSearchParams(text);
      const { body, token } = target.endpoint === 'token' ? jwtBearer(form) : exchange(form);
      return answer(200, body, { tokenId: token.id });
    } catch (error) {
      if (error instanceof Refusal) return answer(error.status, error.body, { error: error.code });
      return answer(500, { error: 'internal_failure', error_description: String(error) }, { error: 'stand-in bug' });
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the token services have no port');
  base = `http://127.0.0.1:${address.port}`;

  const impersonationUrl = (email = serviceAccountEmail) =>
    `${base}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`;
  const trustServiceAccountKey = (key: ServiceAccountKey) => {
    keys.set(key.client_email, { keyId: key.private_key_id, publicKey: createPublicKey(key.private_key) });
  };

  return {
    tokenUrl: `${base}/token`,
    stsUrl: `${base}/v1/token`,
    workloadIdentityProvider,
    subjectTokenAudience,
    serviceAccountEmail,
    impersonationUrl,
    serviceAccountKey: (keyOptions) => {
      const key = testServiceAccountKey(`${base}/token`, keyOptions);
      trustServiceAccountKey(key);
      return key;
    },
    trustServiceAccountKey,
    externalAccountCredential: () =>
      testExternalAccountCredential({
        stsUrl: `${base}/v1/token`,
        impersonationUrl: impersonationUrl(),
        audience: workloadIdentityProvider,
      }),
    lookup,
    requests,
    issued: (endpoint) => requests.filter((r) => r.endpoint === endpoint && r.status === 200).length,
    received: (endpoint) => requests.filter((r) => r.endpoint === endpoint).length,
    setExpiresIn: (seconds) => {
      expiresIn = seconds;
    },
    expire: (tokenIds) => {
      for (const token of tokens.values()) if (!tokenIds || tokenIds.includes(token.id)) token.expiresAt = 0;
    },
    failNext: (fault) => {
      faults.push({ ...fault, times: fault.times ?? 1 });
    },
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
