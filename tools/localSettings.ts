import { randomBytes } from 'node:crypto';

/**
 * App settings for a throwaway local run (tests, benchmark): fresh keys, no authentication, the simulated channel.
 * Callers add what their run needs (storage, latency, host.json overrides).
 */
export function throwawaySettings(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DEVICE_CHANNEL: 'simulated',
    SIMULATOR_TRANSIENT_FAILURE_RATE: '0',
    PASSCODE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    STATUS_LINK_KEYS: `s1:${randomBytes(32).toString('base64')}`,
    AUTH_MODE: 'none',
    // AUTH_MODE=none is refused anywhere else.
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    ...overrides,
  };
}
