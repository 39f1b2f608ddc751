import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_ACCOUNT } from '../../lib/adapters/connectionString';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';
import { type ManagedIdentityEndpoint, startManagedIdentityEndpoint } from '../support/managedIdentityEndpoint';
import { selfSignedCert } from '../support/selfSignedCert';
import { call, pollLikeLogicApps, testSettings } from './stack';

// The deployment in Azure has no storage key anywhere: the app's clients and the host's queue trigger reach storage
// with the managed identity's tokens. This runs the same settings against Azurite with OAuth on (which needs HTTPS),
// with App Service's managed identity protocol served on loopback by the test.
describe('identity-based storage connection (no keys) against Azurite with OAuth', () => {
  let dir: string;
  let azurite: Azurite;
  let identity: ManagedIdentityEndpoint;
  let host: SpawnedHost;
  let api: string;
  let debugLog: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'identity-e2e-'));
    const { cert, key } = selfSignedCert();
    const certPath = join(dir, 'cert.pem');
    writeFileSync(certPath, cert);
    writeFileSync(join(dir, 'key.pem'), key);
    debugLog = join(dir, 'azurite-debug.log');
    azurite = await startAzurite({ https: { cert: certPath, key: join(dir, 'key.pem') }, oauth: true, debugLog });
    identity = await startManagedIdentityEndpoint();
    const endpoint = (port: number) => `https://127.0.0.1:${port}/${DEVELOPMENT_ACCOUNT}`;
    host = await spawnHost({
      appDir: process.cwd(),
      port: 0,
      env: testSettings({
        // No connection string: only the identity-based settings the template sets in Azure (with service URIs,
        // since Azurite is not at <account>.<service>.core.windows.net).
        AzureWebJobsStorage: '',
        AzureWebJobsStorage__blobServiceUri: endpoint(azurite.ports.blob),
        AzureWebJobsStorage__queueServiceUri: endpoint(azurite.ports.queue),
        AzureWebJobsStorage__tableServiceUri: endpoint(azurite.ports.table),
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: identity.clientId,
        IDENTITY_ENDPOINT: identity.url,
        IDENTITY_HEADER: identity.header,
        // The host and the app (one process) trust the test's certificate, and only that process does.
        NODE_EXTRA_CA_CERTS: certPath,
      }),
    });
    api = `${host.url}/api`;
  });

  afterAll(async () => {
    await host?.stop();
    await identity?.stop();
    await azurite?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers a device and resets it to done through the queue trigger, with tokens only', async () => {
    const device = 'identity-ios';
    const put = await call(`${api}/deviceManagement/managedDevices/${device}`, {
      method: 'PUT',
      json: {
        deviceName: 'Identity iPhone',
        operatingSystem: 'iOS',
        osVersion: '17.5',
        userPrincipalName: 'ana@contoso.com',
        passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
      },
    });
    expect(put.status).toBe(201);
    const accepted = await call(`${api}/deviceManagement/managedDevices/${device}/resetPasscode`, {
      method: 'POST',
      json: { reason: 'identity e2e' },
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted);
    expect(final.status).toBe(200);
    expect(final.body.actionState).toBe('done');
    expect(final.body.passcode).toMatch(/^\d{6}$/);
  });

  it('asked the managed identity endpoint for storage tokens of the user-assigned identity', () => {
    expect(identity.requests.length).toBeGreaterThan(0);
    for (const request of identity.requests) {
      expect(request).toEqual({
        resource: 'https://storage.azure.com',
        clientId: identity.clientId,
        apiVersion: '2019-08-01',
        status: 200,
      });
    }
  });

  it('Azurite saw a bearer token on every table and queue request, never a shared key', () => {
    const requests = azuriteRequests(readFileSync(debugLog, 'utf8'));
    // The app's table writes and reads, its enqueue, and the host's queue receive and delete.
    expect(requests.filter((r) => r.service === 'Table').length).toBeGreaterThan(3);
    expect(requests.filter((r) => r.service === 'Queue').length).toBeGreaterThan(3);
    expect(requests.filter((r) => !r.authorization.startsWith('Bearer '))).toEqual([]);
  });

  it('(control) the same log check tells a shared-key request apart', () => {
    // A client on the well-known development key, in a child process that trusts the test certificate.
    const script = `new (require('@azure/storage-queue').QueueClient)(process.env.CS, 'control').createIfNotExists()
      .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })`;
    const child = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, CS: azurite.connectionString, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    const sharedKey = azuriteRequests(readFileSync(debugLog, 'utf8')).filter((r) =>
      r.authorization.startsWith('SharedKey '),
    );
    expect(sharedKey).toEqual([expect.objectContaining({ service: 'Queue', method: 'PUT' })]);
  });
});

/** Every request in Azurite's debug log, with its service and Authorization header (empty when it had none). */
function azuriteRequests(log: string) {
  return [
    ...log.matchAll(
      /(\w+)StorageContextMiddleware: RequestMethod=(\w+) RequestURL=(\S+) RequestHeaders:(\{.*?\}) ClientIP=/g,
    ),
  ].map(([, service = '', method = '', url = '', headers = '{}']) => {
    const parsed: unknown = JSON.parse(headers);
    const authorization =
      typeof parsed === 'object' &&
      parsed !== null &&
      'authorization' in parsed &&
      typeof parsed.authorization === 'string'
        ? parsed.authorization
        : '';
    return { service, method, url, authorization };
  });
}
