import { jwtVerify } from 'jose';
import { apiError } from '../core/errors';
import { bearerToken, remoteKeySet, verificationFailure } from './authenticate';

/** What a Pub/Sub push must prove: Google signed it, for our audience, as the service account of our subscription. */
export interface PushVerifierConfig {
  /** ANDROID_MANAGEMENT_PUSH_JWKS_URL: Google's OAuth 2.0 signing keys. */
  jwksUrl: string;
  /** ANDROID_MANAGEMENT_PUSH_AUDIENCE: the audience set on the push subscription. */
  audience: string;
  /** ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: the service account the subscription pushes as. */
  serviceAccount: string;
  fetch?: typeof globalThis.fetch;
}

// Google signs push tokens as https://accounts.google.com; its ID-token guide accepts the short form too.
// https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/**
 * Checks the OIDC token of a Pub/Sub push (Authorization: Bearer): signature with Google's keys (RS256), issuer,
 * audience and expiry, then `email` (the subscription's service account) with `email_verified`. 401 without a valid
 * token, 403 for another account's, 503 when Google's keys cannot be fetched.
 */
export function createPushVerifier(config: PushVerifierConfig): (authorization: string | null) => Promise<void> {
  const getKey = remoteKeySet(config.jwksUrl, config.fetch);
  const options = {
    issuer: GOOGLE_ISSUERS,
    audience: config.audience,
    algorithms: ['RS256'],
    clockTolerance: 60,
    requiredClaims: ['exp', 'email'],
  };
  return async (authorization) => {
    const token = bearerToken(authorization);
    let payload: Record<string, unknown>;
    try {
      payload = (await jwtVerify(token, getKey, options)).payload;
    } catch (error) {
      throw verificationFailure(error);
    }
    if (payload.email !== config.serviceAccount || payload.email_verified !== true) {
      throw apiError('forbidden', { reason: 'The push was not sent by the Pub/Sub service account this app trusts.' });
    }
  };
}
