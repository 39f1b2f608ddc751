import { createHash, randomBytes } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import type { BrowserContext, Route } from 'playwright-core';
import type { Role } from '../../lib/security/caller';
import { AUDIENCE, ISSUER, startTestIssuer } from '../e2e/entraTokens';

/**
 * Entra ID, played by the test inside the browser. The console signs in with the real MSAL.js against the real
 * authority URL (https://login.microsoftonline.com/<tenant>); Playwright's request interception answers those
 * requests here, so nothing leaves the machine and the product carries no test-only code path. MSAL runs the
 * authorization code flow with PKCE for real: this fake checks the code verifier against the challenge.
 * The access tokens come from the e2e tests' loopback issuer (test/e2e/entraTokens.ts), whose key set the app checks.
 */
const AUTHORITY_ORIGIN = 'https://login.microsoftonline.com';
export const TENANT = new URL(ISSUER).pathname.split('/')[1] as string;
const CONSOLE_CLIENT_ID = '5d2f7c1e-0b4a-4e8e-9c6d-3a1b2c4d5e6f';
export const SCOPE = `${AUDIENCE}/access_as_user`;

export interface FakeUser {
  name: string;
  roles: readonly Role[];
}

interface PendingCode {
  challenge: string;
  nonce: string | null;
  redirectUri: string;
  scope: string;
  user: FakeUser;
}

