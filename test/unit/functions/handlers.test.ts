import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpHandler } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiDocumentHandlers } from '../../../functions/apiDocuments';
import { cancelDeviceActionResult } from '../../../functions/cancelDeviceActionResult';
import { getDeviceActionResult } from '../../../functions/getDeviceActionResult';
import { getManagedDevice } from '../../../functions/getManagedDevice';
import { getMe } from '../../../functions/getMe';
import { getSupportMatrix } from '../../../functions/getSupportMatrix';
import { health } from '../../../functions/health';
import { listAuditEvents } from '../../../functions/listAuditEvents';
import { listAllDeviceActionResults, listDeviceActionResults } from '../../../functions/listDeviceActionResults';
import { listManagedDevices } from '../../../functions/listManagedDevices';
import { putManagedDevice } from '../../../functions/putManagedDevice';
import { resetPasscode } from '../../../functions/resetPasscode';
import { simulatorUnlock } from '../../../functions/simulatorUnlock';
import { PreconditionFailedError, TransientError } from '../../../lib/core/errors';
import { SUPPORT_MATRIX } from '../../../lib/core/supportMatrix';
import { errorResponse } from '../../../lib/http/responses';
import { ROUTES, type RouteSpec } from '../../../lib/http/routes';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { writeApiDocuments } from '../../../tools/apiDocuments/generate';
import { as, type CallInit, type CallResult, documentedCalls, ORIGIN, useHandlerHarness } from '../../support/handlers';
import { deviceFixture, throwOnCall } from '../../support/services';

// The functions take their dependencies from getDeps: the handler harness installs its own (test/support/handlers.ts).
vi.mock('../../../lib/deps', { spy: true });

// Every route's handler, called in-process as the host calls it (test/support/handlers.ts), against memory stores:
// statuses, headers and error bodies, each response also checked against the OpenAPI document. What needs a real host
// (routing, body limits of the host, queues, crash recovery) stays in test/e2e.

const harness = useHandlerHarness({ limits: { maxResetsPerDevicePerDay: 3 } });

const call = documentedCalls(harness);

const devicePath = (id: string) => `deviceManagement/managedDevices/${id}`;
const resetPath = (id: string) => `${devicePath(id)}/resetPasscode`;
const actionPath = (deviceId: string, actionId: string) => `${devicePath(deviceId)}/deviceActionResults/${actionId}`;

const iPhone = { deviceName: 'Sales iPhone 12', operatingSystem: 'iOS', osVersion: '16.4.1' };
const everyRole = as('Devices.Read', 'Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read');

/** Accepts a reset of `deviceId` (a registered device) and returns the 202. */
const accept = (deviceId = 'device-1', init: CallInit = {}) =>
  call(resetPasscode, ROUTES.resetPasscode, resetPath(deviceId), {
    json: { reason: 'ticket 4411' },
    ...init,
    headers: { ...as('Passcode.Reset'), ...init.headers },
  });

/** Runs the queue worker on every message so far: the actions become done (the scripted channel applies). */
async function drainQueue() {
  const { services, queue } = harness();
  for (const message of queue.messages.splice(0)) await applyPasscodeReset(services, message);
}

const expectError = (result: CallResult, status: number, code: string) => {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  expect(result.body.error.code).toBe(code);
  expect(result.body.error.innerError['request-id']).toBe('invocation-1');
  expect(result.headers.get('content-type')).toMatch(/^application\/json/);
};

