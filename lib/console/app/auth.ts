import type { ConsoleConfig } from './schemas';

/** How the console signs in and gets credentials for API calls, per the app's AUTH_MODE. */
export type Session =
  | {
      kind: 'signedIn';
      /** The bearer token to send, or undefined when the browser's cookie (App Service) or nothing (none) is enough. */
      accessToken(): Promise<string | undefined>;
      signOut?(): Promise<void>;
    }
  | { kind: 'signedOut'; signIn(): Promise<void> }
  | { kind: 'unavailable'; problem: string };

export async function startSession(config: ConsoleConfig): Promise<Session> {
  switch (config.authMode) {
    case 'none':
      // AUTH_MODE=none (local development only): the app serves every request as the local developer.
      return { kind: 'signedIn', accessToken: async () => undefined };
    case 'appService': {
      // App Service Authentication keeps the session in its cookie; GET /api/me answers 401 without one, and the
      // console then offers signInUrl. https://learn.microsoft.com/azure/app-service/overview-authentication-authorization
      return {
        kind: 'signedIn',
        accessToken: async () => undefined,
        signOut: async () => location.assign('/.auth/logout?post_logout_redirect_uri=/api/console'),
      };
    }
    case 'entra': {
      if ('problem' in config) return { kind: 'unavailable', problem: config.problem };
      // MSAL.js is loaded only in this mode: it is most of the console's JavaScript.
      const { startEntraSession } = await import('./msal');
      return startEntraSession(config);
    }
  }
}

export type SignedOutSession = Exclude<Session, { kind: 'signedIn' }>;

/** The App Service sign-in page, for a 401 in appService mode. */
export const appServiceSignIn = (config: ConsoleConfig): SignedOutSession | undefined =>
  config.authMode === 'appService'
    ? { kind: 'signedOut', signIn: async () => location.assign(config.signInUrl) }
    : undefined;
