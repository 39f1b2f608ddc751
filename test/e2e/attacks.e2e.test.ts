import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { ALL_ROLES } from '../../lib/security/caller';
import { spawnHost } from '../../tools/host/spawnHost';
import { startTestIssuer, type TestIssuer } from './entraTokens';
import { call, pollLikeLogicApps, type Stack, startStack, testSettings } from './stack';

const PUBLIC = 'https://reset.contoso.example';

/** A request with a Host header of our choosing (fetch does not let a caller set Host). */
function withHost(
  url: string,
  host: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>(
    (resolve, reject) => {
      const request = httpRequest(url, { method: init.method ?? 'GET', headers: { ...init.headers, host } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      request.on('error', reject);
      request.end(init.body);
    },
  );
}

/** Starts the host with `settings` and expects it to refuse to start; returns what it printed. */
async function refusedStart(settings: Record<string, string>): Promise<string> {
  const failure = await spawnHost({ appDir: process.cwd(), env: testSettings(settings), port: 0 }).then(
    async (host) => {
      await host.stop();
      return undefined;
    },
    (error: unknown) => String(error),
  );
  if (failure === undefined) throw new Error('the host started with settings it must refuse');
  return failure;
}

describe('attacks on a production-like deployment (AUTH_MODE=entra, PUBLIC_BASE_URL set) get the safe answer', () => {
  let stack: Stack;
  let issuer: TestIssuer;
  let admin: Record<string, string>;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    stack = await startStack({ ...issuer.settings, PUBLIC_BASE_URL: PUBLIC, MAX_RESETS_PER_DEVICE_PER_DAY: '3' });
    admin = await issuer.as(ALL_ROLES);
    for (const id of ['atk-1', 'atk-2', 'atk-3', 'atk-host']) {
      const put = await call(`${stack.api}/deviceManagement/managedDevices/${id}`, {
        method: 'PUT',
        headers: admin,
        json: { deviceName: `Attack target ${id}`, operatingSystem: 'iOS', osVersion: '17.5' },
      });
      expect(put.status).toBe(201);
    }
  });
  afterAll(async () => {
    await stack?.stop();
    await issuer?.stop();
  });

  const api = (path: string) => `${stack.api}/${path}`;

  async function resetToDone(deviceId: string) {
    const accepted = await call(api(`deviceManagement/managedDevices/${deviceId}/resetPasscode`), {
      method: 'POST',
      headers: admin,
    });
    expect(accepted.status).toBe(202);
    // The Location names the public origin, not the loopback address the test reached: poll it on the loopback.
    // Every Location names the public origin, not the loopback address the test reached: poll on the loopback.
    const { final } = await pollLikeLogicApps(accepted, {
      headers: admin,
      rewrite: (location) => location.replace(PUBLIC, stack.host.url),
    });
    return final.body;
  }

  it('guessing passcodes on the simulator: locked after 5 wrong ones, even for the right one; every try audited', async () => {
    const done = await resetToDone('atk-1');
    const unlock = (passcode: string) =>
      call(api('simulator/managedDevices/atk-1/unlock'), { method: 'POST', headers: admin, json: { passcode } });
    for (let i = 0; i < 5; i++) expect((await unlock(`00000${i}`)).status).toBe(403);
    const locked = await unlock(done.passcode);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('tooManyAttempts');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(50);
    // A reader of device state may not even try.
    const reader = await issuer.as(['Devices.Read']);
    const readerTry = await call(api('simulator/managedDevices/atk-1/unlock'), {
      method: 'POST',
      headers: reader,
      json: { passcode: done.passcode },
    });
    expect(readerTry.status).toBe(403);
    const audit = await call(api('deviceManagement/auditEvents?deviceId=atk-1'), { headers: admin });
    const tries = audit.body.value.filter((e: { eventType: string }) => e.eventType === 'unlockAttempted');
    expect(tries).toHaveLength(6);
    expect(tries.map((e: { detail: string }) => e.detail)).toContain('tooManyAttempts');
    expect(JSON.stringify(audit.body)).not.toContain(done.passcode);
  });

  it('a cross-site form post (no JSON Content-Type) starts no reset, even with valid credentials', async () => {
    const reset = api('deviceManagement/managedDevices/atk-3/resetPasscode');
    // fetch sends no Content-Type for an empty body; a browser's form sends one of the types a form may have.
    for (const type of [
      undefined,
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
    ]) {
      const response = await fetch(reset, {
        method: 'POST',
        headers: { ...admin, ...(type && { 'Content-Type': type }) },
      });
      expect(response.status, type).toBe(400);
      const body = (await response.json()) as { error: { details: unknown[] } };
      expect(body.error.details, type).toEqual([expect.objectContaining({ code: 'unsupportedContentType' })]);
    }
    const actions = await call(api('deviceManagement/managedDevices/atk-3/deviceActionResults'), { headers: admin });
    expect(actions.body.value).toEqual([]);
  });

  it('a forged x-ms-client-principal with every role is ignored: 401', async () => {
    const principal = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: ALL_ROLES.map((r) => ({ typ: 'roles', val: r })) }),
    ).toString('base64');
    const response = await call(api('deviceManagement/managedDevices'), {
      headers: { 'x-ms-client-principal': principal, 'x-ms-client-principal-id': 'mallory' },
    });
    expect(response.status).toBe(401);
  });

  it("a user's token for another purpose (no access_as_user scope) is a 403 insufficient_scope", async () => {
    const token = await issuer.token({ scp: 'User.Read', roles: ALL_ROLES, oid: 'oid-ana' });
    const response = await call(api('deviceManagement/managedDevices'), {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
    const scoped = await issuer.token({ scp: 'access_as_user', roles: ['Devices.Read'], oid: 'oid-ana' });
    expect(
      (await call(api('deviceManagement/managedDevices'), { headers: { Authorization: `Bearer ${scoped}` } })).status,
    ).toBe(200);
  });

  it('an ID token is refused with 401, whatever roles it carries', async () => {
    const idToken = await issuer.token({ nonce: 'abc', roles: ALL_ROLES, oid: 'oid-ana' });
    const response = await call(api('deviceManagement/managedDevices'), {
      headers: { Authorization: `Bearer ${idToken}` },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });

  it('forged and tampered $skipTokens are a 400 on every list', async () => {
    await resetToDone('atk-2');
    await resetToDone('atk-2');
    const lists = [
      'deviceManagement/managedDevices',
      'deviceManagement/managedDevices/atk-2/deviceActionResults',
      'deviceManagement/deviceActionResults',
      'deviceManagement/auditEvents',
    ];
    const forged = Buffer.from(JSON.stringify({ nextPartitionKey: 1 })).toString('base64url');
    for (const list of lists) {
      const first = await call(api(`${list}?$top=1`), { headers: admin });
      expect(first.status, list).toBe(200);
      const next: string = first.body['@odata.nextLink'];
      expect(next, list).toMatch(/\$skipToken=/);
      const token = new URL(next).searchParams.get('$skipToken') ?? '';
      const flipped = `${token.slice(0, 5)}${token[5] === 'A' ? 'B' : 'A'}${token.slice(6)}`;
      for (const bad of [forged, flipped, `${token}x`, token.replace(/\.[^.]+\./, '.other.')]) {
        const response = await call(api(`${list}?$top=1&$skipToken=${encodeURIComponent(bad)}`), { headers: admin });
        expect(response.status, `${list} with ${bad}`).toBe(400);
        expect(response.body.error).toMatchObject({ code: 'invalidRequest', target: '$skipToken' });
      }
      // A real token of one list does not open another.
      const other = lists.find((l) => l !== list) ?? list;
      const crossed = await call(api(`${other}?$top=1&$skipToken=${encodeURIComponent(token)}`), { headers: admin });
      expect(crossed.status, `${list} token on ${other}`).toBe(400);
      // And the genuine one works.
      expect((await call(next.replace(PUBLIC, stack.host.url), { headers: admin })).status).toBe(200);
    }
  });

  it('Host: evil.example never appears in a URL the app returns', async () => {
    const evil = 'evil.example';
    const paths = [
      'deviceManagement/managedDevices?$top=1',
      'deviceManagement/deviceActionResults?$top=1',
      'deviceManagement/auditEvents?$top=1',
      'openapi.json',
      'swagger.json',
    ];
    // The local host, like a front end that only serves its own names, refuses the request outright.
    const reset = await withHost(api('deviceManagement/managedDevices/atk-host/resetPasscode'), evil, {
      method: 'POST',
      headers: admin,
    });
    expect(reset.status).toBe(421);
    const refused = [reset, ...(await Promise.all(paths.map((path) => withHost(api(path), evil, { headers: admin }))))];
    expect(refused.map((r) => r.status)).toEqual(refused.map(() => 421));
    // Under its public name the app builds every URL from PUBLIC_BASE_URL, not from the Host it was reached by.
    const publicHost = new URL(PUBLIC).host;
    const accepted = await withHost(api('deviceManagement/managedDevices/atk-host/resetPasscode'), publicHost, {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.location).toMatch(new RegExp(`^${PUBLIC}/api/deviceManagement/managedDevices/atk-host/`));
    for (const path of paths) {
      const response = await withHost(api(path), publicHost, { headers: admin });
      expect(response.status, path).toBe(200);
      expect(response.text, path).toContain(publicHost);
    }
    const everything = JSON.stringify([...refused, accepted]);
    expect(everything).not.toContain(evil);
  });
});

describe('refused resets write nothing', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: accepted actions stay pending, so "in progress" is certain.
    stack = await startStack({
      MAX_RESETS_PER_DEVICE_PER_DAY: '2',
      'AzureWebJobs.resetPasscodeWorker.Disabled': 'true',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('409, 422 and 429 leave the Idempotency-Key table unchanged', async () => {
    const api = (path: string) => `${stack.api}/${path}`;
    const put = (id: string, operatingSystem: string, osVersion: string) =>
      call(api(`deviceManagement/managedDevices/${id}`), {
        method: 'PUT',
        json: { deviceName: id, operatingSystem, osVersion },
      });
    const reset = (id: string, key: string) =>
      call(api(`deviceManagement/managedDevices/${id}/resetPasscode`), {
        method: 'POST',
        headers: { 'Idempotency-Key': key },
      });
    await put('busy', 'iOS', '17.5');
    await put('limited', 'iOS', '17.5');
    await put('android-9', 'Android', '9');
    for (let i = 0; i < 2; i++) {
      const accepted = await reset('limited', `limited-${i}`);
      expect(accepted.status).toBe(202);
      expect(
        (
          await call(api(`deviceManagement/managedDevices/limited/deviceActionResults/${accepted.body.id}`), {
            method: 'DELETE',
          })
        ).status,
      ).toBe(200);
    }
    expect((await reset('busy', 'in-flight')).status).toBe(202);
    const table = TableClient.fromConnectionString(stack.azurite.connectionString, STORAGE_NAMES.tables.idempotency, {
      allowInsecureConnection: true,
    });
    const keys = async () => {
      const rows: string[] = [];
      for await (const row of table.listEntities()) rows.push(`${row.partitionKey}:${row.etag}`);
      return rows.sort();
    };
    const before = await keys();
    expect(before).toHaveLength(3);

    for (const [device, status] of [
      ['busy', 409],
      ['android-9', 422],
      ['limited', 429],
    ] as const) {
      const response = await reset(device, `refused-${device}`);
      expect(response.status, device).toBe(status);
    }
    expect(await keys()).toEqual(before);
  });
});

describe('settings a production deployment must not run with', () => {
  const key = () => randomBytes(32).toString('base64');

  it('AUTH_MODE=none outside Development: the app refuses to start and says why', async () => {
    const output = await refusedStart({ AUTH_MODE: 'none', AZURE_FUNCTIONS_ENVIRONMENT: 'Production' });
    expect(output).toMatch(/AUTH_MODE: must not be "none" unless AZURE_FUNCTIONS_ENVIRONMENT=Development/);
  });

  it('AUTH_MODE=none and Development in Azure (WEBSITE_INSTANCE_ID set): refused at start-up', async () => {
    const output = await refusedStart({ AUTH_MODE: 'none', WEBSITE_INSTANCE_ID: 'e2e-instance' });
    expect(output).toMatch(/AUTH_MODE: must not be "none" in Azure/);
    expect(output).toMatch(/AZURE_FUNCTIONS_ENVIRONMENT: must not be "Development" in Azure/);
  });

  it('appService mode without App Service Authentication in front: refused', async () => {
    const output = await refusedStart({ AUTH_MODE: 'appService' });
    expect(output).toMatch(/AUTH_MODE: is "appService" but App Service Authentication is off/);
  });

  it("in Azure, the repository's example keys: refused, without echoing them", async () => {
    const example = 'local1:BO27zc+zCgpfwBJsDsOJNSNbHpELC2uraS801RGZ0MI=';
    const output = await refusedStart({
      AUTH_MODE: 'entra',
      AUTH_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
      AUTH_AUDIENCE: 'api://reset',
      AUTH_JWKS_URL: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
      AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
      WEBSITE_INSTANCE_ID: 'e2e-instance',
      PUBLIC_BASE_URL: PUBLIC,
      SIMULATOR_ALLOWED_IN_AZURE: 'true',
      PASSCODE_ENCRYPTION_KEYS: example,
      STATUS_LINK_KEYS: `s1:${key()}`,
    });
    expect(output).toMatch(/PASSCODE_ENCRYPTION_KEYS: key 'local1' is an example key/);
    expect(output).not.toContain('BO27zc');
  });
});