describe('authentication and roles (every authenticated route)', () => {
  const protectedRoutes: [string, HttpHandler, RouteSpec, string][] = [
    ['PUT device', putManagedDevice, ROUTES.putManagedDevice, devicePath('device-1')],
    ['list devices', listManagedDevices, ROUTES.listManagedDevices, 'deviceManagement/managedDevices'],
    ['device overview', getManagedDevice, ROUTES.getManagedDevice, devicePath('device-1')],
    ['reset', resetPasscode, ROUTES.resetPasscode, resetPath('device-1')],
    ['status monitor', getDeviceActionResult, ROUTES.getDeviceActionResult, actionPath('device-1', 'a-1')],
    ['cancel', cancelDeviceActionResult, ROUTES.cancelDeviceActionResult, actionPath('device-1', 'a-1')],
    [
      'device actions',
      listDeviceActionResults,
      ROUTES.listDeviceActionResults,
      `${devicePath('device-1')}/deviceActionResults`,
    ],
    [
      'all actions',
      listAllDeviceActionResults,
      ROUTES.listAllDeviceActionResults,
      'deviceManagement/deviceActionResults',
    ],
    ['support matrix', getSupportMatrix, ROUTES.getSupportMatrix, 'deviceManagement/resetPasscode/supportMatrix'],
    ['audit events', listAuditEvents, ROUTES.listAuditEvents, 'deviceManagement/auditEvents'],
    ['simulator unlock', simulatorUnlock, ROUTES.simulatorUnlock, `simulator/managedDevices/device-1/unlock`],
  ];

  it.each(protectedRoutes)(
    '%s: 401 with a Bearer challenge without a caller, writing nothing',
    async (_n, handler, route, path) => {
      const result = await call(handler, route, path, { json: iPhone });
      expectError(result, 401, 'unauthorized');
      expect(result.headers.get('www-authenticate')).toBe('Bearer');
      expect(harness().actions.writes).toBe(0);
      expect(harness().devices.devices.size).toBe(0);
    },
  );

  it.each(protectedRoutes)('%s: 403 naming the role for a caller without it', async (_n, handler, route, path) => {
    const otherRoles = as('Devices.Read', 'Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read');
    const principal = JSON.parse(Buffer.from(otherRoles['X-MS-CLIENT-PRINCIPAL'] ?? '', 'base64').toString());
    principal.claims = principal.claims.filter((c: { typ: string; val: string }) => c.val !== route.role);
    const headers = { 'X-MS-CLIENT-PRINCIPAL': Buffer.from(JSON.stringify(principal)).toString('base64') };
    const result = await call(handler, route, path, { json: iPhone, headers });
    expectError(result, 403, 'forbidden');
    expect(result.body.error.message).toBe(`This operation needs the role ${route.role}.`);
  });
});

describe('Content-Type: every POST, PUT and PATCH must declare JSON, with a body or without one', () => {
  // A cross-site HTML form can POST with the browser's cookies, but only as a form or text/plain: an empty form post
  // must not start a reset where App Service Authentication's session cookie signs the caller in.
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  it.each<[string, HttpHandler, RouteSpec, string, CallInit]>([
    ['an empty reset without Content-Type', resetPasscode, ROUTES.resetPasscode, resetPath('device-1'), { body: '' }],
    [
      'an empty reset as a form',
      resetPasscode,
      ROUTES.resetPasscode,
      resetPath('device-1'),
      { body: '', headers: form },
    ],
    [
      'a reset as text/plain',
      resetPasscode,
      ROUTES.resetPasscode,
      resetPath('device-1'),
      { body: '{}', headers: { 'Content-Type': 'text/plain' } },
    ],
    ['an empty PUT without Content-Type', putManagedDevice, ROUTES.putManagedDevice, devicePath('d-9'), { body: '' }],
    [
      'an empty unlock as a form',
      simulatorUnlock,
      ROUTES.simulatorUnlock,
      'simulator/managedDevices/device-1/unlock',
      { body: '', headers: form },
    ],
  ])('%s: 400 unsupportedContentType, nothing written', async (_name, handler, route, path, init) => {
    harness().addDevice(deviceFixture());
    const writesBefore = harness().actions.writes;
    const result = await call(handler, route, path, { ...init, headers: { ...everyRole, ...init.headers } });
    expectError(result, 400, 'invalidRequest');
    expect(result.body.error.details).toEqual([
      expect.objectContaining({ code: 'unsupportedContentType', target: 'Content-Type' }),
    ]);
    expect(harness().actions.writes).toBe(writesBefore);
    expect(harness().queue.messages).toEqual([]);
  });

  it('accepts an empty reset that declares JSON (what the console, the connector and the e2e helpers send)', async () => {
    harness().addDevice(deviceFixture());
    const result = await call(resetPasscode, ROUTES.resetPasscode, resetPath('device-1'), {
      body: '',
      headers: { ...everyRole, 'Content-Type': 'application/json' },
    });
    expect(result.status, JSON.stringify(result.body)).toBe(202);
  });
});

