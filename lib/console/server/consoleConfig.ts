/**
 * What the admin console needs to sign in, derived from the app's settings (docs/console.md). Served by
 * GET /api/console/config; the console fetches it before anything else. Nothing in it is a secret: a single-page
 * app's client id, authority and scopes are public by nature (it is a public client, PKCE replaces a secret).
 */
export type ConsoleConfig =
  /** Local development: every request is the local developer; no sign-in. */
  | { authMode: 'none' }
  /** App Service Authentication signs the browser in with its session cookie; the console sends nothing itself. */
  | { authMode: 'appService'; signInUrl: string }
  /** The console signs in with MSAL.js (authorization code with PKCE) and sends the access token. */
  | { authMode: 'entra'; clientId: string; authority: string; scopes: string[] }
  /** Entra ID mode without what the console needs: it explains, instead of failing at sign-in. */
  | { authMode: 'entra'; problem: string };

/** The settings the console configuration is derived from (names as in lib/config.ts). */
export interface ConsoleSettings {
  AUTH_MODE: 'entra' | 'appService' | 'none';
  AUTH_ISSUER?: string | undefined;
  AUTH_AUDIENCE?: string | undefined;
  AUTH_REQUIRED_SCOPE?: string | undefined;
  CONSOLE_CLIENT_ID?: string | undefined;
}

const DEFAULT_SCOPE = 'access_as_user';
// The console's own page is its redirect URI; App Service's login endpoint comes back to it after sign-in.
// https://learn.microsoft.com/azure/app-service/configure-authentication-customize-sign-in-out
const APP_SERVICE_SIGN_IN = '/.auth/login/aad?post_login_redirect_uri=/api/console';

export function consoleConfig(settings: ConsoleSettings): ConsoleConfig {
  switch (settings.AUTH_MODE) {
    case 'none':
      return { authMode: 'none' };
    case 'appService':
      return { authMode: 'appService', signInUrl: APP_SERVICE_SIGN_IN };
    case 'entra':
      return entraConfig(settings);
  }
}

function entraConfig(settings: ConsoleSettings): ConsoleConfig {
  const clientId = settings.CONSOLE_CLIENT_ID?.trim();
  if (!clientId) {
    return {
      authMode: 'entra',
      problem: 'Console sign-in is not set up: set CONSOLE_CLIENT_ID to the client id of its app registration.',
    };
  }
  const authority = settings.AUTH_ISSUER ? authorityFromIssuer(settings.AUTH_ISSUER) : undefined;
  if (!authority || !settings.AUTH_AUDIENCE) {
    return {
      authMode: 'entra',
      problem: 'Console sign-in needs AUTH_ISSUER to be an Entra ID issuer and AUTH_AUDIENCE to be set.',
    };
  }
  const scope = settings.AUTH_REQUIRED_SCOPE?.trim() || DEFAULT_SCOPE;
  return {
    authMode: 'entra',
    clientId,
    authority,
    scopes: [`${settings.AUTH_AUDIENCE.replace(/\/+$/, '')}/${scope}`],
  };
}

/**
 * The MSAL authority of an Entra ID token issuer: `https://login.microsoftonline.com/<tenant>/v2.0` (v2 tokens) and
 * `https://sts.windows.net/<tenant>/` (v1 tokens) both become `https://login.microsoftonline.com/<tenant>`; the same
 * for the other clouds' hosts, which keep their own host. Anything else is not an Entra ID issuer.
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims
 */
export function authorityFromIssuer(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.search || url.hash) return undefined;
  const v2 = /^\/([A-Za-z0-9.-]+)\/v2\.0\/?$/.exec(url.pathname);
  if (v2) return `${url.origin}/${v2[1]}`;
  const v1 = /^\/([A-Za-z0-9.-]+)\/?$/.exec(url.pathname);
  if (v1 && url.hostname === 'sts.windows.net') return `https://login.microsoftonline.com/${v1[1]}`;
  return undefined;
}

/**
 * The console page's Content-Security-Policy: everything from the app itself, no inline script or style, no
 * framing; in Entra ID mode the identity provider is allowed for MSAL's token requests (connect-src) and its silent
 * renewal iframe (frame-src). https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy
 */
export function consoleContentSecurityPolicy(config: ConsoleConfig): string {
  const identityProvider = 'authority' in config ? new URL(config.authority).origin : undefined;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${identityProvider ? ` ${identityProvider}` : ''}`,
    `frame-src ${identityProvider ?? "'none'"}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
