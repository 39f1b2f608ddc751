import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config';

const key = () => randomBytes(32).toString('base64');
const valid = () => ({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PASSCODE_ENCRYPTION_KEYS: `k1:${key()}`,
  STATUS_LINK_KEY: key(),
  AUTH_MODE: 'none',
});

function failure(env: NodeJS.ProcessEnv): string {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('parseConfig accepted bad settings');
}

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig(valid());
    expect(config).toMatchObject({
      DEVICE_CHANNEL: 'simulated',
      PASSCODE_DISPLAY_HOURS: 168,
      MAX_RESETS_PER_DEVICE_PER_DAY: 10,
      STATUS_LINK_TTL_SECONDS: 3600,
      SIMULATOR_VERIFIER_COST: 16384,
    });
    expect(
      parseConfig({
        ...valid(),
        AUTH_MODE: undefined,
        AUTH_ISSUER: 'i',
        AUTH_AUDIENCE: 'a',
        AUTH_JWKS_URL: 'https://login.example/keys',
      }).AUTH_MODE,
    ).toBe('entra');
  });

  it('names every bad key in one message and never echoes a secret value', () => {
    const secret = 'not-a-valid-key-but-secret';
    const message = failure({
      PASSCODE_ENCRYPTION_KEYS: `k1:${secret}`,
      STATUS_LINK_KEY: 'c2hvcnQ=',
      AUTH_MODE: 'entra',
      MAX_RESETS_PER_DEVICE_PER_DAY: '0',
    });
    for (const bad of [
      'AzureWebJobsStorage',
      'PASSCODE_ENCRYPTION_KEYS',
      'STATUS_LINK_KEY',
      'AUTH_ISSUER',
      'AUTH_AUDIENCE',
      'AUTH_JWKS_URL',
      'MAX_RESETS_PER_DEVICE_PER_DAY',
    ]) {
      expect(message).toContain(bad);
    }
    expect(message).not.toContain(secret);
  });

  it('refuses AUTH_MODE=none when the app runs in Azure', () => {
    expect(failure({ ...valid(), WEBSITE_INSTANCE_ID: 'abc123' })).toMatch(/AUTH_MODE: must not be "none"/);
    const entra = {
      AUTH_MODE: 'entra',
      AUTH_ISSUER: 'i',
      AUTH_AUDIENCE: 'a',
      AUTH_JWKS_URL: 'https://login.example/k',
    };
    expect(parseConfig({ ...valid(), ...entra, WEBSITE_INSTANCE_ID: 'abc123' }).AUTH_MODE).toBe('entra');
    expect(parseConfig({ ...valid(), AUTH_MODE: 'appService', WEBSITE_INSTANCE_ID: 'abc123' }).AUTH_MODE).toBe(
      'appService',
    );
  });

  it('says when a Key Vault reference was not resolved', () => {
    const message = failure({
      ...valid(),
      PASSCODE_ENCRYPTION_KEYS: '@Microsoft.KeyVault(SecretUri=https://v/secrets/k)',
    });
    expect(message).toMatch(/PASSCODE_ENCRYPTION_KEYS: is an unresolved Key Vault reference/);
  });

  it('needs the gateway URL and a 32-byte secret for the webhook channel, and absolute URLs', () => {
    expect(failure({ ...valid(), DEVICE_CHANNEL: 'webhook' })).toMatch(
      /DEVICE_CHANNEL_URL[\s\S]*DEVICE_CHANNEL_SECRET/,
    );
    expect(
      failure({ ...valid(), DEVICE_CHANNEL: 'webhook', DEVICE_CHANNEL_URL: 'gateway', DEVICE_CHANNEL_SECRET: 'short' }),
    ).toMatch(/DEVICE_CHANNEL_URL: must be an absolute URL[\s\S]*DEVICE_CHANNEL_SECRET: must be at least 32 bytes/);
  });
});
