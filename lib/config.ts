import { parseEncryptionKeys } from './adapters/aesGcmCipher';
import { parseGoogleCredential } from './adapters/androidManagement/credentials';
import { checkStorageSettings, StorageSettingsShape } from './adapters/storageConnection';
import { isLoopbackHttpUrl } from './core/loopback';
import { DEVICE_CHANNELS } from './core/model';
import { type KeyList, parseKeyList, weakKeyReason } from './security/keyList';
import * as z from './zod';

// The settings are parsed at load, so their schema is built then too: the whole-number and trimmed-text types are
// built once and shared (zod schemas are immutable), not once per setting.
const PositiveInt = z.coerce.number().check(z.int(), z.positive());
const positiveInt = (fallback: number) => z._default(PositiveInt, fallback);
const Trimmed = z.string().check(z.trim());
const optionalText = z.optional(
  z.pipe(
    Trimmed,
    z.transform((s) => (s === '' ? undefined : s)),
  ),
);
const flag = z._default(
  z.pipe(
    Trimmed,
    z.transform((s) => /^(true|1)$/i.test(s)),
  ),
  false,
);
const commaList = z._default(
  z.pipe(
    Trimmed,
    z.transform((s) =>
      s
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
  ),
  [],
);

/** The most a status link may live in Azure: a captured link must not outlast the day its action can run. */
const MAX_STATUS_LINK_TTL_SECONDS = 86_400;

/** Every app setting the app reads (docs/DESIGN.md "Configuration"), parsed once at start-up. */
export const ConfigSchema = z
  .object({
    /** A connection string, or the identity-based AzureWebJobsStorage__* settings (lib/adapters/storageConnection.ts). */
    ...StorageSettingsShape,
    DEVICE_CHANNEL: z._default(z.enum(DEVICE_CHANNELS), 'simulated'),
    DEVICE_CHANNEL_URL: optionalText,
    DEVICE_CHANNEL_SECRET: optionalText,
    DEVICE_CHANNEL_TIMEOUT_MS: positiveInt(10_000),
    /** How long a command that gets no answer is sent again; after it the app asks the channel how it ended. */
    DEVICE_RETRY_WINDOW_MINUTES: positiveInt(60),
    /** `enterprises/{enterpriseId}`: the Android Management enterprise whose devices the app resets. */
    ANDROID_MANAGEMENT_ENTERPRISE: optionalText,
    /** A Google credential JSON: a service account key, or (keyless) a workload identity federation configuration. */
    ANDROID_MANAGEMENT_CREDENTIALS: optionalText,
    /** The Entra audience of the managed identity token exchanged with Google (workload identity federation). */
    ANDROID_MANAGEMENT_FEDERATION_AUDIENCE: z._default(
      z.string().check(z.trim(), z.minLength(1)),
      'api://AzureADTokenExchange',
    ),
    ANDROID_MANAGEMENT_ROOT_URL: z._default(
      z.string().check(z.trim(), z.minLength(1)),
      'https://androidmanagement.googleapis.com/',
    ),
    /** How long a RESET_PASSWORD command waits for the device (its `duration`); at most PASSCODE_DISPLAY_HOURS. */
    ANDROID_MANAGEMENT_COMMAND_HOURS: z._default(z.coerce.number().check(z.positive()), 24),
    /** Lock the device right after the passcode reset (RESET_PASSWORD's LOCK_NOW flag). */
    ANDROID_MANAGEMENT_LOCK_NOW: flag,
    /** Pub/Sub push: the audience of its OIDC token, the service account that signs it, and Google's keys. */
    ANDROID_MANAGEMENT_PUSH_AUDIENCE: optionalText,
    ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: optionalText,
    ANDROID_MANAGEMENT_PUSH_JWKS_URL: z._default(
      z.string().check(z.trim(), z.minLength(1)),
      'https://www.googleapis.com/oauth2/v3/certs',
    ),
    SIMULATOR_LATENCY_MS: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 200),
    SIMULATOR_TRANSIENT_FAILURE_RATE: z._default(z.coerce.number().check(z.minimum(0), z.maximum(1)), 0),
    /** scrypt cost of the simulated devices' passcode verifiers (a power of 2). */
    SIMULATOR_VERIFIER_COST: positiveInt(16_384),
    /** A demo deployment may run the simulated channel in Azure, but only when it says so on purpose. */
    SIMULATOR_ALLOWED_IN_AZURE: flag,
    PASSCODE_ENCRYPTION_KEYS: z
      .string({ error: 'is required (keyId:base64key, first is current)' })
      .check(z.minLength(1, 'is required (keyId:base64key, first is current)')),
    PASSCODE_DISPLAY_HOURS: positiveInt(168),
    STATUS_LINK_KEYS: z
      .string({ error: 'is required (keyId:base64key of at least 32 bytes, first is current)' })
      .check(z.minLength(1, 'is required (keyId:base64key of at least 32 bytes, first is current)')),
    /** Only to explain the rename: the single key of earlier versions. */
    STATUS_LINK_KEY: optionalText,
    STATUS_LINK_TTL_SECONDS: positiveInt(MAX_STATUS_LINK_TTL_SECONDS),
    AUTH_MODE: z._default(z.enum(['entra', 'appService', 'none']), 'entra'),
    AUTH_ISSUER: optionalText,
    AUTH_AUDIENCE: optionalText,
    AUTH_JWKS_URL: optionalText,
    /** The delegated permission (scope) a user's token must carry. */
    AUTH_REQUIRED_SCOPE: z._default(z.string().check(z.trim(), z.minLength(1)), 'access_as_user'),
    /** When set, only these client applications (azp/appid) may call. */
    AUTH_ALLOWED_CLIENT_IDS: commaList,
    /** The admin console's single-page app registration (entra mode). */
    CONSOLE_CLIENT_ID: optionalText,
    /** The app's public origin; every absolute URL it returns is built from it. Required in Azure. */
    PUBLIC_BASE_URL: optionalText,
    MAX_RESETS_PER_DEVICE_PER_DAY: positiveInt(10),
    /** How long a worker's claim on an action holds without renewal; after a crash, the next attempt waits this long. */
    WORKER_LEASE_SECONDS: positiveInt(30),
    /** Seconds an action may stay pending/active without progress before the sweeper re-enqueues it. */
    STUCK_AFTER_SECONDS: positiveInt(120),
    /** Hours after which a non-terminal action is failed as expired. */
    ACTION_EXPIRY_HOURS: positiveInt(24),
    /** Days finished actions and audit events are kept before they are purged. */
    RETENTION_DAYS: positiveInt(90),
    /** Live change-notification subscriptions one caller may hold, and create per hour (docs/integrations.md). */
    MAX_SUBSCRIPTIONS_PER_OWNER: positiveInt(20),
    SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR: positiveInt(20),
    /** How long after its creation the app still renews a workflow's subscription by itself. */
    WORKFLOW_SUBSCRIPTION_MAX_AGE_DAYS: positiveInt(30),
    /** `Development` under Core Tools and `npm start`; anything else is production behaviour. */
    AZURE_FUNCTIONS_ENVIRONMENT: optionalText,
    /** Set by the platform on every instance of an app running in Azure. */
    WEBSITE_INSTANCE_ID: optionalText,
    /** Set by the platform when App Service Authentication is on. */
    WEBSITE_AUTH_ENABLED: flag,
  })
  // Cross-setting rules run even when another setting is bad, so that one message names every bad key.
  .check(
    z.superRefine(
      (c, ctx) => settingRules(c, (key, message) => ctx.addIssue({ code: 'custom', path: [key], message })),
      { when: () => true },
    ),
  );
