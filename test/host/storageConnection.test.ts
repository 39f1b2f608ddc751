import { describe, expect, it } from 'vitest';
import { BindingError, queueClientFor, resolveStorageConnection } from '../../tools/host/queue';

const fakeCredential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }) };

describe('local host: the storage connection of a queue binding', () => {
  it('is a connection string when an app setting has the exact name (AzureWebJobs prefix tried too)', () => {
    expect(resolveStorageConnection(undefined, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' })).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
    expect(resolveStorageConnection('Other', { AzureWebJobsOther: 'UseDevelopmentStorage=true' })).toMatchObject({
      kind: 'connectionString',
    });
  });

  it('is identity-based from <name>__queueServiceUri, __serviceUri, or AzureWebJobsStorage__accountName', () => {
    const host = resolveStorageConnection('AzureWebJobsStorage', {
      AzureWebJobsStorage__accountName: 'contoso',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: 'c1',
    });
    expect(host).toMatchObject({ kind: 'identity', queueServiceUri: 'https://contoso.queue.core.windows.net' });
    const other = resolveStorageConnection('Jobs', { Jobs__serviceUri: 'https://q.example/acct/' });
    expect(other).toMatchObject({ kind: 'identity', queueServiceUri: 'https://q.example/acct' });
    expect(
      queueClientFor(
        { kind: 'identity', queueServiceUri: 'https://q.example/acct', credential: fakeCredential },
        'work',
      ).url,
    ).toBe('https://q.example/acct/work');
  });

  it('fails the binding with the settings to fix', () => {
    expect(() => resolveStorageConnection('Jobs', {})).toThrow(BindingError);
    expect(() => resolveStorageConnection('Jobs', { Jobs__accountName: 'contoso' })).toThrow(
      /Jobs__queueServiceUri is required for an identity-based connection/,
    );
    expect(() => resolveStorageConnection(undefined, { AzureWebJobsStorage__queueServiceUri: 'http://q' })).toThrow(
      /must be an absolute https URL/,
    );
  });
});