describe('PUT managedDevices/{deviceId}', () => {
  it('creates (201), then replaces (200), a device, with its support and policy defaults', async () => {
    const created = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-1'), {
      json: iPhone,
      headers: as('Devices.Manage'),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'd-1',
      azureADJoined: false,
      passcodePolicy: { minLength: 6, characters: 'numeric', complex: false },
      resetPasscodeSupport: { supported: true },
    });
    const replaced = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-1'), {
      json: { ...iPhone, deviceName: 'Renamed' },
      headers: as('Devices.Manage'),
    });
    expect(replaced.status).toBe(200);
    expect(harness().devices.devices.get('d-1')?.deviceName).toBe('Renamed');
  });

  it('answers with the ETag, and replaces only the version named by If-Match (412 preconditionFailed otherwise)', async () => {
    const put = (etag?: string) =>
      call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-2'), {
        json: iPhone,
        headers: { ...as('Devices.Manage'), ...(etag && { 'If-Match': etag }) },
      });
    const created = await put();
    const etag = created.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const overview = await call(getManagedDevice, ROUTES.getManagedDevice, devicePath('d-2'), { headers: everyRole });
    expect(overview.headers.get('etag')).toBe(etag);
    const replaced = await put(etag);
    expect(replaced.status).toBe(200);
    expect(replaced.headers.get('etag')).not.toBe(etag);
    const stale = await put(etag);
    expectError(stale, 412, 'preconditionFailed');
    expect(stale.body.error.target).toBe('If-Match');
  });

  it('keeps a GUID device id in lower case: another case of it is the same device', async () => {
    const upper = '3F0C2B7E-5D1A-4C8E-9A77-1B2F3C4D5E6F';
    const created = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath(upper), {
      json: iPhone,
      headers: as('Devices.Manage'),
    });
    expect(created.body.id).toBe(upper.toLowerCase());
    const first = await accept(upper.toLowerCase());
    expect(first.status).toBe(202);
    expectError(await accept(upper), 409, 'actionInProgress');
    // Ids that are not GUIDs keep their exact spelling: device-1 exists, Device-1 does not.
    harness().addDevice(deviceFixture());
    expectError(await accept('Device-1'), 404, 'deviceNotFound');
    expect((await accept('device-1')).status).toBe(202);
  });

  it('refuses a bad device with one 400 naming every bad field, and writes nothing', async () => {
    const result = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('bad id!'), {
      json: { ...iPhone, osVersion: '17.x', passcodePolicy: { minLength: 2 }, color: 'red' },
      headers: as('Devices.Manage'),
    });
    expectError(result, 400, 'invalidRequest');
    const targets = result.body.error.details.map((d: { target: string }) => d.target);
    expect(targets).toEqual(expect.arrayContaining(['deviceId', 'osVersion', 'passcodePolicy.minLength', 'color']));
    expect(result.body.error.details.find((d: { target: string }) => d.target === 'color').code).toBe(
      'unknownProperty',
    );
    expect(harness().devices.devices.size).toBe(0);
  });

  it('refuses a body that is not JSON (400) or too large (413)', async () => {
    const form = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-1'), {
      body: 'deviceName=x',
      headers: { ...as('Devices.Manage'), 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expectError(form, 400, 'invalidRequest');
    expect(form.body.error.details).toEqual([
      expect.objectContaining({ code: 'unsupportedContentType', target: 'Content-Type' }),
    ]);
    const broken = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-1'), {
      body: '{"deviceName":',
      headers: { ...as('Devices.Manage'), 'Content-Type': 'application/json' },
    });
    expect(broken.body.error.details).toEqual([expect.objectContaining({ code: 'invalidJson', target: 'body' })]);
    const large = await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('d-1'), {
      json: { ...iPhone, deviceName: 'x'.repeat(70_000) },
      headers: as('Devices.Manage'),
    });
    expectError(large, 413, 'payloadTooLarge');
    expect(large.body.error.target).toBe('body');
    expect(harness().devices.devices.size).toBe(0);
  });
});