export type Config = z.infer<typeof ConfigSchema>;

/**
 * Whether the app runs for a developer (Core Tools and `npm start` set AZURE_FUNCTIONS_ENVIRONMENT=Development). In
 * Azure that is an ordinary app setting anyone with write access to the app may set, so an instance there (the
 * platform sets WEBSITE_INSTANCE_ID) never counts as one, whatever it says; start-up refuses the combination.
 */
export const isDevelopment = (c: Pick<Config, 'AZURE_FUNCTIONS_ENVIRONMENT' | 'WEBSITE_INSTANCE_ID'>) =>
  /^development$/i.test(c.AZURE_FUNCTIONS_ENVIRONMENT ?? '') && c.WEBSITE_INSTANCE_ID === undefined;

const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

type Report = (key: keyof Config, message: string) => void;

/** A flag setting, parsed (boolean) or still raw (a string, when another setting failed). */
const isOn = (c: Partial<Record<keyof Config, unknown>>, key: keyof Config) =>
  c[key] === true || (typeof c[key] === 'string' && /^(true|1)$/i.test(c[key].trim()));

/** Rules across settings. `c` may hold raw values here (another setting failed), so every value is checked for type. */
function settingRules(c: Partial<Record<keyof Config, unknown>>, report: Report) {
  const text = (key: keyof Config) => (typeof c[key] === 'string' && c[key] !== '' ? (c[key] as string) : undefined);
  const need = (key: keyof Config, when: string) => {
    if (!text(key)) report(key, `is required when ${when}`);
  };
  // https://learn.microsoft.com/azure/app-service/reference-app-settings#scaling
  const inAzure = text('WEBSITE_INSTANCE_ID') !== undefined;
  const development = isDevelopment({
    AZURE_FUNCTIONS_ENVIRONMENT: text('AZURE_FUNCTIONS_ENVIRONMENT'),
    WEBSITE_INSTANCE_ID: text('WEBSITE_INSTANCE_ID'),
  });
  checkStorageSettings(c, report);
  if (c.DEVICE_CHANNEL === 'webhook') {
    need('DEVICE_CHANNEL_URL', 'DEVICE_CHANNEL=webhook');
    need('DEVICE_CHANNEL_SECRET', 'DEVICE_CHANNEL=webhook');
  }
  if (c.DEVICE_CHANNEL === 'androidManagement') androidManagementRules(c, text, need, report, inAzure);
  if (c.AUTH_MODE === 'entra') {
    need('AUTH_ISSUER', 'AUTH_MODE=entra');
    need('AUTH_AUDIENCE', 'AUTH_MODE=entra');
    need('AUTH_JWKS_URL', 'AUTH_MODE=entra');
  }
  for (const key of ['AUTH_JWKS_URL', 'DEVICE_CHANNEL_URL'] as const) {
    const value = text(key);
    if (value && !URL.canParse(value)) report(key, 'must be an absolute URL');
  }
  const baseUrl = text('PUBLIC_BASE_URL');
  if (baseUrl) {
    const problem = publicBaseUrlProblem(baseUrl);
    if (problem) report('PUBLIC_BASE_URL', problem);
  }
  if (c.AUTH_MODE === 'none' && !development) {
    report(
      'AUTH_MODE',
      inAzure
        ? 'must not be "none" in Azure (WEBSITE_INSTANCE_ID is set): none lets anyone in; use "entra" or "appService"'
        : 'must not be "none" unless AZURE_FUNCTIONS_ENVIRONMENT=Development (none lets anyone in; it is for local use only)',
    );
  }
  // Development also lets notifications reach private addresses and plain-http loopback URLs: a laptop's allowances.
  if (inAzure && /^development$/i.test(text('AZURE_FUNCTIONS_ENVIRONMENT') ?? '')) {
    report(
      'AZURE_FUNCTIONS_ENVIRONMENT',
      'must not be "Development" in Azure (WEBSITE_INSTANCE_ID is set): it is for a developer\'s machine, where it ' +
        'allows AUTH_MODE=none and notifications to private addresses; remove the setting',
    );
  }
  // Without App Service Authentication in front, anyone could send the x-ms-client-principal header it would set.
  if (c.AUTH_MODE === 'appService' && !isOn(c, 'WEBSITE_AUTH_ENABLED')) {
    report(
      'AUTH_MODE',
      'is "appService" but App Service Authentication is off (WEBSITE_AUTH_ENABLED is not True); turn it on, ' +
        'with "Require authentication" and "HTTP 401" for unauthenticated requests',
    );
  }
  if (text('STATUS_LINK_KEY') && !text('STATUS_LINK_KEYS')) {
    report('STATUS_LINK_KEYS', 'is required; STATUS_LINK_KEY was renamed to STATUS_LINK_KEYS (kid:base64key, …)');
  }
  const ttl = Number(c.STATUS_LINK_TTL_SECONDS);
  const retryMinutes = Number(c.DEVICE_RETRY_WINDOW_MINUTES);
  const expiryHours = Number(c.ACTION_EXPIRY_HOURS);
  if (retryMinutes >= expiryHours * 60) {
    report('DEVICE_RETRY_WINDOW_MINUTES', 'must be shorter than ACTION_EXPIRY_HOURS');
  }
  if (inAzure) azureRules(c, text, report, ttl);
  secretRules(c, text, report, inAzure);
}

