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
    AzureWebJobsStorage: z.string().min(1, 'is required (a storage connection string)'),
    DEVICE_CHANNEL: z.enum(['simulated', 'webhook']).default('simulated'),
    DEVICE_CHANNEL_URL: optionalText,
    DEVICE_CHANNEL_SECRET: optionalText,
    DEVICE_CHANNEL_TIMEOUT_MS: positiveInt(10_000),
    SIMULATOR_LATENCY_MS: z.coerce.number().int().min(0).default(200),
    SIMULATOR_TRANSIENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
    /** scrypt cost of the simulated devices' passcode verifiers (a power of 2). */
    SIMULATOR_VERIFIER_COST: positiveInt(16_384),
    PASSCODE_ENCRYPTION_KEYS: z.string().min(1, 'is required (keyId:base64key, first is current)'),
    PASSCODE_DISPLAY_HOURS: positiveInt(168),
    STATUS_LINK_KEY: z.string().min(1, 'is required (base64, at least 32 bytes)'),
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
  .superRefine((c, ctx) => {
    const need = (key: keyof typeof c, when: string) => {
      if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required when ${when}` });
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
    if (c.AUTH_MODE === 'none' && c.WEBSITE_INSTANCE_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_MODE'],
        message:
          'must not be "none" when the app runs in Azure (WEBSITE_INSTANCE_ID is set); none is for local use only',
      });
    }
    for (const key of ['PASSCODE_ENCRYPTION_KEYS', 'STATUS_LINK_KEY', 'DEVICE_CHANNEL_SECRET'] as const) {
      if (c[key]?.startsWith('@Microsoft.KeyVault(')) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message:
            'is an unresolved Key Vault reference; check the app identity has access to the vault and the secret exists',
        });
        return;
      }
    }
    try {
      parseEncryptionKeys(c.PASSCODE_ENCRYPTION_KEYS);
    } catch (error) {
      // parseEncryptionKeys never puts key material in its messages.
      ctx.addIssue({ code: 'custom', path: ['PASSCODE_ENCRYPTION_KEYS'], message: (error as Error).message });
    }
    if (Buffer.from(c.STATUS_LINK_KEY, 'base64').length < 32) {
      ctx.addIssue({ code: 'custom', path: ['STATUS_LINK_KEY'], message: 'must be base64 of at least 32 bytes' });
    }
    if (c.DEVICE_CHANNEL === 'webhook' && c.DEVICE_CHANNEL_SECRET && Buffer.byteLength(c.DEVICE_CHANNEL_SECRET) < 32) {
      ctx.addIssue({ code: 'custom', path: ['DEVICE_CHANNEL_SECRET'], message: 'must be at least 32 bytes' });
    }
  });
export type Config = z.infer<typeof ConfigSchema>;

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
