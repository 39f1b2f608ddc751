import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, isDevelopment, parseConfig } from '../../lib/config';

const key = () => randomBytes(32).toString('base64');
const valid = () => ({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PASSCODE_ENCRYPTION_KEYS: `k1:${key()}`,
  STATUS_LINK_KEYS: `s1:${key()}`,
  AUTH_MODE: 'none',
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
});
const entra = {
  AUTH_MODE: 'entra',
  AUTH_ISSUER: 'https://login.example/tenant/v2.0',
  AUTH_AUDIENCE: 'api://reset',
  AUTH_JWKS_URL: 'https://login.example/keys',
};
/** A production deployment in Azure that passes every rule. */
const azure = () => ({
  ...valid(),
  ...entra,
  AZURE_FUNCTIONS_ENVIRONMENT: undefined,
  WEBSITE_INSTANCE_ID: 'abc123',
  PUBLIC_BASE_URL: 'https://contoso-reset.azurewebsites.net',
  DEVICE_CHANNEL: 'webhook',
  DEVICE_CHANNEL_URL: 'https://gateway.contoso.com/apply',
  DEVICE_CHANNEL_SECRET: randomBytes(32).toString('hex'),
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
      STATUS_LINK_TTL_SECONDS: 86400,
      DEVICE_RETRY_WINDOW_MINUTES: 60,
      RETENTION_DAYS: 90,
      AUTH_REQUIRED_SCOPE: 'access_as_user',
      AUTH_ALLOWED_CLIENT_IDS: [],
      SIMULATOR_VERIFIER_COST: 16384,
      MAX_SUBSCRIPTIONS_PER_OWNER: 20,
      SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR: 20,
      WORKFLOW_SUBSCRIPTION_MAX_AGE_DAYS: 30,
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
      STATUS_LINK_KEYS: 's1:c2hvcnQ=',
      AUTH_MODE: 'entra',
      MAX_RESETS_PER_DEVICE_PER_DAY: '0',
    });
    for (const bad of [
      'AzureWebJobsStorage',
      'PASSCODE_ENCRYPTION_KEYS',
      'STATUS_LINK_KEYS',
      'AUTH_ISSUER',
      'AUTH_AUDIENCE',
      'AUTH_JWKS_URL',
      'MAX_RESETS_PER_DEVICE_PER_DAY',
    ]) {
      expect(message).toContain(bad);
    }
    expect(message).not.toContain(secret);
  });

  it('refuses AUTH_MODE=none unless AZURE_FUNCTIONS_ENVIRONMENT=Development, wherever the app runs', () => {
    expect(parseConfig(valid()).AUTH_MODE).toBe('none');
    for (const environment of [undefined, 'Production', 'Staging']) {
      expect(failure({ ...valid(), AZURE_FUNCTIONS_ENVIRONMENT: environment })).toMatch(
        /AUTH_MODE: must not be "none"/,
      );
    }
    expect(parseConfig(azure()).AUTH_MODE).toBe('entra');
  });

  it('refuses Development, and with it AUTH_MODE=none, wherever WEBSITE_INSTANCE_ID says the app runs in Azure', () => {
    const inAzure = { ...valid(), WEBSITE_INSTANCE_ID: 'abc123' };
    const message = failure(inAzure);
    expect(message).toMatch(/AUTH_MODE: must not be "none" in Azure/);
    expect(message).toMatch(/AZURE_FUNCTIONS_ENVIRONMENT: must not be "Development" in Azure/);
    for (const spelling of ['Development', 'development', ' DEVELOPMENT ']) {
      expect(failure({ ...azure(), AZURE_FUNCTIONS_ENVIRONMENT: spelling })).toMatch(
        /AZURE_FUNCTIONS_ENVIRONMENT: must not be "Development" in Azure/,
      );
    }
    expect(isDevelopment({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development', WEBSITE_INSTANCE_ID: 'abc123' })).toBe(false);
    expect(isDevelopment({ AZURE_FUNCTIONS_ENVIRONMENT: 'Development', WEBSITE_INSTANCE_ID: undefined })).toBe(true);
  });

  it('starts appService mode only where App Service Authentication is on', () => {
    expect(failure({ ...valid(), AUTH_MODE: 'appService' })).toMatch(/AUTH_MODE: .*WEBSITE_AUTH_ENABLED/);
    expect(parseConfig({ ...valid(), AUTH_MODE: 'appService', WEBSITE_AUTH_ENABLED: 'True' }).AUTH_MODE).toBe(
      'appService',
    );
  });

  it('accepts a complete production deployment in Azure', () => {
    expect(parseConfig(azure())).toMatchObject({ WEBSITE_INSTANCE_ID: 'abc123', DEVICE_CHANNEL: 'webhook' });
  });

  it('refuses in Azure: example keys, weak keys, plain-http JWKS, long links, no public URL, the simulator', () => {
    const example = 'local1:BO27zc+zCgpfwBJsDsOJNSNbHpELC2uraS801RGZ0MI=';
    expect(failure({ ...azure(), PASSCODE_ENCRYPTION_KEYS: example })).toMatch(
      /PASSCODE_ENCRYPTION_KEYS: key 'local1' is an example key/,
    );
    expect(failure({ ...azure(), STATUS_LINK_KEYS: `s1:${Buffer.alloc(32).toString('base64')}` })).toMatch(
      /STATUS_LINK_KEYS: key 's1' has too little entropy/,
    );
    const counting = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(failure({ ...azure(), PASSCODE_ENCRYPTION_KEYS: `k1:${counting.toString('base64')}` })).toMatch(
      /too little entropy/,
    );
    expect(failure({ ...azure(), DEVICE_CHANNEL_SECRET: 'example-shared-secret-0123456789' })).toMatch(
      /DEVICE_CHANNEL_SECRET: is an example key/,
    );
    expect(failure({ ...azure(), AUTH_JWKS_URL: 'http://login.example/keys' })).toMatch(
      /AUTH_JWKS_URL: must be an https/,
    );
    expect(failure({ ...azure(), STATUS_LINK_TTL_SECONDS: '3153600000' })).toMatch(
      /STATUS_LINK_TTL_SECONDS: must be at most 86400/,
    );
    expect(failure({ ...azure(), PUBLIC_BASE_URL: undefined })).toMatch(/PUBLIC_BASE_URL: is required in Azure/);
    expect(failure({ ...azure(), DEVICE_CHANNEL: 'simulated' })).toMatch(/DEVICE_CHANNEL: is "simulated" in Azure/);
    expect(
      parseConfig({ ...azure(), DEVICE_CHANNEL: 'simulated', SIMULATOR_ALLOWED_IN_AZURE: 'true' }).DEVICE_CHANNEL,
    ).toBe('simulated');
    // The same example keys are fine on a laptop.
    expect(parseConfig({ ...valid(), PASSCODE_ENCRYPTION_KEYS: example }).PASSCODE_ENCRYPTION_KEYS).toBe(example);
  });

  it('checks PUBLIC_BASE_URL is an https origin (http only for localhost)', () => {
    for (const bad of ['contoso.com', 'http://contoso.com', 'https://contoso.com/api', 'https://u:p@contoso.com']) {
      expect(failure({ ...valid(), PUBLIC_BASE_URL: bad })).toMatch(/PUBLIC_BASE_URL: must/);
    }
    expect(parseConfig({ ...valid(), PUBLIC_BASE_URL: 'http://localhost:7071' }).PUBLIC_BASE_URL).toBe(
      'http://localhost:7071',
    );
  });

  it('explains the rename of STATUS_LINK_KEY', () => {
    const { STATUS_LINK_KEYS: _, ...rest } = valid();
    expect(failure({ ...rest, STATUS_LINK_KEY: key() })).toMatch(/STATUS_LINK_KEY was renamed to STATUS_LINK_KEYS/);
  });

  it('parses the client allow-list and keeps the retry window inside the expiry', () => {
    expect(parseConfig({ ...valid(), AUTH_ALLOWED_CLIENT_IDS: ' a, b ,,c ' }).AUTH_ALLOWED_CLIENT_IDS).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(failure({ ...valid(), DEVICE_RETRY_WINDOW_MINUTES: '1440', ACTION_EXPIRY_HOURS: '24' })).toMatch(
      /DEVICE_RETRY_WINDOW_MINUTES: must be shorter/,
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

describe('parseConfig: the Android Management channel', () => {
  const keyless = JSON.stringify({
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/azure/providers/app',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    service_account_impersonation_url:
      'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/amapi@p.iam.gserviceaccount.com:generateAccessToken',
    credential_source: { url: 'http://169.254.169.254/metadata/identity/oauth2/token' },
  });
  const amapi = () => ({
    ...valid(),
    DEVICE_CHANNEL: 'androidManagement',
    ANDROID_MANAGEMENT_ENTERPRISE: 'enterprises/LC01abcd23',
    ANDROID_MANAGEMENT_CREDENTIALS: keyless,
  });

  it('takes an enterprise and a keyless credential, with the documented defaults', () => {
    expect(parseConfig(amapi())).toMatchObject({
      ANDROID_MANAGEMENT_FEDERATION_AUDIENCE: 'api://AzureADTokenExchange',
      ANDROID_MANAGEMENT_ROOT_URL: 'https://androidmanagement.googleapis.com/',
      ANDROID_MANAGEMENT_COMMAND_HOURS: 24,
      ANDROID_MANAGEMENT_LOCK_NOW: false,
      ANDROID_MANAGEMENT_PUSH_JWKS_URL: 'https://www.googleapis.com/oauth2/v3/certs',
    });
  });

  it('names every missing or bad setting, and never echoes the credential', () => {
    const missing = failure({ ...valid(), DEVICE_CHANNEL: 'androidManagement' });
    expect(missing).toContain('ANDROID_MANAGEMENT_ENTERPRISE: is required when DEVICE_CHANNEL=androidManagement');
    expect(missing).toContain('ANDROID_MANAGEMENT_CREDENTIALS: is required');
    const secret = '{"type":"service_account","private_key":"super-secret"}';
    const bad = failure({
      ...amapi(),
      ANDROID_MANAGEMENT_ENTERPRISE: 'LC01',
      ANDROID_MANAGEMENT_CREDENTIALS: secret,
      ANDROID_MANAGEMENT_COMMAND_HOURS: '200',
      ANDROID_MANAGEMENT_PUSH_AUDIENCE: 'https://contoso-reset.azurewebsites.net/api/androidManagement/notifications',
    });
    expect(bad).toContain('ANDROID_MANAGEMENT_ENTERPRISE: must be the enterprise name');
    expect(bad).toContain('ANDROID_MANAGEMENT_CREDENTIALS: is not a Google service account key');
    expect(bad).toContain('ANDROID_MANAGEMENT_COMMAND_HOURS: must not be longer than PASSCODE_DISPLAY_HOURS');
    expect(bad).toContain('ANDROID_MANAGEMENT_PUSH_AUDIENCE: and ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT go together');
    expect(bad).not.toContain('super-secret');
    expect(failure({ ...amapi(), ANDROID_MANAGEMENT_CREDENTIALS: 'not json' })).toContain('is not JSON');
  });

  it('in Azure: an https root URL, and no simulator hint needed', () => {
    const inAzure = { ...azure(), ...amapi(), AUTH_MODE: 'entra', AZURE_FUNCTIONS_ENVIRONMENT: undefined };
    expect(() => parseConfig(inAzure)).not.toThrow();
    expect(failure({ ...inAzure, ANDROID_MANAGEMENT_ROOT_URL: 'http://androidmanagement.example/' })).toContain(
      'ANDROID_MANAGEMENT_ROOT_URL: must be an https URL in Azure',
    );
  });
});