/** The Android Management channel: an enterprise, a credential, Google's endpoints, and a command no longer than shown. */
function androidManagementRules(
  c: Partial<Record<keyof Config, unknown>>,
  text: (key: keyof Config) => string | undefined,
  need: (key: keyof Config, when: string) => void,
  report: Report,
  inAzure: boolean,
) {
  const when = 'DEVICE_CHANNEL=androidManagement';
  need('ANDROID_MANAGEMENT_ENTERPRISE', when);
  need('ANDROID_MANAGEMENT_CREDENTIALS', when);
  const enterprise = text('ANDROID_MANAGEMENT_ENTERPRISE');
  if (enterprise && !/^enterprises\/[A-Za-z0-9_-]{1,100}$/.test(enterprise)) {
    report('ANDROID_MANAGEMENT_ENTERPRISE', 'must be the enterprise name, enterprises/{enterpriseId}');
  }
  for (const key of ['ANDROID_MANAGEMENT_ROOT_URL', 'ANDROID_MANAGEMENT_PUSH_JWKS_URL'] as const) {
    const value = text(key);
    if (value && !URL.canParse(value)) report(key, 'must be an absolute URL');
    else if (value && inAzure && new URL(value).protocol !== 'https:') report(key, 'must be an https URL in Azure');
  }
  const hours = Number(c.ANDROID_MANAGEMENT_COMMAND_HOURS ?? 24);
  if (hours > Number(c.PASSCODE_DISPLAY_HOURS ?? 168)) {
    report(
      'ANDROID_MANAGEMENT_COMMAND_HOURS',
      'must not be longer than PASSCODE_DISPLAY_HOURS: a command applied later would set a passcode nobody can see',
    );
  }
  const pushSettings = [text('ANDROID_MANAGEMENT_PUSH_AUDIENCE'), text('ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT')];
  if (pushSettings.filter(Boolean).length === 1) {
    report(
      'ANDROID_MANAGEMENT_PUSH_AUDIENCE',
      'and ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT go together: set both to accept Pub/Sub pushes, or neither',
    );
  }
}

