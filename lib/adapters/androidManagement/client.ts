// Google's client libraries for the Android Management API, in a module of their own: the build emits it as
// dist/androidManagement.js, loaded on the channel's first call, so the HTTP functions' cold start never parses them
// (docs/PERFORMANCE.md). Only the Android Management channel loads it.
import { IdentityPoolClient, JWT } from 'google-auth-library';
import { androidmanagement_v1 } from 'googleapis/build/src/apis/androidmanagement/v1';
import type { GoogleCredential } from './credentials';
import type { AndroidManagementApi } from './operations';

/** The OAuth scope of the Android Management API (its discovery document's only scope). */
const ANDROID_MANAGEMENT_SCOPE = 'https://www.googleapis.com/auth/androidmanagement';

/** Where google-auth-library's JWT client always sends the service account grant, whatever the key says. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export interface AndroidManagementClientOptions {
  credential: GoogleCredential;
  /** ANDROID_MANAGEMENT_ROOT_URL */
  rootUrl: string;
  /** Workload identity federation: the subject token (the function app's managed identity token for Google). */
  subjectToken?: () => Promise<string>;
  /** Per request, covering connect and the whole answer. */
  timeoutMs: number;
}

/**
 * The Android Management API through googleapis, authorised with google-auth-library. Access tokens are cached by the
 * auth client and refreshed five minutes before they expire, so one token serves every call until then; concurrent
 * calls wait for the one token request in flight.
 */
export function createAndroidManagementApi(options: AndroidManagementClientOptions): AndroidManagementApi {
  const auth = authClient(options);
  const api = new androidmanagement_v1.Androidmanagement({
    auth,
    rootUrl: options.rootUrl,
    timeout: options.timeoutMs,
  });
  const devices = api.enterprises.devices;
  const call = async <T>(request: () => Promise<{ data: T }>): Promise<T> => {
    try {
      return (await request()).data;
    } catch (error) {
      throw requestError(error, options.rootUrl);
    }
  };
  return {
    issueCommand: (name, command) => call(() => devices.issueCommand({ name, requestBody: command })),
    getOperation: (name) => call(() => devices.operations.get({ name })),
    cancelOperation: async (name) => {
      await call(() => devices.operations.cancel({ name }));
    },
    getDevice: (name) => call(() => devices.get({ name })),
    listDevices: async (parent, pageToken) => {
      const page = await call(() => devices.list({ parent, pageSize: 100, ...(pageToken && { pageToken }) }));
      return { devices: page.devices ?? [], ...(page.nextPageToken && { nextPageToken: page.nextPageToken }) };
    },
  } satisfies AndroidManagementApi;
}

function authClient(options: AndroidManagementClientOptions): JWT | IdentityPoolClient {
  const { credential } = options;
  if (credential.type === 'external_account') {
    const { subjectToken } = options;
    if (!subjectToken) throw new Error('workload identity federation needs the managed identity token supplier');
    // Everything the configuration says is used as written (token_url, service_account_impersonation_url); its
    // credential_source (Azure IMDS, a VM's endpoint) is not: the app supplies the managed identity's token itself.
    return new IdentityPoolClient({
      type: 'external_account',
      audience: credential.audience,
      subject_token_type: credential.subject_token_type,
      token_url: credential.token_url,
      ...(credential.service_account_impersonation_url && {
        service_account_impersonation_url: credential.service_account_impersonation_url,
      }),
      scopes: [ANDROID_MANAGEMENT_SCOPE],
      subject_token_supplier: { getSubjectToken: subjectToken },
    });
  }
  // google-auth-library's JWT client signs the grant for, and sends it to, Google's fixed token URL and ignores the
  // key's token_uri. Honour token_uri: the assertion's audience is overridden (additionalClaims are applied last) and
  // the token request is sent there.
  const jwt = new JWT({
    email: credential.client_email,
    key: credential.private_key,
    ...(credential.private_key_id && { keyId: credential.private_key_id }),
    scopes: [ANDROID_MANAGEMENT_SCOPE],
    additionalClaims: { aud: credential.token_uri },
  });
  if (credential.token_uri !== GOOGLE_TOKEN_URL) {
    const tokenUri = new URL(credential.token_uri);
    jwt.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (config.url instanceof URL && config.url.href === GOOGLE_TOKEN_URL) config.url = tokenUri;
        return config;
      },
    });
  }
  return jwt;
}

/**
 * A failed call as the channel reads it: the HTTP status and Retry-After, and whether the failure came from the API or
 * from getting a token. The library's error is not kept: its request config holds the command, passcode included.
 */
function requestError(error: unknown, rootUrl: string): Error {
  const failure = error as {
    status?: unknown;
    response?: { status?: unknown; headers?: { get?(name: string): string | null } };
    config?: { url?: unknown };
  };
  const status = typeof failure.response?.status === 'number' ? failure.response.status : undefined;
  const url = failure.config?.url instanceof URL ? failure.config.url.href : String(failure.config?.url ?? '');
  const retryAfter = failure.response?.headers?.get?.('retry-after') ?? null;
  const result = new Error(
    status === undefined ? 'the Android Management API could not be reached' : `answered ${status}`,
  ) as Error & Partial<ApiRequestFailure>;
  result.name = 'AndroidManagementRequestError';
  Object.assign(result, {
    status,
    retryAfter,
    credentials: status !== undefined && !url.startsWith(rootUrl),
  } satisfies ApiRequestFailure);
  return result;
}

interface ApiRequestFailure {
  status: number | undefined;
  retryAfter: string | null;
  /** The failure came from the token exchange, not from the Android Management API. */
  credentials: boolean;
}
