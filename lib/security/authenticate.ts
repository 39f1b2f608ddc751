import { createRemoteJWKSet, customFetch, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { type ApiError, apiError } from '../core/errors';
import * as z from '../zod';
import { ALL_ROLES, type Caller, isRole, type Role, unauthorized } from './caller';

/** Settings of AUTH_MODE=entra: the app validates Entra ID access tokens itself. */
export interface EntraAuthConfig {
  mode: 'entra';
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The delegated permission a user's token must carry in `scp` (AUTH_REQUIRED_SCOPE). */
  requiredScope: string;
  /** When non-empty, only these client applications (`azp`, or `appid` in v1 tokens) may call. */
  allowedClientIds?: readonly string[];
  clockToleranceSeconds?: number;
  /** For tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/** Settings of AUTH_MODE=appService: App Service Authentication validated the token; the app runs the Entra checks. */
interface AppServiceAuthConfig {
  mode: 'appService';
  /** As in entra mode: the delegated permission a user's principal must carry (AUTH_REQUIRED_SCOPE). */
  requiredScope: string;
  /** As in entra mode: when non-empty, only these client applications (`azp`, or `appid`) may call. */
  allowedClientIds?: readonly string[];
}

/** How callers are authenticated (AUTH_MODE and its settings). */
export type AuthConfig = EntraAuthConfig | AppServiceAuthConfig | { mode: 'none' };

/** The request headers an authenticator reads (the Fetch API `Headers` and `HttpRequest.headers` fit). */
export interface RequestHeaders {
  get(name: string): string | null;
}

/** Turns a request's headers into its caller, or throws a 401 ApiError (503 when the signing keys are unreachable). */
export type Authenticator = (headers: RequestHeaders) => Promise<Caller>;

/** Builds the authenticator for the configured mode. */
export function createAuthenticator(config: AuthConfig): Authenticator {
  switch (config.mode) {
    case 'entra':
      return createEntraAuthenticator(config);
    case 'appService':
      return async (headers) => callerFromAppService(headers, config);
    case 'none':
      return async () => localDeveloper();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// entra: the app validates the bearer token itself.

// Asymmetric algorithms only: with a public key set, HS* would let anyone who has the public key mint tokens,
// and jose never accepts alg "none". Entra ID signs with RS256.
const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256'];
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
const KEYS_RETRY_AFTER_SECONDS = 30;

// Claims documented for Entra ID access tokens: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
const EntraClaimsSchema = z.lazy(() =>
  z.object({
    oid: z.optional(z.string().check(z.minLength(1))),
    sub: z.optional(z.string().check(z.minLength(1))),
    roles: z.optional(z.array(z.string())),
    preferred_username: z.optional(z.string()),
    upn: z.optional(z.string()),
    name: z.optional(z.string()),
    appid: z.optional(z.string()),
    azp: z.optional(z.string()),
    /** Delegated permissions, space-separated; absent in app-only tokens. */
    scp: z.optional(z.string()),
    /** Only ID tokens carry the nonce of the sign-in request. */
    nonce: z.optional(z.unknown()),
  }),
);

// An access token's `typ` header is JWT (Entra ID) or at+jwt (RFC 9068); anything else (an ID token's header may say
// so, or a logout token) is not a credential for this API.
const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt', 'application/at+jwt']);

/** The token was fine as far as we know, but the key set could not be fetched: a server-side outage. */
class KeySetUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The token signing keys could not be loaded.', { cause });
    this.name = 'KeySetUnavailableError';
  }
}

function createEntraAuthenticator(config: EntraAuthConfig): Authenticator {
  const getKey = remoteKeySet(config.jwksUrl, config.fetch);
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms: ALLOWED_ALGORITHMS,
    clockTolerance: config.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
    // jose checks exp only when present; a token without one would never expire.
    requiredClaims: ['exp'],
  };

  return async (headers) => {
    // x-ms-client-principal is deliberately not read here: without App Service Authentication in front, anyone can send it.
    const token = bearerToken(headers.get('authorization'));
    let payload: JWTPayload;
    let type: string | undefined;
    try {
      const verified = await jwtVerify(token, getKey, options);
      payload = verified.payload;
      type = verified.protectedHeader.typ;
    } catch (error) {
      throw verificationFailure(error);
    }
    if (type !== undefined && !ACCESS_TOKEN_TYPES.has(type.toLowerCase())) {
      throw unauthorized('The token is not an access token.', { tokenRejected: true });
    }
    return callerFromEntraClaims(payload, config);
  };
}

/**
 * The signing keys published at `jwksUrl`. createRemoteJWKSet caches the key set, refetches it when stale (10 min) and,
 * at most every 30 s, when a token names a key id it does not know: that is how signing key rotation reaches us
 * (https://learn.microsoft.com/entra/identity-platform/signing-key-rollover). A key set that cannot be fetched is
 * KeySetUnavailableError: the token may be fine (503, not 401).
 */
export function remoteKeySet(jwksUrl: string, fetch?: typeof globalThis.fetch): JWTVerifyGetKey {
  const keySet = createRemoteJWKSet(new URL(jwksUrl), fetch ? { [customFetch]: fetch } : {});
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      throw isKeySelectionError(error) ? error : new KeySetUnavailableError(error);
    }
  };
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme name is case-insensitive (RFC 9110 §11.1).
const BEARER_PATTERN = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer` header, or a 401. */
export function bearerToken(authorization: string | null): string {
  if (authorization === null || !/^Bearer(\s|$)/i.test(authorization)) {
    throw unauthorized('Sign in: send an access token in the Authorization header as "Bearer <token>".');
  }
  const match = BEARER_PATTERN.exec(authorization);
  if (!match?.[1]) throw unauthorized('The access token is malformed.', { tokenRejected: true });
  return match[1];
}

const isKeySelectionError = (error: unknown) =>
  error instanceof errors.JWKSNoMatchingKey ||
  error instanceof errors.JWKSMultipleMatchingKeys ||
  error instanceof errors.JOSENotSupported;

/** Maps a jose failure to a short reason for people; the token itself never appears in it. */
export function verificationFailure(error: unknown): ApiError {
  if (error instanceof KeySetUnavailableError) {
    // Not the caller's fault: a 401 would make automations give up instead of retrying.
    return apiError(
      'serviceUnavailable',
      { reason: 'Access tokens cannot be checked right now' },
      { headers: { 'Retry-After': String(KEYS_RETRY_AFTER_SECONDS) } },
    );
  }
  return unauthorized(rejectionReason(error), { tokenRejected: true });
}

function rejectionReason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) return claimFailureReason(error.claim);
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'The access token is signed with an algorithm that is not allowed.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is not valid.';
  if (isKeySelectionError(error)) return 'The access token is signed with an unknown key.';
  return 'The access token is malformed.';
}

function claimFailureReason(claim: string): string {
  switch (claim) {
    case 'nbf':
      return 'The access token is not valid yet.';
    case 'iss':
      return 'The access token was not issued by the trusted issuer.';
    case 'aud':
      return 'The access token is not meant for this API.';
    case 'exp':
      return 'The access token has no expiry time.';
    default:
      return 'The access token lacks a required claim.';
  }
}

/**
 * The caller of a verified token. A delegated (user) token carries `scp` and must include the API's scope; an app-only
 * token carries no `scp` and must hold app roles. Roles come from `roles` in both. ID tokens (they carry `nonce`) are
 * refused: a client that got one for its own sign-in must not be able to call the API with it.
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
 */
function callerFromEntraClaims(payload: JWTPayload, config: EntraAuthConfig): Caller {
  const parsed = EntraClaimsSchema.safeParse(payload);
  if (!parsed.success) throw unauthorized('The access token has malformed claims.', { tokenRejected: true });
  const claims = parsed.data;
  if (claims.nonce !== undefined) throw unauthorized('The token is not an access token.', { tokenRejected: true });
  const id = claims.oid ?? claims.sub;
  if (id === undefined) throw unauthorized('The access token does not identify its caller.', { tokenRejected: true });
  const roles = knownRoles(claims.roles ?? []);
  checkClientAndPermission({ clientId: claims.azp ?? claims.appid, scp: claims.scp, roles }, config);
  const name = firstNonEmpty(claims.preferred_username, claims.upn, claims.name, claims.appid, claims.azp) ?? id;
  return { id, name, roles };
}

/**
 * The Entra checks both token modes run on a caller: the client application allow-list (`azp`/`appid`), then the
 * delegated scope of a user's token, or app roles for an app-only one (no `scp`).
 */
function checkClientAndPermission(
  caller: { clientId: string | undefined; scp: string | undefined; roles: ReadonlySet<Role> },
  config: { requiredScope: string; allowedClientIds?: readonly string[] | undefined },
) {
  const allowed = config.allowedClientIds ?? [];
  if (allowed.length > 0 && (caller.clientId === undefined || !allowed.includes(caller.clientId))) {
    throw apiError('forbidden', { reason: 'This client application is not allowed to call this API.' });
  }
  if (caller.scp !== undefined) {
    if (!caller.scp.split(' ').includes(config.requiredScope)) throw insufficientScope(config.requiredScope);
  } else if (caller.roles.size === 0) {
    // No scp: an app-only token, which is authorised by app roles alone.
    throw insufficientScope(config.requiredScope);
  }
}

/** RFC 6750 §3.1: a valid token without the privileges the request needs is a 403 naming the scope required. */
function insufficientScope(scope: string): ApiError {
  return apiError(
    'forbidden',
    {
      reason: `The access token lacks the delegated permission '${scope}' (or, for an application, an app role of this API).`,
    },
    { headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope.replace(/["\\]/g, '')}"` } },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// appService: App Service Authentication validated the token and passes the caller in headers it strips from
