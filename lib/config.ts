import { z } from 'zod';
import { parseEncryptionKeys } from './adapters/aesGcmCipher';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

/** Every app setting the app reads (DESIGN.md "Configuration"), parsed once at start-up. */
export const ConfigSchema = z
  .object({
    AzureWebJobsStorage: z.string({ error: 'is required (a storage connection string)' }).min(1, 'is required'),
    DEVICE_CHANNEL: z.enum(['simulated', 'webhook']).default('simulated'),
    DEVICE_CHANNEL_URL: optionalText,
    DEVICE_CHANNEL_SECRET: optionalText,
    DEVICE_CHANNEL_TIMEOUT_MS: positiveInt(10_000),
    SIMULATOR_LATENCY_MS: z.coerce.number().int().min(0).default(200),
    SIMULATOR_TRANSIENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
    /** scrypt cost of the simulated devices' passcode verifiers (a power of 2). */
    SIMULATOR_VERIFIER_COST: positiveInt(16_384),
    PASSCODE_ENCRYPTION_KEYS: z
      .string({ error: 'is required (keyId:base64key, first is current)' })
      .min(1, 'is required (keyId:base64key, first is current)'),
    PASSCODE_DISPLAY_HOURS: positiveInt(168),
    STATUS_LINK_KEY: z
      .string({ error: 'is required (base64, at least 32 bytes)' })
      .min(1, 'is required (base64, at least 32 bytes)'),
    STATUS_LINK_TTL_SECONDS: positiveInt(3600),
    AUTH_MODE: z.enum(['entra', 'appService', 'none']).default('entra'),
    AUTH_ISSUER: optionalText,
    AUTH_AUDIENCE: optionalText,
    AUTH_JWKS_URL: optionalText,
    MAX_RESETS_PER_DEVICE_PER_DAY: positiveInt(10),
    /** Seconds an action may stay pending/active without progress before the sweeper re-enqueues it. */
    STUCK_AFTER_SECONDS: positiveInt(120),
    /** Hours after which a non-terminal action is failed as expired. */
    ACTION_EXPIRY_HOURS: positiveInt(24),
    WEBSITE_INSTANCE_ID: optionalText,
  })
  // Cross-setting rules run even when another setting is bad, so that one message names every bad key.
  .superRefine((c, ctx) => settingRules(c, (key, message) => ctx.addIssue({ code: 'custom', path: [key], message })), {
    when: () => true,
  });
export type Config = z.infer<typeof ConfigSchema>;

const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

/** Rules across settings. `c` may hold raw values here (another setting failed), so every value is checked for type. */
function settingRules(c: Partial<Record<keyof Config, unknown>>, report: (key: keyof Config, message: string) => void) {
  const text = (key: keyof Config) => (typeof c[key] === 'string' && c[key] !== '' ? (c[key] as string) : undefined);
  const need = (key: keyof Config, when: string) => {
    if (!text(key)) report(key, `is required when ${when}`);
  };
  if (c.DEVICE_CHANNEL === 'webhook') {
    need('DEVICE_CHANNEL_URL', 'DEVICE_CHANNEL=webhook');
    need('DEVICE_CHANNEL_SECRET', 'DEVICE_CHANNEL=webhook');
  }
  if (c.AUTH_MODE === 'entra') {
    need('AUTH_ISSUER', 'AUTH_MODE=entra');
    need('AUTH_AUDIENCE', 'AUTH_MODE=entra');
    need('AUTH_JWKS_URL', 'AUTH_MODE=entra');
  }
  for (const key of ['AUTH_JWKS_URL', 'DEVICE_CHANNEL_URL'] as const) {
    const value = text(key);
    if (value && !URL.canParse(value)) report(key, 'must be an absolute URL');
  }
  // App Service sets WEBSITE_INSTANCE_ID on every instance of an app running in Azure:
  // https://learn.microsoft.com/azure/app-service/reference-app-settings#scaling
  if (c.AUTH_MODE === 'none' && text('WEBSITE_INSTANCE_ID')) {
    report(
      'AUTH_MODE',
      'must not be "none" when the app runs in Azure (WEBSITE_INSTANCE_ID is set); none is for local use only',
    );
  }
  // Secrets: never echo a value, only say what is wrong with it.
  const secret = (key: keyof Config, check: (value: string) => string | undefined) => {
    const value = text(key);
    if (!value) return;
    const problem = value.startsWith(KEY_VAULT_REFERENCE)
      ? 'is an unresolved Key Vault reference; check the app identity has access to the vault and the secret exists'
      : check(value);
    if (problem) report(key, problem);
  };
  secret('PASSCODE_ENCRYPTION_KEYS', (value) => {
    try {
      parseEncryptionKeys(value);
      return undefined;
    } catch (error) {
      // parseEncryptionKeys never puts key material in its messages.
      return (error as Error).message;
    }
  });
  secret('STATUS_LINK_KEY', (value) =>
    Buffer.from(value, 'base64').length < 32 ? 'must be base64 of at least 32 bytes' : undefined,
  );
  if (c.DEVICE_CHANNEL === 'webhook') {
    secret('DEVICE_CHANNEL_SECRET', (value) =>
      Buffer.byteLength(value) < 32 ? 'must be at least 32 bytes' : undefined,
    );
  }
}

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
