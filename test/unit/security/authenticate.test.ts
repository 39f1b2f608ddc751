import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../../lib/core/errors';
import { createAuthenticator, type EntraAuthConfig, type RequestHeaders } from '../../../lib/security/authenticate';
import { ALL_ROLES, type Caller } from '../../../lib/security/caller';

const ISSUER = 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0';
const AUDIENCE = 'api://intune-reset-passcode';
const OID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** A JWKS endpoint on 127.0.0.1 whose key list a test can change, counting the fetches it serves. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  status = 200;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches += 1;
    response.writeHead(this.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: this.keys }));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/discovery/v2.0/keys`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function publicJwk(pair: KeyPair, kid: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function signToken(pair: KeyPair, kid: string, claims: JWTPayload = {}, omit: string[] = []): Promise<string> {
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    nbf: nowSeconds(),
    exp: nowSeconds() + 3600,
    oid: OID,
    sub: 'subject-1',
    preferred_username: 'ana@contoso.com',
    roles: ['Passcode.Reset', 'Devices.Read', 'Other.App.Role'],
    ...claims,
  };
  for (const name of omit) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(pair.privateKey);
}

const bearer = (token: string): RequestHeaders => new Headers({ authorization: `Bearer ${token}` });
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const clientPrincipal = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

async function rejection(promise: Promise<Caller>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof ApiError) return error;
  throw new Error(`expected an ApiError, got ${String(error)}`);
}

/** Asserts a 401 that carries the RFC 6750 challenge for a rejected token, and that the token does not leak. */
async function expectTokenRejected(promise: Promise<Caller>, reason: RegExp, token: string): Promise<void> {
  const error = await rejection(promise);
  expect(error.status).toBe(401);
  expect(error.code).toBe('unauthorized');
  expect(error.message).toMatch(reason);
  const challenge = error.extra.headers?.['WWW-Authenticate'] ?? '';
  expect(challenge).toMatch(/^Bearer error="invalid_token"/);
  for (const part of token.split('.').filter((p) => p.length > 8)) {
    expect(error.message).not.toContain(part);
    expect(challenge).not.toContain(part);
  }
}

describe('entra mode', () => {
  const jwks = new JwksServer();
  let jwksUrl = '';
  let key1: KeyPair;
  let config: EntraAuthConfig;

  beforeAll(async () => {
    jwksUrl = await jwks.start();
    key1 = await generateKeyPair('RS256', { extractable: true });
  });
  afterAll(() => jwks.stop());

  beforeEach(async () => {
    jwks.keys = [await publicJwk(key1, 'key-1')];
    jwks.fetches = 0;
    jwks.status = 200;
    config = { mode: 'entra', issuer: ISSUER, audience: AUDIENCE, jwksUrl, requiredScope: 'access_as_user' };
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('turns a valid token into a caller with its known roles, object id and user name', async () => {
    const authenticate = createAuthenticator(config);
    const caller = await authenticate(bearer(await signToken(key1, 'key-1')));
    expect(caller.id).toBe(OID);
    expect(caller.name).toBe('ana@contoso.com');
    expect([...caller.roles].sort()).toEqual(['Devices.Read', 'Passcode.Reset']);
    expect(jwks.fetches).toBe(1);
  });

  it('caches the key set across requests', async () => {
    const authenticate = createAuthenticator(config);
    for (let i = 0; i < 3; i += 1) await authenticate(bearer(await signToken(key1, 'key-1')));
    expect(jwks.fetches).toBe(1);
  });

  it('accepts the Bearer scheme in any letter case', async () => {
    const caller = await createAuthenticator(config)(
      new Headers({ authorization: `bEARER ${await signToken(key1, 'key-1')}` }),
    );
    expect(caller.id).toBe(OID);
  });

  it('falls back to sub for the id and to the application id for the name (app-only tokens)', async () => {
    const token = await signToken(key1, 'key-1', { azp: 'logic-app-client-id', roles: ['Devices.Read'] }, [
      'oid',
      'preferred_username',
    ]);
    const caller = await createAuthenticator(config)(bearer(token));
    expect(caller).toMatchObject({ id: 'subject-1', name: 'logic-app-client-id' });
    expect([...caller.roles]).toEqual(['Devices.Read']);
  });

  it('grants no roles to a user token with the scope but no roles claim', async () => {
    const token = await signToken(key1, 'key-1', { scp: 'access_as_user' }, ['roles']);
    const caller = await createAuthenticator(config)(bearer(token));
    expect(caller.roles.size).toBe(0);
  });

  it('needs the API scope in a delegated token: 403 insufficient_scope naming it otherwise', async () => {
    const authenticate = createAuthenticator(config);
    const withScope = await signToken(key1, 'key-1', { scp: 'User.Read access_as_user' });
    expect([...(await authenticate(bearer(withScope))).roles].sort()).toEqual(['Devices.Read', 'Passcode.Reset']);
    // A token a user consented to for another purpose (another client's scope) carries roles but not our scope.
    const otherScope = await signToken(key1, 'key-1', { scp: 'User.Read access_as_user_not' });
    const error = await rejection(authenticate(bearer(otherScope)));
    expect(error).toMatchObject({ status: 403, code: 'forbidden' });
    expect(error.extra.headers?.['WWW-Authenticate']).toBe('Bearer error="insufficient_scope", scope="access_as_user"');
  });

  it('needs app roles in an app-only token (no scp)', async () => {
    const token = await signToken(key1, 'key-1', { azp: 'client-1' }, ['roles', 'oid', 'preferred_username']);
    const error = await rejection(createAuthenticator(config)(bearer(token)));
    expect(error).toMatchObject({ status: 403 });
    expect(error.extra.headers?.['WWW-Authenticate']).toMatch(/insufficient_scope/);
  });

  it('accepts only allowed client applications when an allow-list is set (azp, or appid in v1 tokens)', async () => {
    const authenticate = createAuthenticator({ ...config, allowedClientIds: ['console-app', 'logic-app'] });
    expect((await authenticate(bearer(await signToken(key1, 'key-1', { azp: 'console-app' })))).id).toBe(OID);
    expect((await authenticate(bearer(await signToken(key1, 'key-1', { appid: 'logic-app' })))).id).toBe(OID);
    for (const claims of [{ azp: 'some-other-app' }, {}]) {
      const error = await rejection(authenticate(bearer(await signToken(key1, 'key-1', claims))));
      expect(error).toMatchObject({ status: 403, code: 'forbidden' });
    }
  });

  it('refuses ID tokens: a nonce claim, or a typ header other than JWT / at+jwt', async () => {
    const authenticate = createAuthenticator(config);
    const withNonce = await signToken(key1, 'key-1', { nonce: 'n-0S6_WzA2Mj' });
    await expectTokenRejected(authenticate(bearer(withNonce)), /not an access token/, withNonce);
    const idTyp = await new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      exp: nowSeconds() + 600,
      oid: OID,
      roles: ['Devices.Read'],
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'id_token+jwt' })
      .sign(key1.privateKey);
    await expectTokenRejected(authenticate(bearer(idTyp)), /not an access token/, idTyp);
    const atJwt = await new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      exp: nowSeconds() + 600,
      oid: OID,
      roles: ['Devices.Read'],
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'at+jwt' })
      .sign(key1.privateKey);
    expect((await authenticate(bearer(atJwt))).id).toBe(OID);
  });

  it('answers a request without a token with 401 and a bare Bearer challenge', async () => {
    const error = await rejection(createAuthenticator(config)(new Headers()));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(error.extra.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
    expect(jwks.fetches).toBe(0);
  });

  it('treats another authorization scheme as no token', async () => {
    const error = await rejection(
      createAuthenticator(config)(new Headers({ authorization: 'Basic YWxhZGRpbjpvcGVu' })),
    );
    expect(error.status).toBe(401);
    expect(error.extra.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });

  it('rejects a malformed bearer credential', async () => {
    const headers = new Headers({ authorization: 'Bearer not a token' });
    await expectTokenRejected(createAuthenticator(config)(headers), /malformed/, 'not a token');
  });

  it('rejects a token signed by another key that claims the same kid', async () => {
    const impostor = await generateKeyPair('RS256', { extractable: true });
    const token = await signToken(impostor, 'key-1');
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /signature is not valid/, token);
  });

  it('refetches the key set when a token names an unknown kid, so a rotated-in key is accepted', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const authenticate = createAuthenticator(config);
    await authenticate(bearer(await signToken(key1, 'key-1')));
    expect(jwks.fetches).toBe(1);

    // The issuer rotates: a new key appears in the served JWKS.
    const key2 = await generateKeyPair('RS256', { extractable: true });
    jwks.keys = [...jwks.keys, await publicJwk(key2, 'key-2')];
    const rotated = await signToken(key2, 'key-2');

    // Within jose's 30 s cooldown an unknown kid does not trigger a fetch (an attacker cannot make us hammer Entra).
    await expectTokenRejected(authenticate(bearer(rotated)), /unknown key/, rotated);
    expect(jwks.fetches).toBe(1);

    vi.setSystemTime(Date.now() + 31_000);
    const caller = await authenticate(bearer(await signToken(key2, 'key-2')));
    expect(caller.id).toBe(OID);
    expect(jwks.fetches).toBe(2);
    // The old key still works from the refreshed set.
    await authenticate(bearer(await signToken(key1, 'key-1')));
    expect(jwks.fetches).toBe(2);
  });

  it('rejects a kid that is not in the key set even after refetching it', async () => {
    const stranger = await generateKeyPair('RS256', { extractable: true });
    const token = await signToken(stranger, 'key-unknown');
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /unknown key/, token);
    expect(jwks.fetches).toBe(1);
  });

  it('rejects a token from another issuer', async () => {
    const token = await signToken(key1, 'key-1', { iss: 'https://login.microsoftonline.com/other-tenant/v2.0' });
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /not issued by the trusted issuer/, token);
  });

  it('rejects a token for another audience', async () => {
    const token = await signToken(key1, 'key-1', { aud: 'api://some-other-api' });
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /not meant for this API/, token);
  });

  it('rejects an expired token', async () => {
    const token = await signToken(key1, 'key-1', { iat: nowSeconds() - 7200, exp: nowSeconds() - 120 });
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /has expired/, token);
  });

  it('tolerates 60 s of clock skew by default, and honours a configured tolerance', async () => {
    const token = await signToken(key1, 'key-1', { exp: nowSeconds() - 30 });
    expect((await createAuthenticator(config)(bearer(token))).id).toBe(OID);
    const strict = createAuthenticator({ ...config, clockToleranceSeconds: 5 });
    await expectTokenRejected(strict(bearer(token)), /has expired/, token);
  });

  it('rejects a token that is not valid yet (nbf beyond the tolerance)', async () => {
    const token = await signToken(key1, 'key-1', { nbf: nowSeconds() + 300 });
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /not valid yet/, token);
  });

  it('rejects a token without an expiry', async () => {
    const token = await signToken(key1, 'key-1', {}, ['exp']);
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /no expiry/, token);
  });

  it('rejects a token without oid or sub', async () => {
    const token = await signToken(key1, 'key-1', {}, ['oid', 'sub']);
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /does not identify its caller/, token);
  });

  it('rejects a token whose roles claim is not an array of strings', async () => {
    const token = await signToken(key1, 'key-1', { roles: 'Passcode.Reset' });
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /malformed claims/, token);
  });

  it('rejects an unsecured token (alg none)', async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600, oid: OID, roles: [...ALL_ROLES] };
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`;
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /algorithm that is not allowed/, token);
  });

  it('rejects an HS256 token whose secret is the public key (algorithm confusion)', async () => {
    const publicKeyBytes = new TextEncoder().encode(await exportSPKI(key1.publicKey));
    const claims = { iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600, oid: OID, roles: [...ALL_ROLES] };
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'key-1' }).sign(publicKeyBytes);
    await expectTokenRejected(createAuthenticator(config)(bearer(token)), /algorithm that is not allowed/, token);
  });

  it('ignores a forged x-ms-client-principal: no bearer token means 401', async () => {
    const forged = clientPrincipal({
      auth_typ: 'aad',
      claims: [
        { typ: 'roles', val: 'Passcode.Reset' },
        { typ: 'oid', val: 'attacker' },
      ],
      role_typ: 'roles',
    });
    const headers = new Headers({ 'x-ms-client-principal': forged, 'x-ms-client-principal-id': 'attacker' });
    const error = await rejection(createAuthenticator(config)(headers));
    expect(error.status).toBe(401);
  });

  it('takes identity and roles from the token only, even when a forged principal is sent alongside', async () => {
    const forged = clientPrincipal({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Passcode.Read' }] });
    const headers = new Headers({
      authorization: `Bearer ${await signToken(key1, 'key-1', { roles: ['Devices.Read'] })}`,
      'x-ms-client-principal': forged,
      'x-ms-client-principal-name': 'attacker',
    });
    const caller = await createAuthenticator(config)(headers);
    expect(caller.name).toBe('ana@contoso.com');
    expect([...caller.roles]).toEqual(['Devices.Read']);
  });

  it('answers 503 with Retry-After, not 401, when the key set cannot be fetched', async () => {
    jwks.status = 500;
    const error = await rejection(createAuthenticator(config)(bearer(await signToken(key1, 'key-1'))));
    expect(error).toMatchObject({ status: 503, code: 'serviceUnavailable' });
    expect(error.extra.headers?.['Retry-After']).toBe('30');
  });

  it('fetches the key set through an injected fetch', async () => {
    const body = JSON.stringify({ keys: [await publicJwk(key1, 'key-1')] });
    const fetchImpl = vi.fn(async () => new Response(body, { status: 200 }));
    const authenticate = createAuthenticator({
      ...config,
      jwksUrl: 'https://keys.example.test/jwks',
      fetch: fetchImpl,
    });
    expect((await authenticate(bearer(await signToken(key1, 'key-1')))).id).toBe(OID);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    expect(jwks.fetches).toBe(0);
  });
});