describe('GET managedDevices and managedDevices/{deviceId}', () => {
  it('pages devices with a signed @odata.nextLink on the request origin', async () => {
    for (const id of ['a', 'b', 'c']) harness().addDevice(deviceFixture({ id }));
    const first = await call(listManagedDevices, ROUTES.listManagedDevices, 'deviceManagement/managedDevices?$top=2', {
      headers: as('Devices.Read'),
    });
    expect(first.body.value.map((d: { id: string }) => d.id)).toEqual(['a', 'b']);
    const next = new URL(first.body['@odata.nextLink']);
    expect(next.origin).toBe(ORIGIN);
    const second = await call(
      listManagedDevices,
      ROUTES.listManagedDevices,
      `${next.pathname.replace('/api/', '')}${next.search}`,
      {
        headers: as('Devices.Read'),
      },
    );
    expect(second.body.value.map((d: { id: string }) => d.id)).toEqual(['c']);
    expect(second.body['@odata.nextLink']).toBeUndefined();
  });

  it('refuses bad query parameters in one 400, and a forged $skipToken', async () => {
    const bad = await call(
      listManagedDevices,
      ROUTES.listManagedDevices,
      'deviceManagement/managedDevices?$top=0&operatingSystem=Symbian&$orderby=x',
      {
        headers: as('Devices.Read'),
      },
    );
    expectError(bad, 400, 'invalidRequest');
    expect(bad.body.error.details.map((d: { target: string }) => d.target).sort()).toEqual([
      '$orderby',
      '$top',
      'operatingSystem',
    ]);
    const forged = await call(
      listManagedDevices,
      ROUTES.listManagedDevices,
      'deviceManagement/managedDevices?$skipToken=Zm9v',
      {
        headers: as('Devices.Read'),
      },
    );
    expectError(forged, 400, 'invalidRequest');
  });

  it('shows the overview with the latest reset, its passcode only with Passcode.Read and then not cached', async () => {
    harness().addDevice(deviceFixture());
    await accept();
    await drainQueue();
    const reader = await call(getManagedDevice, ROUTES.getManagedDevice, devicePath('device-1'), {
      headers: as('Devices.Read'),
    });
    expect(reader.body.lastResetPasscode.actionState).toBe('done');
    expect(reader.body.lastResetPasscode.passcode).toBeUndefined();
    expect(reader.headers.get('cache-control')).toBeNull();
    const admin = await call(getManagedDevice, ROUTES.getManagedDevice, devicePath('device-1'), {
      headers: as('Devices.Read', 'Passcode.Read'),
    });
    expect(admin.body.lastResetPasscode.passcode).toBe(harness().channel.received[0]?.passcode);
    expect(admin.headers.get('cache-control')).toBe('no-store');
  });

  it('leaves the passcode out with includePasscode=false, and records no view; any other value is a 400', async () => {
    harness().addDevice(deviceFixture());
    await accept();
    await drainQueue();
    const viewsBefore = harness().audit.events.filter((e) => e.eventType === 'passcodeViewed').length;
    const quiet = await call(
      getManagedDevice,
      ROUTES.getManagedDevice,
      `${devicePath('device-1')}?includePasscode=false`,
      {
        headers: as('Devices.Read', 'Passcode.Read'),
      },
    );
    expect(quiet.body.lastResetPasscode.passcode).toBeUndefined();
    expect(quiet.body.lastResetPasscode.passcodeExpirationDateTime).toEqual(expect.any(String));
    expect(harness().audit.events.filter((e) => e.eventType === 'passcodeViewed').length).toBe(viewsBefore);
    const bad = await call(getManagedDevice, ROUTES.getManagedDevice, `${devicePath('bad id')}?includePasscode=maybe`, {
      headers: as('Devices.Read'),
    });
    expectError(bad, 400, 'invalidRequest');
    expect(bad.body.error.details.map((d: { target: string }) => d.target)).toEqual(['deviceId', 'includePasscode']);
  });

  it('answers 404 deviceNotFound for an unknown device, and 400 for an id that cannot be one', async () => {
    const missing = await call(getManagedDevice, ROUTES.getManagedDevice, devicePath('nope'), {
      headers: as('Devices.Read'),
    });
    expectError(missing, 404, 'deviceNotFound');
    expect(missing.body.error).toMatchObject({ target: 'deviceId', message: "No managed device with id 'nope'." });
    const bad = await call(getManagedDevice, ROUTES.getManagedDevice, devicePath('..'), {
      headers: as('Devices.Read'),
    });
    expectError(bad, 400, 'invalidRequest');
    expect(bad.body.error.target).toBe('deviceId');
  });
});

