import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleTokenServices, startGoogleTokenServices } from '../support/androidManagement/googleTokens';
import { createPushSigner, type PushSigner } from '../support/androidManagement/pubsubPush';
import {
  type AndroidManagementStandIn,
  type DeviceSpec,
  startAndroidManagementStandIn,
} from '../support/androidManagement/standIn';
import { type ManagedIdentityEndpoint, startManagedIdentityEndpoint } from '../support/managedIdentityEndpoint';
import { call, type Stack, startStack } from './stack';

// DEVICE_CHANNEL=androidManagement end to end through the local host: the app (Google's real client libraries in
// dist/androidManagement.js) against stand-ins of the Android Management API, Google's token services, Pub/Sub push and
// App Service's managed identity endpoint (test/support). What the app sends is checked against Google's discovery
// document there.

const PUSH_AUDIENCE = 'https://reset.contoso.test/api/androidManagement/notifications';
const PUSH_ACCOUNT = 'amapi-push@contoso-project.iam.gserviceaccount.com';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let sequence = 0;
const newDeviceId = () => `e2e${Date.now().toString(36)}${++sequence}`;

/** Waits until `read` returns something, polling every 250 ms. */
async function eventually<T>(read: () => Promise<T | undefined>, seconds: number, what: string): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Harness {
  stack: Stack;
  amapi: AndroidManagementStandIn;
  tokens: GoogleTokenServices;
}

/** Registers devices in the stand-in's enterprise and syncs them into the app's inventory. */
async function enroll(h: Harness, devices: Omit<DeviceSpec, 'id'>[]): Promise<string[]> {
  const ids = devices.map((device) => {
    const id = newDeviceId();
    h.amapi.addDevice({ id, ...device });
    return id;
  });
  const sync = await call(`${h.stack.api}/deviceManagement/androidManagement/sync`, { method: 'POST' });
  expect(sync.status).toBe(202);
  for (const id of ids) {
    await eventually(
      async () => {
        const device = await call(`${h.stack.api}/deviceManagement/managedDevices/${id}`);
        return device.status === 200 ? device.body : undefined;
      },
      30,
      `the sync of ${id}`,
    );
  }
  return ids;
}

