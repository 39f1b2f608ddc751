import { describe, expect, it } from 'vitest';
import {
  authorityFromIssuer,
  consoleConfig,
  consoleContentSecurityPolicy,
} from '../../../lib/console/server/consoleConfig';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('authorityFromIssuer', () => {
  it('turns Entra ID v2 and v1 issuers into the tenant authority', () => {
    expect(authorityFromIssuer(`https://login.microsoftonline.com/${TENANT}/v2.0`)).toBe(
      `https://login.microsoftonline.com/${TENANT}`,
    );
    expect(authorityFromIssuer(`https://login.microsoftonline.com/${TENANT}/v2.0/`)).toBe(
      `https://login.microsoftonline.com/${TENANT}`,
    );
    expect(authorityFromIssuer(`https://sts.windows.net/${TENANT}/`)).toBe(
      `https://login.microsoftonline.com/${TENANT}`,
    );
    // Other clouds keep their host.
    expect(authorityFromIssuer(`https://login.microsoftonline.us/${TENANT}/v2.0`)).toBe(
      `https://login.microsoftonline.us/${TENANT}`,
    );
  });

  it('refuses what is not an Entra ID issuer', () => {
    for (const issuer of [
      'not a url',
      `http://login.microsoftonline.com/${TENANT}/v2.0`,
      `https://login.microsoftonline.com/${TENANT}/v2.0?x=1`,
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0`,
      'https://accounts.example.com/',
      `https://sts.example.com/${TENANT}/`,
    ]) {
      expect(authorityFromIssuer(issuer), issuer).toBeUndefined();
    }
  });
});

describe('consoleConfig', () => {
  const entra = {
    AUTH_MODE: 'entra' as const,
    AUTH_ISSUER: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    AUTH_AUDIENCE: 'api://contoso-reset',
    CONSOLE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  };

  it('gives MSAL.js the client id, the authority and the API scope in entra mode', () => {
    expect(consoleConfig(entra)).toEqual({
      authMode: 'entra',
      clientId: '11111111-2222-3333-4444-555555555555',
      authority: `https://login.microsoftonline.com/${TENANT}`,
      scopes: ['api://contoso-reset/access_as_user'],
    });
    expect(
      consoleConfig({ ...entra, AUTH_AUDIENCE: 'api://contoso-reset/', AUTH_REQUIRED_SCOPE: 'Reset.All' }),
    ).toMatchObject({ scopes: ['api://contoso-reset/Reset.All'] });
  });

  it('explains, rather than failing at sign-in, when entra mode lacks what the console needs', () => {
    expect(consoleConfig({ ...entra, CONSOLE_CLIENT_ID: undefined })).toEqual({
      authMode: 'entra',
      problem: expect.stringContaining('CONSOLE_CLIENT_ID'),
    });
    expect(consoleConfig({ ...entra, AUTH_ISSUER: 'https://accounts.example.com/' })).toEqual({
      authMode: 'entra',
      problem: expect.stringContaining('AUTH_ISSUER'),
    });
  });

  it('needs no sign-in in none mode and uses App Service sign-in in appService mode', () => {
    expect(consoleConfig({ AUTH_MODE: 'none', CONSOLE_CLIENT_ID: 'ignored' })).toEqual({ authMode: 'none' });
    expect(consoleConfig({ AUTH_MODE: 'appService' })).toEqual({
      authMode: 'appService',
      signInUrl: '/.auth/login/aad?post_login_redirect_uri=/api/console',
    });
  });
});

describe('consoleContentSecurityPolicy', () => {
  const directives = (policy: string) =>
    Object.fromEntries(policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));

  it('allows only the app itself, and in entra mode the identity provider for tokens and silent renewal', () => {
    const entra = directives(
      consoleContentSecurityPolicy({
        authMode: 'entra',
        clientId: 'x',
        authority: `https://login.microsoftonline.com/${TENANT}`,
        scopes: [],
      }),
    );
    expect(entra).toMatchObject({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self' https://login.microsoftonline.com",
      'frame-src': 'https://login.microsoftonline.com',
      'frame-ancestors': "'none'",
      'object-src': "'none'",
      'base-uri': "'none'",
    });
    const none = directives(consoleContentSecurityPolicy({ authMode: 'none' }));
    expect(none['connect-src']).toBe("'self'");
    expect(none['frame-src']).toBe("'none'");
    expect(Object.values(none).join(' ')).not.toMatch(/unsafe|\*/);
  });
});
