import * as z from '../../zod';

// The two Google credential files the Android Management channel takes (ANDROID_MANAGEMENT_CREDENTIALS). Only the
// fields the app uses are read; Google's files carry more, which are ignored. Formats:
// service account keys https://cloud.google.com/iam/docs/keys-create-delete, workload identity federation
// configurations https://google.aip.dev/auth/4117.

/** A service account key (`gcloud iam service-accounts keys create`): a private key exists, so prefer the other. */
const ServiceAccountKeySchema = z.lazy(() =>
  z.object({
    type: z.literal('service_account'),
    client_email: z.string().check(z.minLength(3)),
    private_key: z.string().check(z.startsWith('-----BEGIN')),
    private_key_id: z.optional(z.string()),
    token_uri: z._default(z.url(), 'https://oauth2.googleapis.com/token'),
  }),
);

/**
 * A workload identity federation configuration (`gcloud iam workload-identity-pools create-cred-config … --azure`).
 * Its `credential_source` (Azure IMDS on a VM) is not used: the function app gets the subject token from its own
 * managed identity, which App Service serves elsewhere.
 */
const ExternalAccountSchema = z.lazy(() =>
  z.object({
    type: z.literal('external_account'),
    audience: z.string().check(z.regex(/^\/\/iam\.googleapis\.com\/.+\/workloadIdentityPools\/.+\/providers\/.+$/)),
    subject_token_type: z.literal('urn:ietf:params:oauth:token-type:jwt'),
    token_url: z._default(z.url(), 'https://sts.googleapis.com/v1/token'),
    service_account_impersonation_url: z.optional(z.url()),
  }),
);

const GoogleCredentialSchema = z.lazy(() =>
  z.discriminatedUnion('type', [ServiceAccountKeySchema, ExternalAccountSchema]),
);
export type GoogleCredential = z.infer<typeof GoogleCredentialSchema>;

/** Parses the credential setting; the error names what is wrong, never a value (the setting is a secret). */
export function parseGoogleCredential(text: string): GoogleCredential {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('is not JSON: give the Google credential file as it was downloaded or generated');
  }
  const parsed = GoogleCredentialSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || 'type'))].join(', ');
  throw new Error(
    `is not a Google service account key or workload identity federation configuration (check: ${fields})`,
  );
}
