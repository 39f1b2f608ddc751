import { z } from 'zod';
import { HostConfigError, type LocalSettings } from './config';
import { type CorsPolicy, parseCorsPolicy } from './cors';
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from './http';
import { type AllowedHosts, allowedHostsFor } from './requestTarget';

export interface HttpSettings {
  cors: CorsPolicy | undefined;
  allowedHosts: AllowedHosts;
  limits: ConnectionLimits;
}

const MillisecondsSchema = z.coerce.number().int().min(100).max(3_600_000);
const BooleanSchema = z.enum(['true', 'false', 'True', 'False', '1', '0']).transform((v) => /^(true|1)$/i.test(v));

function fromEnv<T>(env: NodeJS.ProcessEnv, name: string, schema: z.ZodType<T>, fallback: T): T {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const parsed = schema.safeParse(text);
  if (!parsed.success) throw new HostConfigError(`${name}="${text}" is not valid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * CORS (LOCAL_FUNCTIONS_HOST_CORS / _CORS_CREDENTIALS over local.settings.json Host.CORS / Host.CORSCredentials),
 * the hosts requests may name (PUBLIC_BASE_URL) and the connection timeouts (LOCAL_FUNCTIONS_HOST_*_TIMEOUT_MS).
 */
export function resolveHttpSettings(env: NodeJS.ProcessEnv, local: LocalSettings): HttpSettings {
  const origins = env.LOCAL_FUNCTIONS_HOST_CORS || local.cors;
  const credentials = fromEnv(env, 'LOCAL_FUNCTIONS_HOST_CORS_CREDENTIALS', BooleanSchema, local.corsCredentials);
  const defaults = DEFAULT_CONNECTION_LIMITS;
  return {
    cors: parseCorsPolicy(origins, credentials),
    allowedHosts: allowedHostsFor(env.PUBLIC_BASE_URL),
    limits: {
      headersTimeoutMs: fromEnv(
        env,
        'LOCAL_FUNCTIONS_HOST_HEADERS_TIMEOUT_MS',
        MillisecondsSchema,
        defaults.headersTimeoutMs,
      ),
      requestTimeoutMs: fromEnv(
        env,
        'LOCAL_FUNCTIONS_HOST_REQUEST_TIMEOUT_MS',
        MillisecondsSchema,
        defaults.requestTimeoutMs,
      ),
      keepAliveTimeoutMs: defaults.keepAliveTimeoutMs,
    },
  };
}
