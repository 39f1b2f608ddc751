import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

export class HostConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostConfigError';
  }
}

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

export interface QueuesConfig {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

export interface HostConfig {
  /** undefined = no limit. */
  functionTimeoutMs: number | undefined;
  http: { routePrefix: string; maxRequestBodySize: number };
  queues: QueuesConfig;
  logLevel: LogLevel;
}

// .NET TimeSpan text ("[d.]hh:mm:ss[.fffffff]"), the form host.json uses for durations.
const TIMESPAN = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/;

export function parseTimeSpan(text: string): number | undefined {
  const match = TIMESPAN.exec(text.trim());
  if (!match) return undefined;
  const [, sign, days, hours, minutes, seconds, fraction] = match;
  const ms =
    (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds ?? 0)) * 1000 +
    Math.round(Number(`0.${fraction ?? '0'}`) * 1000);
  return sign ? -ms : ms;
}

const TimeSpanSchema = z.string().transform((text, ctx) => {
  const ms = parseTimeSpan(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a TimeSpan such as "00:00:30"` });
    return z.NEVER;
  }
  return ms;
});

const LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  information: 'information',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
  none: 'none',
};

// Defaults are the Azure Storage queues extension's (v5):
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json
const QueuesSchema = z
  .object({
    batchSize: z.coerce.number().int().min(1).max(32).default(16),
    newBatchThreshold: z.coerce.number().int().min(0).optional(),
    maxDequeueCount: z.coerce.number().int().min(1).default(5),
    visibilityTimeout: TimeSpanSchema.pipe(z.number().min(0)).default(0),
    maxPollingInterval: TimeSpanSchema.pipe(z.number().min(100)).default(60_000),
    messageEncoding: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['base64', 'none']))
      .default('base64'),
  })
  .loose();

const HostJsonSchema = z
  .object({
    version: z.literal('2.0'),
    // "-1" (or null) means no timeout on dedicated plans.
    functionTimeout: z.union([z.null(), z.literal('-1'), TimeSpanSchema.pipe(z.number().positive())]).optional(),
    logging: z
      .object({ logLevel: z.object({ default: z.string().optional() }).loose().optional() })
      .loose()
      .optional(),
    extensions: z
      .object({
        http: z
          .object({ routePrefix: z.string().default('api') })
          .loose()
          .default({ routePrefix: 'api' }),
        queues: QueuesSchema.default(QueuesSchema.parse({})),
      })
      .loose()
      .default({ http: { routePrefix: 'api' }, queues: QueuesSchema.parse({}) }),
  })
  .loose();

const OVERRIDE_PREFIX = 'azurefunctionsjobhost__';
const camel = (key: string) => key.charAt(0).toLowerCase() + key.slice(1);

/** host.json keys are case-insensitive for the host (.NET configuration); this host reads them in camelCase. */
function normalizeKeys(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), normalizeKeys(v)]));
}

/**
 * Applies `AzureFunctionsJobHost__a__b=value` variables to the parsed host.json, `__` separating levels
 * and keys matched case-insensitively as .NET configuration does:
 * https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values
 */
function applyHostJsonOverrides(json: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toLowerCase().startsWith(OVERRIDE_PREFIX)) continue;
    const path = name.slice(OVERRIDE_PREFIX.length).split('__');
    let node: Record<string, unknown> = json;
    path.forEach((segment, index) => {
      const key = Object.keys(node).find((k) => k.toLowerCase() === segment.toLowerCase()) ?? camel(segment);
      if (index === path.length - 1) {
        node[key] = value;
        return;
      }
      const child = node[key];
      if (typeof child === 'object' && child !== null && !Array.isArray(child)) {
        node = child as Record<string, unknown>;
      } else {
        const created: Record<string, unknown> = {};
        node[key] = created;
        node = created;
      }
    });
  }
  return json;
}

// The real host's default request body limit, overridable by this app setting:
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#functions_request_body_size_limit
const DEFAULT_MAX_BODY = 104_857_600;
const BodyLimitSchema = z.coerce.number().int().positive();

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads host.json of the app, applies environment overrides and fills in the real host's defaults. */
export function loadHostConfig(appDir: string, env: NodeJS.ProcessEnv): HostConfig {
  const file = join(appDir, 'host.json');
  if (!existsSync(file)) throw new HostConfigError(`${file} not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new HostConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const normalized = normalizeKeys(raw);
  if (typeof normalized !== 'object' || normalized === null || Array.isArray(normalized)) {
    throw new HostConfigError(`${file} must hold an object`);
  }
  const parsed = HostJsonSchema.safeParse(applyHostJsonOverrides({ ...normalized }, env));
  if (!parsed.success) throw new HostConfigError(`${file}: ${formatIssues(parsed.error)}`);
  const hostJson = parsed.data;
  const queues = hostJson.extensions.queues;

  let maxRequestBodySize = DEFAULT_MAX_BODY;
  const limitSetting = env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT;
  if (limitSetting !== undefined && limitSetting !== '') {
    const limit = BodyLimitSchema.safeParse(limitSetting);
    if (!limit.success) throw new HostConfigError('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive integer');
    maxRequestBodySize = limit.data;
  }

  const level = LOG_LEVELS[(hostJson.logging?.logLevel?.default ?? 'information').toLowerCase()];
  const timeout = hostJson.functionTimeout;
  return {
    // Without a functionTimeout the host uses 30 minutes outside the Consumption plan.
    functionTimeoutMs: timeout === undefined ? 30 * 60_000 : typeof timeout === 'number' ? timeout : undefined,
    http: { routePrefix: hostJson.extensions.http.routePrefix.replace(/^\/+|\/+$/g, ''), maxRequestBodySize },
    queues: {
      batchSize: queues.batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(queues.batchSize / 2),
      maxDequeueCount: queues.maxDequeueCount,
      visibilityTimeoutMs: queues.visibilityTimeout,
      maxPollingIntervalMs: queues.maxPollingInterval,
      messageEncoding: queues.messageEncoding,
    },
    logLevel: level ?? 'information',
  };
}

const LocalSettingsSchema = z
  .object({
    IsEncrypted: z.boolean().optional(),
    Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    Host: z
      .object({
        LocalHttpPort: z.coerce.number().int().min(0).max(65535).optional(),
        CORS: z.string().optional(),
        CORSCredentials: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

export interface LocalSettings {
  values: Record<string, string>;
  localHttpPort: number | undefined;
  /** Host.CORS: comma-separated origins, or "*". */
  cors: string | undefined;
  /** Host.CORSCredentials. */
  corsCredentials: boolean;
}

/**
 * Loads local.settings.json `Values` into `env` without replacing variables that are already set,
 * as Core Tools does: https://learn.microsoft.com/azure/azure-functions/functions-develop-local#local-settings-file
 */
export function loadLocalSettings(appDir: string, env: NodeJS.ProcessEnv): LocalSettings {
  const file = join(appDir, 'local.settings.json');
  if (!existsSync(file)) return { values: {}, localHttpPort: undefined, cors: undefined, corsCredentials: false };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new HostConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = LocalSettingsSchema.safeParse(raw);
  if (!parsed.success) throw new HostConfigError(`${file}: ${formatIssues(parsed.error)}`);
  if (parsed.data.IsEncrypted) throw new HostConfigError(`${file} is encrypted; this host reads plain settings only`);
  for (const [name, value] of Object.entries(parsed.data.Values)) {
    if (env[name] === undefined) env[name] = value;
  }
  const host = parsed.data.Host;
  return {
    values: parsed.data.Values,
    localHttpPort: host?.LocalHttpPort,
    cors: host?.CORS,
    corsCredentials: host?.CORSCredentials ?? false,
  };
}