async function reset(h: Harness, deviceId: string) {
  const accepted = await call(`${h.stack.api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
    method: 'POST',
  });
  expect(accepted.status).toBe(202);
  return accepted.body.id as string;
}

const actionUrl = (h: Harness, deviceId: string, actionId: string) =>
  `${h.stack.api}/deviceManagement/managedDevices/${deviceId}/deviceActionResults/${actionId}`;

/** Polls the status monitor until the action is terminal. */
async function finished(h: Harness, deviceId: string, actionId: string, seconds = 60) {
  return eventually(
    async () => {
      const status = await call(actionUrl(h, deviceId, actionId));
      return status.status === 200 ? status.body : undefined;
    },
    seconds,
    `the end of ${actionId}`,
  );
}

const ONLINE_PIXEL: Omit<DeviceSpec, 'id'> = { managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 };

describe('Android Management channel: service account key, Pub/Sub push', () => {
  const h = {} as Harness;
  let signer: PushSigner;

  beforeAll(async () => {
    h.tokens = await startGoogleTokenServices();
    signer = await createPushSigner({ audience: PUSH_AUDIENCE, email: PUSH_ACCOUNT });
    const port = await freePort();
    h.amapi = await startAndroidManagementStandIn({
      tokens: h.tokens,
      executionDelayMs: 300,
      push: {
        url: `http://127.0.0.1:${port}/api/androidManagement/notifications`,
        audience: PUSH_AUDIENCE,
        signer,
        initialBackoffMs: 200,
      },
    });
    h.stack = await startStack(
      {
        DEVICE_CHANNEL: 'androidManagement',
        ANDROID_MANAGEMENT_ENTERPRISE: h.amapi.enterpriseName,
        ANDROID_MANAGEMENT_CREDENTIALS: JSON.stringify(h.tokens.serviceAccountKey()),
        ANDROID_MANAGEMENT_ROOT_URL: h.amapi.rootUrl,
        ANDROID_MANAGEMENT_PUSH_AUDIENCE: PUSH_AUDIENCE,
        ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: PUSH_ACCOUNT,
        ANDROID_MANAGEMENT_PUSH_JWKS_URL: signer.jwksUrl,
      },
      { port },
    );
  });

  afterAll(async () => {
    await h.stack?.stop();
    await h.amapi?.stop();
    await signer?.stop();
    await h.tokens?.stop();
  });

  it('syncs the enterprise: fully managed and work-profile devices, policies, states; a device that leaves is deleted', async () => {
    const [pixel, profile, old, disabled] = await enroll(h, [
      {
        ...ONLINE_PIXEL,
        appliedPasswordPolicies: [{ passwordQuality: 'NUMERIC_COMPLEX', passwordMinimumLength: 8 }],
        model: 'Pixel 8',
        brand: 'Google',
      },
      { managementMode: 'PROFILE_OWNER', androidVersion: '13', apiLevel: 33 },
      { managementMode: 'DEVICE_OWNER', androidVersion: '5.1', apiLevel: 22 },
      { ...ONLINE_PIXEL, state: 'DISABLED' },
    ]);
    const get = async (id?: string) => (await call(`${h.stack.api}/deviceManagement/managedDevices/${id}`)).body;
    expect(await get(pixel)).toMatchObject({
      deviceName: 'Google Pixel 8',
      operatingSystem: 'Android',
      osVersion: '14',
      passcodePolicy: { minLength: 8, characters: 'numeric', complex: true },
      androidManagement: { managementMode: 'fullyManaged', state: 'active', apiLevel: 34 },
      resetPasscodeSupport: { supported: true },
    });
    expect(await get(profile)).toMatchObject({
      operatingSystem: 'AndroidForWork',
      androidManagement: { managementMode: 'workProfile' },
      resetPasscodeSupport: { supported: true },
    });
    expect((await get(old)).resetPasscodeSupport).toMatchObject({ supported: false, code: 'platformNotSupported' });
    expect((await get(disabled)).resetPasscodeSupport).toMatchObject({ supported: false, code: 'deviceNotActive' });
    const refused = await call(`${h.stack.api}/deviceManagement/managedDevices/${disabled}/resetPasscode`, {
      method: 'POST',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('deviceNotActive');

    h.amapi.removeDevice(profile as string);
    await call(`${h.stack.api}/deviceManagement/androidManagement/sync`, { method: 'POST' });
    const gone = await eventually(
      async () => {
        const device = await get(profile);
        return device.androidManagement.state === 'deleted' ? device : undefined;
      },
      30,
      'the deletion',
    );
    expect(gone.resetPasscodeSupport).toMatchObject({ supported: false, code: 'deviceNotActive' });
  });

  it('a reset finishes by push, before the first scheduled check; the admin sees what the device got', async () => {
    const [deviceId] = await enroll(h, [ONLINE_PIXEL]);
    const actionId = await reset(h, deviceId as string);
    const started = Date.now();
    const done = await finished(h, deviceId as string, actionId, 20);
    // The first check comes 7.5-15 s after the command: finishing sooner means the push did it.
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(done).toMatchObject({ actionState: 'done', passcode: expect.stringMatching(/^\d{6}$/) });
    expect(done.passcode).toBe(h.amapi.passwordOf(deviceId as string));
    const [command] = h.amapi.commands(deviceId as string);
    const gets = h.amapi.requests.filter(
      (r) => r.method === 'operations.get' && r.path.endsWith(command?.operationName ?? '-'),
    );
    expect(gets).toEqual([]);
    // The push's answer (its acknowledgement) goes out after the write that finished the action: wait for it.
    await expect.poll(() => h.amapi.pushes.some((p) => p.acknowledged)).toBe(true);
  });

  it('a reset finishes by polling when no push arrives (the scheduled check)', async () => {
    const [deviceId] = await enroll(h, [{ ...ONLINE_PIXEL, push: false }]);
    const actionId = await reset(h, deviceId as string);
    const done = await finished(h, deviceId as string, actionId, 40);
    expect(done.passcode).toBe(h.amapi.passwordOf(deviceId as string));
    expect(h.amapi.requests.some((r) => r.method === 'operations.get' && r.status === 200)).toBe(true);
  });

  it('MANAGEMENT_MODE ends notSupported, INVALID_VALUE failed (passcodeRejected); no passcode is shown', async () => {
    const [unsupported, refusing] = await enroll(h, [ONLINE_PIXEL, ONLINE_PIXEL]);
    h.amapi.scriptCommandError(unsupported as string, 'MANAGEMENT_MODE');
    h.amapi.scriptCommandError(refusing as string, 'INVALID_VALUE');
    const [a, b] = await Promise.all([reset(h, unsupported as string), reset(h, refusing as string)]);
    const [first, second] = await Promise.all([
      finished(h, unsupported as string, a),
      finished(h, refusing as string, b),
    ]);
    expect(first).toMatchObject({ actionState: 'notSupported', error: { code: 'managementModeNotSupported' } });
    expect(second).toMatchObject({ actionState: 'failed', error: { code: 'passcodeRejected' } });
    expect(first.passcode).toBeUndefined();
    expect(second.passcode).toBeUndefined();
  });

  it('429 on issueCommand, then success: sent again after Retry-After, with the same passcode', async () => {
    const [deviceId] = await enroll(h, [ONLINE_PIXEL]);
    h.amapi.failNext({ method: 'issueCommand', status: 429, retryAfterSeconds: 1 });
    const actionId = await reset(h, deviceId as string);
    const done = await finished(h, deviceId as string, actionId);
    expect(done.actionState).toBe('done');
    expect(h.amapi.requests.filter((r) => r.method === 'issueCommand' && r.status === 429).length).toBeGreaterThan(0);
    expect(done.passcode).toBe(h.amapi.passwordOf(deviceId as string));
  });

  it('a lost issueCommand response: the command is sent again with the same passcode, and the action ends done', async () => {
    const [deviceId] = await enroll(h, [ONLINE_PIXEL]);
    h.amapi.dropNextResponse('issueCommand');
    const actionId = await reset(h, deviceId as string);
    const done = await finished(h, deviceId as string, actionId);
    const commands = h.amapi.commands(deviceId as string);
    expect(commands).toHaveLength(2);
    expect(new Set(commands.map((c) => c.newPassword)).size).toBe(1);
    expect(done.passcode).toBe(commands[0]?.newPassword);
  });

  it('an offline device: the action waits (shown), and cancel goes through operations.cancel', async () => {
    const [deviceId] = await enroll(h, [{ ...ONLINE_PIXEL, online: false }]);
    const actionId = await reset(h, deviceId as string);
    const waiting = await eventually(
      async () => {
        const status = await call(actionUrl(h, deviceId as string, actionId));
        return status.body.deviceCommand ? status : undefined;
      },
      20,
      'the command to wait',
    );
    expect(waiting.status).toBe(202);
    expect(waiting.body).toMatchObject({ actionState: 'active', deviceCommand: { state: 'waitingForDevice' } });
    const canceled = await call(actionUrl(h, deviceId as string, actionId), { method: 'DELETE' });
    expect(canceled.status).toBe(200);
    expect(canceled.body.actionState).toBe('canceled');
    expect(h.amapi.count('operations.cancel')).toBeGreaterThan(0);
    h.amapi.setOnline(deviceId as string, true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.amapi.passwordOf(deviceId as string)).toBeUndefined();
  });

  it("refuses a push without Google's token for our audience and account (401/403), and changes nothing", async () => {
    const url = `${h.stack.api}/androidManagement/notifications`;
    const body = {
      message: { attributes: { notificationType: 'COMMAND' }, data: Buffer.from('{}').toString('base64') },
    };
    expect((await call(url, { method: 'POST', json: body })).status).toBe(401);
    const foreign = await signer.sign({ claims: { email: 'someone@else.iam.gserviceaccount.com' } });
    const forbidden = await call(url, { method: 'POST', json: body, headers: { Authorization: `Bearer ${foreign}` } });
    expect(forbidden.status).toBe(403);
    const wrongAudience = await signer.sign({ claims: { aud: 'https://elsewhere.example' } });
    expect(
      (await call(url, { method: 'POST', json: body, headers: { Authorization: `Bearer ${wrongAudience}` } })).status,
    ).toBe(401);
    // A valid push for an operation nobody waits for is acknowledged and ignored.
    const unknown = { name: `${h.amapi.enterpriseName}/devices/nobody/operations/1`, done: true };
    const ignored = await call(url, {
      method: 'POST',
      json: {
        message: {
          attributes: { notificationType: 'COMMAND' },
          data: Buffer.from(JSON.stringify(unknown)).toString('base64'),
        },
      },
      headers: { Authorization: `Bearer ${await signer.sign()}` },
    });
    expect(ignored.status).toBe(204);
  });
});

