import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { queueClient } from '../../../lib/adapters/storageActionQueue';
import {
  appStorageConnection,
  type CredentialChoice,
  credentialChoice,
  readStorageSettings,
  type StorageConnection,
  StorageSettingsError,
  serviceUri,
  storageConnection,
} from '../../../lib/adapters/storageConnection';
import { tableClient } from '../../../lib/adapters/tableClients';
import { ConfigError, parseConfig } from '../../../lib/config';

const fakeCredential = { getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3600_000 }) };
const key = () => randomBytes(32).toString('base64');
const otherSettings = () => ({
  PASSCODE_ENCRYPTION_KEYS: `k1:${key()}`,
  STATUS_LINK_KEY: key(),
  STATUS_LINK_KEYS: `s1:${key()}`,
  AUTH_MODE: 'none',
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
});
const configMessage = (env: NodeJS.ProcessEnv): string => {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('parseConfig accepted the settings');
};

describe('readStorageSettings (how the Functions host finds a connection)', () => {
  it('takes an app setting of exactly that name as a connection string, even when __ settings exist', () => {
    expect(
      readStorageSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', AzureWebJobsStorage__accountName: 'a' }),
    ).toEqual({
      kind: 'connectionString',
      setting: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('reads the __ settings as an identity-based connection, ignoring empty ones', () => {
    expect(
      readStorageSettings({
        AzureWebJobsStorage: '',
        AzureWebJobsStorage__accountName: 'contosoreset',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'c1',
        AzureWebJobsStorage__blobServiceUri: ' ',
      }),
    ).toEqual({
      kind: 'identity',
      prefix: 'AzureWebJobsStorage',
      settings: { accountName: 'contosoreset', credential: 'managedidentity', clientId: 'c1' },
    });
  });

  it('tries a binding connection name with the AzureWebJobs prefix too, and finds nothing when nothing is set', () => {
    expect(readStorageSettings({ AzureWebJobsOther: 'cs' }, 'Other')).toMatchObject({ setting: 'AzureWebJobsOther' });
    expect(readStorageSettings({ Other__queueServiceUri: 'https://q' }, 'Other')).toMatchObject({ prefix: 'Other' });
    expect(readStorageSettings({}, 'Other')).toBeUndefined();
  });
});

describe('serviceUri', () => {
  it('derives the public endpoints from AzureWebJobsStorage__accountName; an explicit URI wins', () => {
    const settings = { accountName: 'contoso', tableServiceUri: 'https://t.example/devstoreaccount1/' };
    expect(serviceUri(settings, 'queue')).toBe('https://contoso.queue.core.windows.net');
    expect(serviceUri(settings, 'blob')).toBe('https://contoso.blob.core.windows.net');
    expect(serviceUri(settings, 'table')).toBe('https://t.example/devstoreaccount1');
  });

  it('takes accountName for AzureWebJobsStorage only and __serviceUri for other connections only', () => {
    expect(serviceUri({ accountName: 'contoso' }, 'queue', 'MyQueues')).toBeUndefined();
    expect(serviceUri({ serviceUri: 'https://q.example' }, 'queue', 'MyQueues')).toBe('https://q.example');
    expect(serviceUri({ serviceUri: 'https://q.example' }, 'queue')).toBeUndefined();
  });
});

describe('credentialChoice', () => {
  it('uses the user-assigned managed identity named by clientId or resource id with credential=managedidentity', () => {
    expect(credentialChoice({ credential: 'managedidentity', clientId: 'c1' })).toEqual({
      type: 'ManagedIdentityCredential',
      options: { clientId: 'c1' },
    });
    expect(credentialChoice({ credential: 'ManagedIdentity', managedIdentityResourceId: '/sub/x' })).toEqual({
      type: 'ManagedIdentityCredential',
      options: { resourceId: '/sub/x' },
    });
    expect(credentialChoice({ credential: 'managedidentity' })).toEqual({
      type: 'ManagedIdentityCredential',
      options: {},
    });
  });

  it('falls back to DefaultAzureCredential without credential=managedidentity (local development)', () => {
    expect(credentialChoice({})).toEqual({ type: 'DefaultAzureCredential', options: {} });
    expect(credentialChoice({ clientId: 'c1' })).toEqual({
      type: 'DefaultAzureCredential',
      options: { managedIdentityClientId: 'c1' },
    });
  });
});

describe('storageConnection', () => {
  it('resolves identity settings to service URIs and the chosen credential', () => {
    const choices: CredentialChoice[] = [];
    const connection = storageConnection(
      {
        AzureWebJobsStorage__accountName: 'contoso',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: 'c1',
      },
      {
        services: ['table', 'queue'],
        createCredential: (choice) => {
          choices.push(choice);
          return fakeCredential;
        },
      },
    );
    expect(connection).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://contoso.table.core.windows.net',
      queueServiceUri: 'https://contoso.queue.core.windows.net',
      credential: fakeCredential,
    });
    expect(choices).toEqual([{ type: 'ManagedIdentityCredential', options: { clientId: 'c1' } }]);
  });

  it('names the settings to fix: a missing service, plain http, an unknown credential, two identities', () => {
    const attempt = (env: NodeJS.ProcessEnv) => () =>
      storageConnection(env, { services: ['table', 'queue'], createCredential: () => fakeCredential });
    expect(attempt({ AzureWebJobsStorage__blobServiceUri: 'https://b' })).toThrow(
      /AzureWebJobsStorage__tableServiceUri is required.*AzureWebJobsStorage__queueServiceUri is required/,
    );
    expect(
      attempt({ AzureWebJobsStorage__tableServiceUri: 'http://t', AzureWebJobsStorage__queueServiceUri: 'https://q' }),
    ).toThrow(/AzureWebJobsStorage__tableServiceUri must be an absolute https URL/);
    expect(attempt({ AzureWebJobsStorage__accountName: 'a', AzureWebJobsStorage__credential: 'clientsecret' })).toThrow(
      /AzureWebJobsStorage__credential must be "managedidentity"/,
    );
    expect(
      attempt({
        AzureWebJobsStorage__accountName: 'contoso',
        AzureWebJobsStorage__clientId: 'c',
        AzureWebJobsStorage__managedIdentityResourceId: 'r',
      }),
    ).toThrow(StorageSettingsError);
    expect(attempt({})).toThrow(/Storage connection "AzureWebJobsStorage" is not set/);
  });

  it('keeps a connection string as it is', () => {
    expect(storageConnection({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }, { services: ['queue'] })).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });
});

describe('parseConfig with either storage form', () => {
  it('accepts the identity-based settings alone, and a connection string alone', () => {
    const identity = {
      AzureWebJobsStorage__accountName: 'contoso',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-000000000001',
    };
    const config = parseConfig({ ...otherSettings(), ...identity });
    expect(config).toMatchObject(identity);
    expect(appStorageConnection(config, () => fakeCredential)).toMatchObject({
      kind: 'identity',
      queueServiceUri: 'https://contoso.queue.core.windows.net',
    });
    expect(
      parseConfig({ ...otherSettings(), AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).AzureWebJobsStorage,
    ).toBe('UseDevelopmentStorage=true');
  });

  it('refuses no storage at all, and a half-configured identity, naming the settings', () => {
    expect(configMessage(otherSettings())).toMatch(/AzureWebJobsStorage: is required: a connection string, or/);
    expect(
      configMessage({
        ...otherSettings(),
        AzureWebJobsStorage__queueServiceUri: 'https://q.example',
        AzureWebJobsStorage__credential: 'managedidentity',
      }),
    ).toMatch(/AzureWebJobsStorage__tableServiceUri: is required for an identity-based connection/);
  });
});

describe('storage clients on an identity-based connection', () => {
  const identity: StorageConnection = {
    kind: 'identity',
    tableServiceUri: 'https://127.0.0.1:1/devstoreaccount1',
    queueServiceUri: 'https://127.0.0.1:1/devstoreaccount1',
    credential: fakeCredential,
  };

  it('address the service URIs', async () => {
    expect(tableClient(identity, 'devices').url).toBe('https://127.0.0.1:1/devstoreaccount1');
    expect((await queueClient(identity, 'reset-passcode').client()).url).toBe(
      'https://127.0.0.1:1/devstoreaccount1/reset-passcode',
    );
  });

  // The benchmark counts round trips with an observer; it must see requests on token-authenticated clients too.
  // The observer aborts each request before it leaves the process.
  it('pass every request to the observer', async () => {
    const seen: { method: string; url: string }[] = [];
    const abort = new AbortController();
    const observe = (request: { method: string; url: string }) => {
      seen.push({ method: request.method, url: request.url });
      abort.abort();
    };
    await expect(
      (await queueClient(identity, 'reset-passcode', observe).client()).sendMessage('x', { abortSignal: abort.signal }),
    ).rejects.toThrow();
    const tableAbort = new AbortController();
    await expect(
      tableClient(identity, 'devices', (request) => {
        seen.push({ method: request.method, url: request.url });
        tableAbort.abort();
      }).getEntity('p', 'r', { abortSignal: tableAbort.signal }),
    ).rejects.toThrow();
    expect(seen).toEqual([
      {
        method: 'POST',
        url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:1\/devstoreaccount1\/reset-passcode\/messages/),
      },
      { method: 'GET', url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:1\/devstoreaccount1\/devices\(/) },
    ]);
  });
});
