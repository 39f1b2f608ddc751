import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import { ROUTES } from '../../lib/http/routes';
import { ALL_ROLES, type Role } from '../../lib/security/caller';
import { startTestIssuer, type TestIssuer } from './entraTokens';
import { call, type JsonResponse, pollLikeLogicApps, type Stack, startStack } from './stack';

describe('security end to end (AUTH_MODE=entra, JWKS on loopback)', () => {
  let stack: Stack;
  let issuer: TestIssuer;
  const oldKey = `old:${randomBytes(32).toString('base64')}`;
  const newKey = `new:${randomBytes(32).toString('base64')}`;
  const as = (roles: readonly Role[], name?: string) => issuer.as(roles, name);

  beforeAll(async () => {
    issuer = await startTestIssuer();
    stack = await startStack({ ...issuer.settings, PASSCODE_ENCRYPTION_KEYS: oldKey });
  });
  afterAll(async () => {
    await stack?.stop();
    await issuer?.stop();
  });

  const url = (route: string) =>
    `${stack.api}/${route.replace('{deviceId}', 'sec-dev').replace('{actionId}', '0000000000000-00000000000000000000')}`;
  const admin = () => as(ALL_ROLES);

  async function registerDevice(id: string) {
    const put = await call(`${stack.api}/deviceManagement/managedDevices/${id}`, {
      method: 'PUT',
      headers: await admin(),
      json: { deviceName: 'Sec iPhone', operatingSystem: 'iOS', osVersion: '17.5' },
    });
    expect([200, 201]).toContain(put.status);
  }

  async function resetToDone(
    id: string,
    headers: Record<string, string>,
  ): Promise<{ accepted: JsonResponse; final: JsonResponse }> {
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${id}/resetPasscode`, {
      method: 'POST',
      headers,
      json: { reason: 'security e2e' },
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted, { headers });
    return { accepted, final };
  }

  it('rejects a request without a token with 401 and WWW-Authenticate: Bearer', async () => {
    const response = await call(`${stack.api}/deviceManagement/managedDevices`);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('unauthorized');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('ignores a forged x-ms-client-principal in entra mode', async () => {
    const principal = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: ALL_ROLES.map((r) => ({ typ: 'roles', val: r })) }),
    ).toString('base64');
    const response = await call(`${stack.api}/deviceManagement/managedDevices`, {
      headers: { 'x-ms-client-principal': principal, 'x-ms-client-principal-name': 'mallory' },
    });
    expect(response.status).toBe(401);
  });

  it('answers 403 on every endpoint for a caller without its role', async () => {
    await registerDevice('sec-dev');
    const routes = Object.values(ROUTES).filter((r) => 'role' in r);
    for (const route of routes) {
      const required = (route as { role: Role }).role;
      const headers = await as(ALL_ROLES.filter((r) => r !== required));
      const response = await call(url(route.route), {
        method: route.method,
        headers,
        ...(route.method === 'PUT' || route.method === 'POST' ? { json: {} } : {}),
      });
      expect(response.status, `${route.method} ${route.route}`).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
    }
  });

  it('hides the passcode without Passcode.Read everywhere, and the signed status link never shows it', async () => {
    const { accepted, final } = await resetToDone('sec-dev', await admin());
    expect(final.body.actionState).toBe('done');
    expect(final.body.passcode).toMatch(/^\d{6}$/);

    const reader = await as(['Devices.Read']);
    const actionUrl = `${stack.api}/deviceManagement/managedDevices/sec-dev/deviceActionResults/${accepted.body.id}`;
    const views = [
      (await call(actionUrl, { headers: reader })).body,
      (await call(`${stack.api}/deviceManagement/managedDevices/sec-dev`, { headers: reader })).body.lastResetPasscode,
      (await call(`${stack.api}/deviceManagement/managedDevices/sec-dev/deviceActionResults`, { headers: reader })).body
        .value[0],
      (await call(`${stack.api}/deviceManagement/deviceActionResults`, { headers: reader })).body.value.find(
        (a: { id: string }) => a.id === accepted.body.id,
      ),
    ];
    for (const view of views) {
      expect(view.actionState).toBe('done');
      expect('passcode' in view).toBe(false);
    }

    const location = accepted.headers.get('location') ?? '';
    const viaLink = await call(location);
    expect(viaLink.status).toBe(200);
    expect(viaLink.body.actionState).toBe('done');
    expect('passcode' in viaLink.body).toBe(false);

    // The link is bound to its action: moved to another action id it is refused.
    const other = location.replace(accepted.body.id, '0000000000000-00000000000000000000');
    expect((await call(other)).status).toBe(401);
    // The same signature over claims whose expiry is pushed back.
    const [header, claims, signature] = new URL(location).searchParams.get('sig')?.split('.') ?? [];
    const extended = { ...JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()), exp: 9_999_999_999 };
    const tamperedSig = `${header}.${Buffer.from(JSON.stringify(extended)).toString('base64url')}.${signature}`;
    const tampered = location.replace(/sig=[^&]+/, `sig=${tamperedSig}`);
    expect(tampered).not.toBe(location);
    expect((await call(tampered)).status).toBe(401);
  });

  it('records audit events for requests and passcode views with the caller', async () => {
    await registerDevice('sec-audit');
    const requester = await as(ALL_ROLES, 'auditor-ana@contoso.com');
    await resetToDone('sec-audit', requester);
    const audit = await call(`${stack.api}/deviceManagement/auditEvents?deviceId=sec-audit`, {
      headers: await admin(),
    });
    expect(audit.status).toBe(200);
    const types = audit.body.value.map((e: { eventType: string }) => e.eventType);
    expect(types).toContain('resetRequested');
    expect(types).toContain('passcodeViewed');
    const requested = audit.body.value.find((e: { eventType: string }) => e.eventType === 'resetRequested');
    expect(requested).toMatchObject({
      callerName: 'auditor-ana@contoso.com',
      outcome: 'success',
      reason: 'security e2e',
    });
  });

  it('keeps showing a passcode sealed under the old key after a new key becomes current (rotation)', async () => {
    await registerDevice('sec-rotate');
    const { accepted, final } = await resetToDone('sec-rotate', await admin());
    const before = final.body.passcode;
    expect(before).toMatch(/^\d{6}$/);
    await stack.host.stop();
    const { spawnHost } = await import('../../tools/host/spawnHost');
    stack.host = await spawnHost({
      appDir: process.cwd(),
      env: { ...stack.env, PASSCODE_ENCRYPTION_KEYS: `${newKey},${oldKey}` },
      port: 0,
    });
    stack.api = `${stack.host.url}/api`;
    const again = await call(
      `${stack.api}/deviceManagement/managedDevices/sec-rotate/deviceActionResults/${accepted.body.id}`,
      { headers: await admin() },
    );
    expect(again.body.passcode).toBe(before);
    const sealedKeys = new Set<string>();
    const table = TableClient.fromConnectionString(stack.azurite.connectionString, STORAGE_NAMES.tables.actions, {
      allowInsecureConnection: true,
    });
    const { final: next } = await resetToDone('sec-rotate', await admin());
    expect(next.body.passcode).toMatch(/^\d{6}$/);
    for await (const e of table.listEntities<{ passcodeKeyId?: string }>()) {
      if (e.partitionKey === 'sec-rotate' && e.passcodeKeyId) sealedKeys.add(e.passcodeKeyId);
    }
    expect(sealedKeys).toEqual(new Set(['old', 'new']));
  });

  it('refuses the 11th reset of a device within 24 hours with 429 and Retry-After', async () => {
    await registerDevice('sec-limit');
    const headers = await admin();
    for (let i = 0; i < 10; i++) await resetToDone('sec-limit', headers);
    const eleventh = await call(`${stack.api}/deviceManagement/managedDevices/sec-limit/resetPasscode`, {
      method: 'POST',
      headers,
    });
    expect(eleventh.status).toBe(429);
    expect(eleventh.body.error.code).toBe('tooManyRequests');
    expect(Number(eleventh.headers.get('retry-after'))).toBeGreaterThan(24 * 3600 - 120);
  });

  it('never writes a passcode to a log line, a table or a queue message', async () => {
    await registerDevice('sec-secret');
    const { final } = await resetToDone('sec-secret', await admin());
    const passcode: string = final.body.passcode;
    expect(passcode).toMatch(/^\d{6}$/);
    // Every log line of the host (the app's console output included).
    expect(stack.host.logs()).not.toContain(passcode);
    // Every entity of every table.
    for (const name of Object.values(STORAGE_NAMES.tables)) {
      const table = TableClient.fromConnectionString(stack.azurite.connectionString, name, {
        allowInsecureConnection: true,
      });
      for await (const entity of table.listEntities()) {
        expect(JSON.stringify(entity), `${name} ${entity.partitionKey}/${entity.rowKey}`).not.toContain(passcode);
      }
    }
    // Every message left on the queues, poison included, as stored and base64-decoded.
    for (const name of [STORAGE_NAMES.queue, STORAGE_NAMES.poisonQueue]) {
      const queue = new QueueClient(stack.azurite.connectionString, name);
      const peeked = await queue.peekMessages({ numberOfMessages: 32 });
      for (const m of peeked.peekedMessageItems) {
        expect(m.messageText).not.toContain(passcode);
        expect(Buffer.from(m.messageText, 'base64').toString()).not.toContain(passcode);
      }
    }
  });
});