/** Production rules for an app running in Azure: nothing that is only fit for a laptop. */
function azureRules(
  c: Partial<Record<keyof Config, unknown>>,
  text: (key: keyof Config) => string | undefined,
  report: Report,
  ttl: number,
) {
  if (!text('PUBLIC_BASE_URL')) {
    report(
      'PUBLIC_BASE_URL',
      'is required in Azure (the https origin callers use, e.g. https://<app>.azurewebsites.net)',
    );
  }
  const jwks = text('AUTH_JWKS_URL');
  if (jwks && URL.canParse(jwks) && new URL(jwks).protocol !== 'https:') {
    report('AUTH_JWKS_URL', 'must be an https URL in Azure');
  }
  if (ttl > MAX_STATUS_LINK_TTL_SECONDS) {
    report('STATUS_LINK_TTL_SECONDS', `must be at most ${MAX_STATUS_LINK_TTL_SECONDS} (one day) in Azure`);
  }
  if ((c.DEVICE_CHANNEL ?? 'simulated') === 'simulated' && !isOn(c, 'SIMULATOR_ALLOWED_IN_AZURE')) {
    report(
      'DEVICE_CHANNEL',
      'is "simulated" in Azure: use "androidManagement" or "webhook" with your MDM gateway, or set ' +
        'SIMULATOR_ALLOWED_IN_AZURE=true for a demo',
    );
  }
}