describe('appService mode', () => {
  const authenticate = createAuthenticator({ mode: 'appService', requiredScope: 'access_as_user' });
  const SCOPE_TYP = 'http://schemas.microsoft.com/identity/claims/scope';
  const ROLE_TYP = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

  it('reads the caller that App Service Authentication passes in x-ms-client-principal', async () => {
    const principal = clientPrincipal({
      auth_typ: 'aad',
      claims: [
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: OID },
        { typ: 'name', val: 'Ana' },
        { typ: 'roles', val: 'Passcode.Reset' },
        { typ: 'roles', val: 'Passcode.Read' },
        { typ: 'roles', val: 'Unknown.Role' },
        // The principal's role_typ names this claim type, but only "roles" claims are app roles.
        { typ: ROLE_TYP, val: 'Audit.Read' },
        { typ: 'groups', val: 'Devices.Manage' },
      ],
      name_typ: 'name',
      role_typ: ROLE_TYP,
    });
    const forgedRoleType = clientPrincipal({
      auth_typ: 'aad',
      claims: [
        { typ: 'oid', val: OID },
        { typ: SCOPE_TYP, val: 'access_as_user' },
        { typ: 'groups', val: 'Passcode.Read' },
      ],
      role_typ: 'groups',
    });
    expect((await authenticate(new Headers({ 'x-ms-client-principal': forgedRoleType }))).roles.size).toBe(0);
    const caller = await authenticate(
      new Headers({ 'x-ms-client-principal': principal, 'x-ms-client-principal-name': 'ana@contoso.com' }),
    );
    expect(caller).toMatchObject({ id: OID, name: 'ana@contoso.com' });
    expect([...caller.roles].sort()).toEqual(['Passcode.Read', 'Passcode.Reset']);
  });

  it('takes roles from "roles" claims, the id from x-ms-client-principal-id and the name from name_typ', async () => {
    const principal = clientPrincipal({
      auth_typ: 'aad',
      claims: [
        { typ: 'roles', val: 'Devices.Read' },
        { typ: 'preferred_username', val: 'bo@contoso.com' },
      ],
      name_typ: 'preferred_username',
    });
    const caller = await authenticate(
      new Headers({ 'x-ms-client-principal': principal, 'x-ms-client-principal-id': 'principal-id-1' }),
    );
    expect(caller).toMatchObject({ id: 'principal-id-1', name: 'bo@contoso.com' });
    expect([...caller.roles]).toEqual(['Devices.Read']);
  });

  /** A principal as App Service passes it, from the claims of the token it validated. */
  const principalOf = (claims: Record<string, string | string[]>) =>
    clientPrincipal({
      auth_typ: 'aad',
      claims: Object.entries({ oid: OID, ...claims }).flatMap(([typ, val]) =>
        (Array.isArray(val) ? val : [val]).map((v) => ({ typ, val: v })),
      ),
    });
  const headersOf = (claims: Record<string, string | string[]>) =>
    new Headers({ 'x-ms-client-principal': principalOf(claims) });

  it('runs the scope check of entra mode: a user without the scope, or an app without roles, is 403', async () => {
    const refused: Record<string, string>[] = [
      { [SCOPE_TYP]: 'User.Read', roles: 'Passcode.Read' },
      { scp: 'openid profile', roles: 'Passcode.Read' },
      {},
      { roles: 'Unknown.Role' },
    ];
    for (const claims of refused) {
      const error = await rejection(authenticate(headersOf(claims)));
      expect(error, JSON.stringify(claims)).toMatchObject({ status: 403, code: 'forbidden' });
      expect(error.extra.headers).toEqual({
        'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="access_as_user"',
      });
    }
    expect((await authenticate(headersOf({ [SCOPE_TYP]: 'User.Read access_as_user' }))).id).toBe(OID);
    expect([...(await authenticate(headersOf({ roles: 'Devices.Read' }))).roles]).toEqual(['Devices.Read']);
  });

  it('runs the client allow-list of entra mode on azp, appid, or the aud of a session sign-in', async () => {
    const allowList = createAuthenticator({
      mode: 'appService',
      requiredScope: 'access_as_user',
      allowedClientIds: ['client-a', 'api-app'],
    });
    const scoped = { scp: 'access_as_user' };
    expect((await allowList(headersOf({ ...scoped, azp: 'client-a' }))).id).toBe(OID);
    expect((await allowList(headersOf({ ...scoped, appid: 'client-a' }))).id).toBe(OID);
    expect((await allowList(headersOf({ roles: 'Devices.Read', aud: 'api-app' }))).id).toBe(OID);
    const refused: Record<string, string>[] = [
      { ...scoped, azp: 'client-b' },
      { ...scoped, appid: 'client-b' },
      // azp names the client; an aud naming an allowed one does not stand in for it.
      { ...scoped, azp: 'client-b', aud: 'api-app' },
      scoped,
    ];
    for (const claims of refused) {
      const error = await rejection(allowList(headersOf(claims)));
      expect(error, JSON.stringify(claims)).toMatchObject({ status: 403, code: 'forbidden' });
      expect(error.message).toMatch(/client application is not allowed/);
    }
  });

  it('answers 401 with a Bearer challenge when the principal is missing', async () => {
    const error = await rejection(authenticate(new Headers({ 'x-ms-client-principal-id': OID })));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(error.extra.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });

  it.each([
    ['not base64 JSON', '%%%not-base64%%%'],
    ['JSON that is not a principal', clientPrincipal({ user: 'ana' })],
    ['claims that are not typ/val pairs', clientPrincipal({ auth_typ: 'aad', claims: [{ typ: 'oid' }] })],
    [
      'a principal without any id',
      clientPrincipal({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Devices.Read' }] }),
    ],
  ])('answers 401 for %s', async (_name, value) => {
    const error = await rejection(authenticate(new Headers({ 'x-ms-client-principal': value })));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('none mode', () => {
  it('makes every request the local developer with every role', async () => {
    const caller = await createAuthenticator({ mode: 'none' })(new Headers());
    expect(caller).toMatchObject({ id: 'local-developer', name: 'Local developer' });
    expect([...caller.roles].sort()).toEqual([...ALL_ROLES].sort());
  });
});
