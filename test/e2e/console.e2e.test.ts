import { get, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEntra, type FakeUser, SCOPE, startFakeEntra, TENANT } from '../browser/fakeEntra';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

const ADMIN: FakeUser = {
  name: 'ana.admin@contoso.com',
  roles: ['Audit.Read', 'Passcode.Read', 'Devices.Read', 'Passcode.Reset', 'Devices.Manage'],
};

/** What the admin console needs from the API and how the app serves it (AUTH_MODE=entra). */
describe('admin console support end to end', () => {
  let stack: Stack;
  let entra: FakeEntra;
  let headers: Record<string, string>;

  beforeAll(async () => {
    entra = await startFakeEntra();
    stack = await startStack(entra.settings);
    headers = { Authorization: `Bearer ${await entra.accessToken(ADMIN)}` };
  });
  afterAll(async () => {
    await stack?.stop();
    await entra?.stop();
  });

  it('GET /api/me: the caller and their roles, in a stable order; 401 without credentials', async () => {
    const me = await call(`${stack.api}/me`, { headers });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: expect.stringMatching(/^oid-/),
      name: ADMIN.name,
      roles: ['Devices.Read', 'Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read'],
    });
    expect(me.headers.get('cache-control')).toBe('no-store');
    const anonymous = await call(`${stack.api}/me`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('includePasscode=false leaves the passcode out everywhere and records no view; the default still shows it', async () => {
    const device = `${stack.api}/deviceManagement/managedDevices/console-e2e`;
    expect(
      (
        await call(device, {
          method: 'PUT',
          headers,
          json: { deviceName: 'C', operatingSystem: 'iOS', osVersion: '17.5' },
        })
      ).status,
    ).toBe(201);
    const accepted = await call(`${device}/resetPasscode`, { method: 'POST', headers, json: {} });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted, { headers });
    expect(final.body.actionState).toBe('done');
    const action = `${device}/deviceActionResults/${accepted.body.id}`;
    const views = async () =>
      (await call(`${stack.api}/deviceManagement/auditEvents?deviceId=console-e2e`, { headers })).body.value.filter(
        (e: { eventType: string }) => e.eventType === 'passcodeViewed',
      ).length;
    const viewsBefore = await views();

    const withoutPasscodes = [
      (await call(`${action}?includePasscode=false`, { headers })).body,
      (await call(`${device}?includePasscode=false`, { headers })).body.lastResetPasscode,
      (await call(`${device}/deviceActionResults?includePasscode=false`, { headers })).body.value[0],
      (await call(`${stack.api}/deviceManagement/deviceActionResults?includePasscode=false`, { headers })).body
        .value[0],
    ];
    for (const view of withoutPasscodes) {
      expect(view.id).toBe(accepted.body.id);
      expect(view.actionState).toBe('done');
      expect('passcode' in view).toBe(false);
      expect(view.passcodeExpirationDateTime).toEqual(expect.any(String));
    }
    expect(await views()).toBe(viewsBefore);

    // The signed Location link takes it too (the console follows Location with it).
    const location = accepted.headers.get('location') ?? '';
    const viaLocation = await call(`${location}&includePasscode=false`, { headers });
    expect(viaLocation.status).toBe(200);
    expect('passcode' in viaLocation.body).toBe(false);

    const shown = await call(action, { headers });
    expect(shown.body.passcode).toMatch(/^\d{6}$/);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    expect(await views()).toBe(viewsBefore + 1);

    const bad = await call(`${action}?includePasscode=no`, { headers });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalidRequest');
  });

  it('serves the console page with its CSP, its config, and its assets gzipped and cached', async () => {
    const config = await call(`${stack.api}/console/config`);
    expect(config.status).toBe(200);
    expect(config.body).toEqual({
      authMode: 'entra',
      clientId: entra.settings.CONSOLE_CLIENT_ID,
      authority: `https://login.microsoftonline.com/${TENANT}`,
      scopes: [SCOPE],
    });

    for (const path of ['console', 'console/devices/console-e2e', 'console/actions']) {
      const page = await fetch(`${stack.api}/${path}`);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain(
        "connect-src 'self' https://login.microsoftonline.com",
      );
      expect(page.headers.get('cache-control')).toBe('no-cache');
    }
    const html = await (await fetch(`${stack.api}/console`)).text();
    const script = /src="\/api\/(console\/assets\/console-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    // node:http, because fetch would decompress the body.
    const raw = await rawGet(`${stack.api}/${script}`, { 'Accept-Encoding': 'gzip' });
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(raw.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.body).length).toBeGreaterThan(raw.body.length);
    const plain = await rawGet(`${stack.api}/${script}`, {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toEqual(gunzipSync(raw.body));

    const missing = await call(`${stack.api}/console/assets/nothing-here.js`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('notFound');
  });
});

function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