/** Secrets: never echo a value, only say what is wrong with it. In Azure, published and weak keys are refused. */
function secretRules(
  c: Partial<Record<keyof Config, unknown>>,
  text: (key: keyof Config) => string | undefined,
  report: Report,
  inAzure: boolean,
) {
  const secret = (key: keyof Config, check: (value: string) => string | undefined) => {
    const value = text(key);
    if (!value) return;
    const problem = value.startsWith(KEY_VAULT_REFERENCE)
      ? 'is an unresolved Key Vault reference; check the app identity has access to the vault and the secret exists'
      : check(value);
    if (problem) report(key, problem);
  };
  const keyList = (parse: () => KeyList) => {
    try {
      const list = parse();
      if (!inAzure) return undefined;
      for (const [kid, key] of list.keys) {
        const weak = weakKeyReason(key);
        if (weak) return `key '${kid}' ${weak}; generate a new one (see docs/deploy.md)`;
      }
      return undefined;
    } catch (error) {
      // The key list parser never puts key material in its messages.
      return (error as Error).message;
    }
  };
  secret('PASSCODE_ENCRYPTION_KEYS', (value) => keyList(() => parseEncryptionKeys(value)));
  secret('STATUS_LINK_KEYS', (value) => keyList(() => parseStatusLinkKeys(value)));
  if (c.DEVICE_CHANNEL === 'androidManagement') {
    secret('ANDROID_MANAGEMENT_CREDENTIALS', (value) => {
      try {
        parseGoogleCredential(value);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    });
  }
  if (c.DEVICE_CHANNEL === 'webhook') {
    secret('DEVICE_CHANNEL_SECRET', (value) => {
      const bytes = Buffer.from(value, 'utf8');
      if (bytes.length < 32) return 'must be at least 32 bytes';
      const weak = inAzure ? weakKeyReason(bytes) : undefined;
      return weak ? `${weak}; generate a new one` : undefined;
    });
  }
}

/** `PUBLIC_BASE_URL`: an absolute origin, https unless it names the loopback. */
function publicBaseUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'must be an absolute URL such as https://contoso-reset.azurewebsites.net';
  const url = new URL(value);
  if (url.protocol !== 'https:' && !isLoopbackHttpUrl(url)) {
    return 'must use https (http only for localhost)';
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    return 'must be an origin only (scheme, host and port), without path, query or credentials';
  }
  return undefined;
}

/** Parses `STATUS_LINK_KEYS` (`kid:base64key,…`, first = current; HMAC keys of at least 32 bytes, RFC 2104 §3). */
export const parseStatusLinkKeys = (text: string): KeyList => parseKeyList('STATUS_LINK_KEYS', text, { atLeast: 32 });

/** Parses settings; throws one Error naming every bad key (never echoing values, which may be secrets). */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const result = ConfigSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(settings)'}: ${i.message}`);
  throw new ConfigError(lines);
}

export class ConfigError extends Error {
  constructor(lines: string[]) {
    super(`Invalid app settings:\n${lines.join('\n')}`);
    this.name = 'ConfigError';
  }
}