// client requests. https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities

const OBJECT_ID_CLAIMS = new Set(['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid']);
// The principal carries the token's claims, some under the long claim types of .NET's claim mapping.
const SCOPE_CLAIMS = new Set(['http://schemas.microsoft.com/identity/claims/scope', 'scp']);
const CLIENT_ID_CLAIMS = [new Set(['azp']), new Set(['appid'])];

const ClientPrincipalSchema = z.lazy(() =>
  z.object({
    auth_typ: z.string(),
    claims: z.array(z.object({ typ: z.string(), val: z.string() })),
    name_typ: z.optional(z.string()),
    role_typ: z.optional(z.string()),
  }),
);
type ClientPrincipal = z.infer<typeof ClientPrincipalSchema>;

function callerFromAppService(headers: RequestHeaders, config: AppServiceAuthConfig): Caller {
  const encoded = headers.get('x-ms-client-principal');
  if (!encoded) throw unauthorized('Sign in: the request carries no caller from App Service Authentication.');
  const principal = decodeClientPrincipal(encoded);
  const claimValue = (types: ReadonlySet<string>) => principal.claims.find((c) => types.has(c.typ) && c.val)?.val;
  const id = claimValue(OBJECT_ID_CLAIMS) ?? firstNonEmpty(headers.get('x-ms-client-principal-id'));
  if (id === undefined) throw unauthorized('The caller from App Service Authentication has no object id.');
  const nameClaim = principal.name_typ ? claimValue(new Set([principal.name_typ])) : undefined;
  const name = firstNonEmpty(headers.get('x-ms-client-principal-name'), nameClaim) ?? id;
  const roles = knownRoles(roleClaims(principal));
  // App Service checked signature, issuer, audience and expiry; who the client is and what it may do is ours to check.
  // A principal of App Service's own sign-in (its session cookie) comes from an ID token, which names the signed-in
  // client in `aud` and has no azp/appid: https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
  const clientId = CLIENT_ID_CLAIMS.map(claimValue).find((v) => v !== undefined) ?? claimValue(new Set(['aud']));
  checkClientAndPermission({ clientId, scp: claimValue(SCOPE_CLAIMS), roles }, config);
  return { id, name, roles };
}

function decodeClientPrincipal(encoded: string): ClientPrincipal {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = ClientPrincipalSchema.safeParse(json);
  if (!parsed.success) throw unauthorized('The caller from App Service Authentication could not be read.');
  return parsed.data;
}

/**
 * App roles arrive as `roles` claims. The principal's own `role_typ` is not trusted: it would let whoever wrote the
 * principal declare any claim type (a group, a name) to count as a role.
 */
function roleClaims(principal: ClientPrincipal): string[] {
  return principal.claims.filter((c) => c.typ === 'roles').map((c) => c.val);
}

// ---------------------------------------------------------------------------------------------------------------
// shared

function localDeveloper(): Caller {
  return { id: 'local-developer', name: 'Local developer', roles: new Set(ALL_ROLES) };
}

/** Roles this app knows; others (from other apps sharing the registration) are ignored. */
function knownRoles(values: readonly string[]): ReadonlySet<Role> {
  return new Set(values.filter(isRole));
}

function firstNonEmpty(...values: (string | null | undefined)[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v.trim() !== '');
}