describe('POST managedDevices/{deviceId}/resetPasscode', () => {
  it('accepts with 202, Location and Operation-Location (signed, on the request origin) and Retry-After, and enqueues', async () => {
    harness().addDevice(deviceFixture());
    const accepted = await accept();
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ deviceId: 'device-1', actionState: 'pending', reason: 'ticket 4411' });
    const location = accepted.headers.get('location') ?? '';
    expect(location).toMatch(
      new RegExp(`^${ORIGIN}/api/${actionPath('device-1', accepted.body.id)}\\?sig=eyJ[\\w-]+\\.[\\w-]+\\.[\\w-]{43}$`),
    );
    expect(accepted.headers.get('operation-location')).toBe(location);
    expect(accepted.headers.get('retry-after')).toBe('2');
    expect(harness().queue.messages).toEqual([{ v: 1, actionId: accepted.body.id, deviceId: 'device-1' }]);
  });

  it('takes an empty body declared JSON as no reason', async () => {
    harness().addDevice(deviceFixture());
    const accepted = await accept('device-1', {
      json: undefined,
      body: '',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body.reason).toBeUndefined();
  });

  it('answers a repeat with the same Idempotency-Key with the original action, and 422 for another body', async () => {
    harness().addDevice(deviceFixture());
    const headers = { 'Idempotency-Key': 'ticket-4411' };
    const first = await accept('device-1', { headers });
    const repeat = await accept('device-1', { headers });
    expect(repeat.status).toBe(202);
    expect(repeat.body.id).toBe(first.body.id);
    expect(harness().queue.messages).toHaveLength(1);
    const other = await accept('device-1', { headers, json: { reason: 'another' } });
    expectError(other, 422, 'idempotencyKeyReused');
    expect(other.body.error.target).toBe('Idempotency-Key');
  });

  it('answers 409 actionInProgress pointing (unsigned) at the action in flight', async () => {
    harness().addDevice(deviceFixture());
    const first = await accept();
    const second = await accept();
    expectError(second, 409, 'actionInProgress');
    expect(second.headers.get('location')).toBe(`${ORIGIN}/api/${actionPath('device-1', first.body.id)}`);
  });

  it('answers 404 deviceNotFound and 422 platformNotSupported (the support rule as the message)', async () => {
    expectError(await accept('nope'), 404, 'deviceNotFound');
    harness().addDevice(deviceFixture({ id: 'mac', operatingSystem: 'macOS', osVersion: '14.1' }));
    const mac = await accept('mac');
    expectError(mac, 422, 'platformNotSupported');
    expect(mac.body.error.message).toBe(SUPPORT_MATRIX.rules.find((r) => r.operatingSystem === 'macOS')?.note);
    expect(harness().queue.messages).toEqual([]);
  });

  it('answers 429 tooManyRequests with Retry-After once the daily limit is reached', async () => {
    harness().addDevice(deviceFixture());
    for (let i = 0; i < 3; i++) {
      expect((await accept()).status).toBe(202);
      await drainQueue();
      harness().clock.advance({ minutes: 1 });
    }
    const refused = await accept();
    expectError(refused, 429, 'tooManyRequests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers one 400 naming a bad path id, a bad Idempotency-Key and a bad body together, writing nothing', async () => {
    const result = await call(resetPasscode, ROUTES.resetPasscode, resetPath('bad%20id'), {
      json: { reason: 'x'.repeat(501), force: true },
      headers: { ...as('Passcode.Reset'), 'Idempotency-Key': 'k\u00e9y' },
    });
    expectError(result, 400, 'invalidRequest');
    const targets = result.body.error.details.map((d: { target: string }) => d.target);
    expect(targets).toEqual(['deviceId', 'Idempotency-Key', 'reason', 'force']);
    expect(result.body.error.message).toBe('The request is not valid: deviceId, Idempotency-Key, reason, force.');
    expect(harness().actions.writes).toBe(0);
    expect(harness().queue.messages).toEqual([]);
  });

  it('answers 503 serviceUnavailable with Retry-After when storage is briefly unavailable', async () => {
    harness().addDevice(deviceFixture());
    throwOnCall(harness().actions, 'resetContext', 1, new TransientError('storage is unavailable', 7));
    const result = await accept();
    expectError(result, 503, 'serviceUnavailable');
    expect(result.headers.get('retry-after')).toBe('7');
    expect(JSON.stringify(result.body)).not.toContain('storage is unavailable');
  });

  it('answers 503 with Retry-After 1, not 500, when the device keeps changing under the request', async () => {
    harness().addDevice(deviceFixture());
    let races = 0;
    harness().actions.create = async () => {
      races++;
      throw new PreconditionFailedError('the in-flight guard was released meanwhile');
    };
    const result = await accept();
    expectError(result, 503, 'serviceUnavailable');
    expect(result.headers.get('retry-after')).toBe('1');
    // Each pass read everything again before giving up.
    expect(races).toBe(3);
    expect(harness().queue.messages).toEqual([]);
  });

  it('turns any storage race that reaches a handler into 503 with Retry-After 1', () => {
    const response = errorResponse(new PreconditionFailedError('guard released'), 'request-1');
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '1' });
    expect(response.jsonBody).toMatchObject({ error: { code: 'serviceUnavailable' } });
  });
});