export interface FakeEntra {
  /** App settings for entra mode with this fake (issuer, audience, JWKS on loopback, the console's client id). */
  settings: Record<string, string>;
  /** An access token for the API, as the test's own HTTP calls send it. */
  accessToken(user: FakeUser): Promise<string>;
  /** Answers the browser's requests to the authority as `user`, who signs in without a prompt. */
  signInAs(context: BrowserContext, user: FakeUser): Promise<void>;
  /** Code exchanges that presented a valid PKCE verifier. */
  readonly pkceExchanges: number;
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
const oid = (user: FakeUser) => `oid-${createHash('sha256').update(user.name).digest('hex').slice(0, 24)}`;

export async function startFakeEntra(): Promise<FakeEntra> {
  const issuer = await startTestIssuer();
  // A user's delegated access token for the API, as the console's app registration gets it.
  const accessToken = (user: FakeUser) =>
    issuer.token({
      oid: oid(user),
      sub: oid(user),
      tid: TENANT,
      preferred_username: user.name,
      name: user.name,
      roles: user.roles,
      scp: 'access_as_user',
      azp: CONSOLE_CLIENT_ID,
    });
  // ID tokens are for the console (audience: its client id), signed with a key of their own: MSAL.js reads their
  // claims (and checks the nonce) but not their signature, and the API refuses ID tokens anyway.
  const idTokenKey = await generateKeyPair('RS256');
  const idToken = (user: FakeUser, nonce: string | null) =>
    new SignJWT({
      oid: oid(user),
      sub: oid(user),
      tid: TENANT,
      preferred_username: user.name,
      name: user.name,
      ver: '2.0',
      ...(nonce && { nonce }),
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'id-token', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(CONSOLE_CLIENT_ID)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(idTokenKey.privateKey);

  const codes = new Map<string, PendingCode>();
  const refreshTokens = new Map<string, FakeUser>();
  let pkceExchanges = 0;

  const tokenResponse = async (user: FakeUser, scope: string, nonce: string | null) => {
    const refreshToken = base64url(randomBytes(24));
    refreshTokens.set(refreshToken, user);
    return {
      token_type: 'Bearer',
      scope,
      expires_in: 3600,
      ext_expires_in: 3600,
      access_token: await accessToken(user),
      refresh_token: refreshToken,
      id_token: await idToken(user, nonce),
      client_info: base64url(JSON.stringify({ uid: oid(user), utid: TENANT })),
    };
  };

  const metadata = {
    issuer: ISSUER,
    authorization_endpoint: `${AUTHORITY_ORIGIN}/${TENANT}/oauth2/v2.0/authorize`,
    token_endpoint: `${AUTHORITY_ORIGIN}/${TENANT}/oauth2/v2.0/token`,
    end_session_endpoint: `${AUTHORITY_ORIGIN}/${TENANT}/oauth2/v2.0/logout`,
    jwks_uri: issuer.settings.AUTH_JWKS_URL,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['plain', 'S256'],
  };
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': '*',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
  };
  const json = (route: Route, status: number, body: unknown) =>
    route.fulfill({ status, headers: { ...cors, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function answer(route: Route, user: FakeUser) {
    const request = route.request();
    const url = new URL(request.url());
    if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
    const path = url.pathname;
    if (path.endsWith('/.well-known/openid-configuration')) return json(route, 200, metadata);
    if (path === '/common/discovery/instance') {
      return json(route, 200, {
        tenant_discovery_endpoint: `${AUTHORITY_ORIGIN}/${TENANT}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [
          {
            preferred_network: 'login.microsoftonline.com',
            preferred_cache: 'login.windows.net',
            aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
          },
        ],
      });
    }
    if (path === `/${TENANT}/oauth2/v2.0/authorize`) return authorize(route, url, user);
    if (path === `/${TENANT}/oauth2/v2.0/token`) return token(route, new URLSearchParams(request.postData() ?? ''));
    if (path === `/${TENANT}/oauth2/v2.0/logout`) {
      const back = url.searchParams.get('post_logout_redirect_uri') ?? 'about:blank';
      return route.fulfill({ status: 302, headers: { location: back } });
    }
    return json(route, 404, { error: 'not_found', error_description: `the fake has no ${path}` });
  }

  async function authorize(route: Route, url: URL, user: FakeUser) {
    const params = url.searchParams;
    const redirectUri = params.get('redirect_uri') ?? '';
    const challenge = params.get('code_challenge');
    const fail = (error: string) =>
      route.fulfill({
        status: 302,
        headers: { location: `${redirectUri}#error=${error}&state=${encodeURIComponent(params.get('state') ?? '')}` },
      });
    if (params.get('client_id') !== CONSOLE_CLIENT_ID) return fail('unauthorized_client');
    if (params.get('response_type') !== 'code' || params.get('code_challenge_method') !== 'S256' || !challenge) {
      return fail('invalid_request');
    }
    const code = base64url(randomBytes(24));
    codes.set(code, { challenge, nonce: params.get('nonce'), redirectUri, scope: params.get('scope') ?? '', user });
    const response = new URLSearchParams({
      code,
      state: params.get('state') ?? '',
      client_info: base64url(JSON.stringify({ uid: oid(user), utid: TENANT })),
    });
    const separator = params.get('response_mode') === 'query' ? '?' : '#';
    return route.fulfill({ status: 302, headers: { location: `${redirectUri}${separator}${response}` } });
  }

  async function token(route: Route, form: URLSearchParams) {
    const scope = form.get('scope') ?? SCOPE;
    if (form.get('client_id') !== CONSOLE_CLIENT_ID) return json(route, 400, { error: 'invalid_client' });
    if (form.get('grant_type') === 'refresh_token') {
      const user = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!user) return json(route, 400, { error: 'invalid_grant' });
      return json(route, 200, await tokenResponse(user, scope, null));
    }
    const pending = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    if (
      form.get('grant_type') !== 'authorization_code' ||
      !pending ||
      pending.redirectUri !== form.get('redirect_uri') ||
      base64url(createHash('sha256').update(verifier).digest()) !== pending.challenge
    ) {
      return json(route, 400, { error: 'invalid_grant', error_description: 'code, redirect_uri or PKCE verifier' });
    }
    pkceExchanges++;
    return json(route, 200, await tokenResponse(pending.user, scope, pending.nonce));
  }

  return {
    settings: { ...issuer.settings, CONSOLE_CLIENT_ID },
    accessToken,
    async signInAs(context, user) {
      await context.route(`${AUTHORITY_ORIGIN}/**`, (route) => answer(route, user));
    },
    get pkceExchanges() {
      return pkceExchanges;
    },
    stop: () => issuer.stop(),
  };
}