describe('Android Management channel: keyless (workload identity federation), commands that expire', () => {
  const h = {} as Harness;
  let identity: ManagedIdentityEndpoint;

  beforeAll(async () => {
    h.tokens = await startGoogleTokenServices();
    identity = await startManagedIdentityEndpoint();
    h.amapi = await startAndroidManagementStandIn({ tokens: h.tokens, executionDelayMs: 200 });
    h.amapi.setPush(false);
    h.stack = await startStack({
      DEVICE_CHANNEL: 'androidManagement',
      ANDROID_MANAGEMENT_ENTERPRISE: h.amapi.enterpriseName,
      ANDROID_MANAGEMENT_CREDENTIALS: JSON.stringify(h.tokens.externalAccountCredential()),
      ANDROID_MANAGEMENT_ROOT_URL: h.amapi.rootUrl,
      // Three seconds: an offline device's command expires before the first check.
      ANDROID_MANAGEMENT_COMMAND_HOURS: String(3 / 3600),
      AzureWebJobsStorage__clientId: identity.clientId,
      IDENTITY_ENDPOINT: identity.url,
      IDENTITY_HEADER: identity.header,
    });
  });

  afterAll(async () => {
    await h.stack?.stop();
    await h.amapi?.stop();
    await identity?.stop();
    await h.tokens?.stop();
  });

  it('an offline device whose command expires: failed deviceUnreachable, the passcode dropped, nothing shown', async () => {
    const [deviceId] = await enroll(h, [{ ...ONLINE_PIXEL, online: false }]);
    const actionId = await reset(h, deviceId as string);
    const failed = await finished(h, deviceId as string, actionId, 40);
    expect(failed).toMatchObject({ actionState: 'failed', error: { code: 'deviceUnreachable' } });
    expect(failed.passcode).toBeUndefined();
    expect(failed.passcodeExpirationDateTime).toBeUndefined();
    expect(h.amapi.commands(deviceId as string)).toMatchObject([{ state: 'expired', duration: '3s' }]);
  });

  it('20 resets with no Google key: one managed identity token, one token exchange, one impersonation', async () => {
    const ids = await enroll(
      h,
      Array.from({ length: 20 }, () => ONLINE_PIXEL),
    );
    const before = { sts: h.tokens.issued('sts'), iam: h.tokens.issued('generateAccessToken') };
    const actions = await Promise.all(ids.map((id) => reset(h, id)));
    const results = await Promise.all(ids.map((id, i) => finished(h, id, actions[i] as string, 60)));
    expect(results.map((r) => r.actionState)).toEqual(ids.map(() => 'done'));
    for (const [i, id] of ids.entries()) expect(results[i]?.passcode).toBe(h.amapi.passwordOf(id));
    // The sync made the first token request; the 20 resets reused its token.
    expect(h.tokens.issued('sts') - before.sts).toBe(0);
    expect(h.tokens.issued('generateAccessToken') - before.iam).toBe(0);
    expect(h.tokens.issued('sts')).toBe(1);
    expect(identity.requests.filter((r) => r.resource === 'api://AzureADTokenExchange')).toHaveLength(1);
    expect(h.tokens.received('token')).toBe(0);
  });
});