describe('the status monitor, cancel and the action lists', () => {
  it('answers 202 with Location while pending and 200 once done; a signed link works without credentials and never shows the passcode', async () => {
    harness().addDevice(deviceFixture());
    const accepted = await accept();
    const location = new URL(accepted.headers.get('location') ?? '');
    const monitorPath = `${location.pathname.replace('/api/', '')}${location.search}`;
    const pending = await call(getDeviceActionResult, ROUTES.getDeviceActionResult, monitorPath);
    expect(pending.status).toBe(202);
    expect(pending.headers.get('retry-after')).toBe('2');
    expect(pending.headers.get('location')).toContain('sig=');
    await drainQueue();
    const byLink = await call(getDeviceActionResult, ROUTES.getDeviceActionResult, monitorPath);
    expect(byLink.status).toBe(200);
    expect(byLink.body.actionState).toBe('done');
    expect(byLink.body.passcode).toBeUndefined();
    const byAdmin = await call(
      getDeviceActionResult,
      ROUTES.getDeviceActionResult,
      actionPath('device-1', accepted.body.id),
      {
        headers: as('Devices.Read', 'Passcode.Read'),
      },
    );
    expect(byAdmin.body.passcode).toMatch(/^\d{6}$/);
    expect(byAdmin.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a signed link for another action (401) and answers 404 actionNotFound to a reader', async () => {
    harness().addDevice(deviceFixture());
    const accepted = await accept();
    const sig = new URL(accepted.headers.get('location') ?? '').searchParams.get('sig');
    const other = await call(
      getDeviceActionResult,
      ROUTES.getDeviceActionResult,
      `${actionPath('device-1', 'other')}?sig=${sig}`,
    );
    expectError(other, 401, 'unauthorized');
    const missing = await call(getDeviceActionResult, ROUTES.getDeviceActionResult, actionPath('device-1', 'other'), {
      headers: as('Devices.Read'),
    });
    expectError(missing, 404, 'actionNotFound');
    expect(missing.body.error.target).toBe('actionId');
  });

  it('cancels a pending action (200), then refuses with 409 actionNotCancelable; 404 for an unknown one', async () => {
    harness().addDevice(deviceFixture());
    const accepted = await accept();
    const path = actionPath('device-1', accepted.body.id);
    const canceled = await call(cancelDeviceActionResult, ROUTES.cancelDeviceActionResult, path, {
      headers: as('Passcode.Reset'),
    });
    expect(canceled.status).toBe(200);
    expect(canceled.body.actionState).toBe('canceled');
    const again = await call(cancelDeviceActionResult, ROUTES.cancelDeviceActionResult, path, {
      headers: as('Passcode.Reset'),
    });
    expectError(again, 409, 'actionNotCancelable');
    expect(again.body.error.message).toContain('canceled');
    const missing = await call(
      cancelDeviceActionResult,
      ROUTES.cancelDeviceActionResult,
      actionPath('device-1', 'none'),
      {
        headers: as('Passcode.Reset'),
      },
    );
    expectError(missing, 404, 'actionNotFound');
  });

  it("lists a device's actions and every device's, filtered by state, not cached when a passcode shows", async () => {
    harness().addDevice(deviceFixture());
    harness().addDevice(deviceFixture({ id: 'device-2' }));
    await accept('device-1');
    await drainQueue();
    await accept('device-2');
    const mine = await call(
      listDeviceActionResults,
      ROUTES.listDeviceActionResults,
      `${devicePath('device-1')}/deviceActionResults`,
      {
        headers: as('Devices.Read', 'Passcode.Read'),
      },
    );
    expect(mine.body.value.map((a: { deviceId: string }) => a.deviceId)).toEqual(['device-1']);
    expect(mine.headers.get('cache-control')).toBe('no-store');
    const pending = await call(
      listAllDeviceActionResults,
      ROUTES.listAllDeviceActionResults,
      'deviceManagement/deviceActionResults?actionState=pending',
      {
        headers: as('Devices.Read'),
      },
    );
    expect(pending.body.value.map((a: { deviceId: string }) => a.deviceId)).toEqual(['device-2']);
    const bad = await call(
      listAllDeviceActionResults,
      ROUTES.listAllDeviceActionResults,
      'deviceManagement/deviceActionResults?actionState=lost',
      {
        headers: as('Devices.Read'),
      },
    );
    expectError(bad, 400, 'invalidRequest');
    expect(bad.body.error.target).toBe('actionState');
  });
});

describe('GET me', () => {
  it("answers the caller and this app's roles they hold, never cached", async () => {
    const me = await call(getMe, ROUTES.getMe, 'me', { headers: as('Passcode.Read', 'Devices.Read') });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ id: 'caller-1', name: 'ana@contoso.com', roles: ['Devices.Read', 'Passcode.Read'] });
    expect(me.headers.get('cache-control')).toBe('no-store');
  });

  it('needs a caller (401) but no role (never 403)', async () => {
    expectError(await call(getMe, ROUTES.getMe, 'me'), 401, 'unauthorized');
    expect((await call(getMe, ROUTES.getMe, 'me', { headers: as() })).status).toBe(200);
  });
});

