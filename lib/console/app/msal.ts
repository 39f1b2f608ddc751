import {
  type AccountInfo,
  createStandardPublicClientApplication,
  InteractionRequiredAuthError,
} from '@azure/msal-browser';
import type { Session } from './auth';

export interface EntraSettings {
  clientId: string;
  authority: string;
  scopes: string[];
}

/** The console's page is its redirect URI: register exactly this URL on the single-page-app registration. */
const redirectUri = () => `${location.origin}/api/console`;

/**
 * Sign-in with MSAL.js: the authorization code flow with PKCE, by redirect (no popup to be blocked). Tokens are kept
 * in sessionStorage, so they end with the browser tab.
 * https://learn.microsoft.com/entra/identity-platform/scenario-spa-sign-in
 */
export async function startEntraSession(settings: EntraSettings): Promise<Session> {
  const msal = await createStandardPublicClientApplication({
    auth: {
      clientId: settings.clientId,
      authority: settings.authority,
      redirectUri: redirectUri(),
      postLogoutRedirectUri: redirectUri(),
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
  // Completes a sign-in that has just come back from the identity provider (and returns to the page it started on).
  const result = await msal.handleRedirectPromise();
  const account: AccountInfo | null = result?.account ?? msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;
  const { scopes } = settings;
  if (!account) {
    return { kind: 'signedOut', signIn: () => msal.loginRedirect({ scopes, redirectStartPage: location.href }) };
  }
  msal.setActiveAccount(account);
  return {
    kind: 'signedIn',
    async accessToken() {
      try {
        return (await msal.acquireTokenSilent({ scopes, account })).accessToken;
      } catch (error) {
        // The refresh token expired or consent is needed: sign in again, coming back to this page.
        if (error instanceof InteractionRequiredAuthError) {
          await msal.acquireTokenRedirect({ scopes, account, redirectStartPage: location.href });
        }
        throw error;
      }
    },
    signOut: () => msal.logoutRedirect({ account }),
  };
}