describe('support matrix, audit events, simulator, health', () => {
  it('serves the support matrix as data', async () => {
    const result = await call(
      getSupportMatrix,
      ROUTES.getSupportMatrix,
      'deviceManagement/resetPasscode/supportMatrix',
      {
        headers: as('Devices.Read'),
      },
    );
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ channel: 'simulated', ...JSON.parse(JSON.stringify(SUPPORT_MATRIX)) });
  });

  it('lists audit events of a device newest first, and refuses a bad time range parameter', async () => {
    await call(putManagedDevice, ROUTES.putManagedDevice, devicePath('device-1'), { json: iPhone, headers: everyRole });
    harness().clock.advance({ minutes: 1 });
    await accept();
    const events = await call(
      listAuditEvents,
      ROUTES.listAuditEvents,
      'deviceManagement/auditEvents?deviceId=device-1',
      {
        headers: as('Audit.Read'),
      },
    );
    expect(events.body.value.map((e: { eventType: string }) => e.eventType)).toEqual([
      'resetRequested',
      'deviceCreated',
    ]);
    const bad = await call(listAuditEvents, ROUTES.listAuditEvents, 'deviceManagement/auditEvents?from=yesterday', {
      headers: as('Audit.Read'),
    });
    expectError(bad, 400, 'invalidRequest');
  });

  it('answers 404 notFound for the simulator when the app has no simulated channel', async () => {
    const result = await call(simulatorUnlock, ROUTES.simulatorUnlock, 'simulator/managedDevices/device-1/unlock', {
      json: { passcode: '123456' },
      headers: as('Passcode.Read'),
    });
    expectError(result, 404, 'notFound');
  });

  it('reports health 200, and 503 with Retry-After once storage stops answering, never cached by clients', async () => {
    const healthy = await call(health, ROUTES.health, 'health');
    expect(healthy).toMatchObject({ status: 200, body: { status: 'healthy', checks: { storage: 'ok' } } });
    expect(healthy.headers.get('cache-control')).toBe('no-store');
    throwOnCall(harness().devices, 'get', 1, new TransientError('down'));
    // The app reuses a probe's result for a few seconds (the route is anonymous): the next one is after that.
    harness().clock.advance({ seconds: 6 });
    const unhealthy = await call(health, ROUTES.health, 'health');
    expect(unhealthy).toMatchObject({ status: 503, body: { status: 'unhealthy', checks: { storage: 'unreachable' } } });
    expect(unhealthy.headers.get('retry-after')).toBe('5');
  });
});

describe('GET openapi.json and swagger.json', () => {
  // The documents are generated once for both origins: generating them is CPU-bound, slow on a loaded machine.
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'api-documents-'));
    await writeApiDocuments(dir);
  }, 30_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serve the built documents, anonymously, pointed at the origin the request reached', async () => {
    const handlers = apiDocumentHandlers(dir);
    const openApiDocument = await call(handlers.openApi, ROUTES.openApi, 'openapi.json');
    expect(openApiDocument.status).toBe(200);
    expect(openApiDocument.body.servers).toEqual([{ url: `${ORIGIN}/api` }]);
    const swagger = await call(handlers.swagger, ROUTES.swagger, 'swagger.json');
    expect(swagger.body).toMatchObject({ swagger: '2.0', host: 'localhost:7071', schemes: ['http'], basePath: '/api' });
  });

  describe('behind PUBLIC_BASE_URL', () => {
    const withPublicUrl = useHandlerHarness({
      settings: { PUBLIC_BASE_URL: 'https://contoso-reset.azurewebsites.net' },
    });

    it('points the documents at PUBLIC_BASE_URL, not at the Host the request named', async () => {
      const handlers = apiDocumentHandlers(dir);
      const openApiDocument = await withPublicUrl().call(handlers.openApi, ROUTES.openApi, 'openapi.json');
      expect(openApiDocument.body.servers).toEqual([{ url: 'https://contoso-reset.azurewebsites.net/api' }]);
      const swagger = await withPublicUrl().call(handlers.swagger, ROUTES.swagger, 'swagger.json');
      expect(swagger.body).toMatchObject({ host: 'contoso-reset.azurewebsites.net', schemes: ['https'] });
    });
  });
});
