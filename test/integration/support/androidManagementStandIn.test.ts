import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { gaxios, IdentityPoolClient, JWT } from 'google-auth-library';
import { androidmanagement_v1 } from 'googleapis/build/src/apis/androidmanagement';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ANDROID_MANAGEMENT_SCOPE, discovery, validate } from '../../support/androidManagement/discoverySchema';
import {
  type GoogleTokenServices,
  type ServiceAccountKey,
  startGoogleTokenServices,
  testServiceAccountKey,
} from '../../support/androidManagement/googleTokens';
import { createPushSigner, type PushSigner } from '../../support/androidManagement/pubsubPush';
import { type AndroidManagementStandIn, startAndroidManagementStandIn } from '../../support/androidManagement/standIn';
import { type ManagedIdentityEndpoint, startManagedIdentityEndpoint } from '../../support/managedIdentityEndpoint';

// google-auth-library's JWT client signs `aud: https://oauth2.googleapis.com/token` and posts there, whatever the
// key's token_uri says (gtoken/jwsSign.js, gtoken/getToken.js): the app overrides aud with additionalClaims and sends
// the request to token_uri with a request interceptor on the client's own transporter (which gtoken uses).
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

function jwtClient(
  key: ServiceAccountKey,
  options: { eagerRefreshThresholdMillis?: number; forceRefreshOnFailure?: boolean } = {},
) {
  const client = new JWT({
    email: key.client_email,
    key: key.private_key,
    keyId: key.private_key_id,
    scopes: [ANDROID_MANAGEMENT_SCOPE],
    additionalClaims: { aud: key.token_uri },
    ...options,
  });
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(key.token_uri);
      return config;
    },
  });
  return client;
}

type Api = androidmanagement_v1.Androidmanagement;
type Operation = androidmanagement_v1.Schema$Operation;

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const failure = async (promise: Promise<unknown>): Promise<gaxios.GaxiosError> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof gaxios.GaxiosError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
};

const RESET = {
  type: 'RESET_PASSWORD',
  newPassword: '482915',
  resetPasswordFlags: ['REQUIRE_ENTRY'],
  duration: '86400s',
};

/** A push endpoint that records deliveries and answers with scripted statuses (204 once the script runs out). */
async function startPushReceiver() {
  const deliveries: { authorization: string | undefined; body: any; status: number }[] = [];
  const script: number[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const status = script.shift() ?? 204;
    deliveries.push({
      authorization: req.headers.authorization,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      status,
    });
    res.writeHead(status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/amapi/push`,
    deliveries,
    script,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

let tokens: GoogleTokenServices;
let standIn: AndroidManagementStandIn;
let signer: PushSigner;
let receiver: Awaited<ReturnType<typeof startPushReceiver>>;
let identity: ManagedIdentityEndpoint;
let key: ServiceAccountKey;
let api: Api;
let device = '';
const PUSH_EMAIL = 'pubsub-push@amapi-test-project.iam.gserviceaccount.com';

beforeAll(async () => {
  identity = await startManagedIdentityEndpoint();
  tokens = await startGoogleTokenServices({ tenantId: identity.tenantId });
  receiver = await startPushReceiver();
  signer = await createPushSigner({ audience: receiver.url, email: PUSH_EMAIL });
  standIn = await startAndroidManagementStandIn({
    tokens,
    executionDelayMs: 100,
    push: { url: receiver.url, signer, initialBackoffMs: 50, maxAttempts: 4 },
  });
  key = tokens.serviceAccountKey();
  api = new androidmanagement_v1.Androidmanagement({ auth: jwtClient(key), rootUrl: standIn.rootUrl });
  device = `${standIn.enterpriseName}/devices/`;
});

afterAll(async () => {
  await standIn?.pushesSettled();
  await Promise.all([receiver?.stop(), signer?.stop(), identity?.stop()]);
  await standIn?.stop(); // rejects if the stand-in ever sent a response its schema refuses
  await tokens?.stop();
});

describe('the derived discovery document', () => {
  it('keeps facts only: schemas and methods, no prose', () => {
    expect(discovery.derivedFrom).toBe(
      'androidmanagement v1 discovery document, revision 20240531 (schemas and methods only, descriptions removed)',
    );
    expect(discovery.revision).toBe('20240531');
    expect(ANDROID_MANAGEMENT_SCOPE).toBe('https://www.googleapis.com/auth/androidmanagement');
    const text = JSON.stringify(discovery);
    expect(text).not.toContain('"description"');
    expect(text).not.toContain('"enumDescriptions"');
    for (const name of ['Command', 'Operation', 'Status', 'Device', 'ListDevicesResponse', 'ListOperationsResponse']) {
      expect(discovery.schemas[name]?.id).toBe(name);
    }
    const devices = discovery.resources.enterprises?.resources?.devices;
    expect(Object.keys(devices?.methods ?? {}).sort()).toEqual(['get', 'issueCommand', 'list']);
    expect(Object.keys(devices?.resources?.operations?.methods ?? {}).sort()).toEqual(['cancel', 'get', 'list']);
  });

  it('validates strictly, in the words of Google’s JSON parser', () => {
    const request = { direction: 'request', root: 'command' } as const;
    expect(validate('Command', RESET, request)).toEqual([]);
    expect(validate('Command', { type: 'RESET_PASSWORD', newPasscode: '1' }, request)).toEqual([
      `Unknown name "newPasscode" at 'command': Cannot find field.`,
    ]);
    expect(validate('Command', { type: 'RESETPASSWORD' }, request)).toEqual([
      `Invalid value at 'command.type' (TYPE_ENUM), "RESETPASSWORD"`,
    ]);
    expect(validate('Command', { resetPasswordFlags: ['LOCK_NOW', 'NOW'] }, request)).toHaveLength(1);
    expect(validate('Command', { duration: '10m' }, request)[0]).toContain('google.protobuf.Duration');
    expect(validate('Command', { duration: '1.0000000001s' }, request)).toHaveLength(1);
    expect(validate('Command', { createTime: '2024-02-30T00:00:00Z' }, request)).toHaveLength(1);
    expect(validate('Command', { createTime: '2024-02-29T23:59:59.123456+02:00' }, request)).toEqual([]);
    // A passcode sent with the wrong JSON type is refused without being repeated.
    expect(validate('Command', { newPassword: 482915 }, { ...request, redact: ['newPassword'] })).toEqual([
      `Invalid value at 'command.new_password' (TYPE_STRING), <redacted>`,
    ]);
    // int64 is a JSON string in responses; int32 a number within range.
    expect(validate('Device', { appliedPolicyVersion: 3 })).toHaveLength(1);
    expect(validate('Device', { appliedPolicyVersion: '3', apiLevel: 34 })).toEqual([]);
    expect(validate('Device', { apiLevel: 2 ** 31 })).toHaveLength(1);
    expect(validate('Device', { systemProperties: { a: 'b' } })).toEqual([]);
    // An Any must say its type; one of this API's messages is then checked as that message.
    expect(validate('Operation', { metadata: { type: 'LOCK' } })).toHaveLength(1);
    expect(
      validate('Operation', {
        metadata: { '@type': `type.googleapis.com/google.android.devicemanagement.v1.Command`, type: 'LOCK' },
      }),
    ).toEqual([]);
    expect(
      validate('Operation', {
        metadata: { '@type': `type.googleapis.com/google.android.devicemanagement.v1.Command`, kind: 'LOCK' },
      }),
    ).toHaveLength(1);
    expect(validate('Operation', { name: 'x', done: null })).toHaveLength(1);
    expect(validate('Empty', { a: 1 })).toHaveLength(1);
  });
});

describe('the stand-in driven by googleapis and a google-auth-library JWT', () => {
  it('lists devices page by page, like AMAPI', async () => {
    const ids = standIn.addDevices(250, {
      idPrefix: 'list-',
      managementMode: 'DEVICE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
    });
    standIn.addDevice({
      id: 'list-gone',
      managementMode: 'DEVICE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
      state: 'DELETED',
    });
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const { data } = await api.enterprises.devices.list({ parent: standIn.enterpriseName, pageSize: 100, pageToken });
      expect(validate('ListDevicesResponse', data)).toEqual([]);
      for (const found of data.devices ?? []) if (found.name?.includes('/devices/list-')) seen.push(found.name);
      pageToken = data.nextPageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(ids.map((id) => `${device}${id}`)); // DELETED devices are never returned
    const listed = standIn.requests.filter((r) => r.method === 'devices.list');
    // googleapis sends no system parameters unless asked: only the method's own.
    expect(listed[0]?.query).toEqual({ pageSize: ['100'] });
    expect(listed[1]?.query).toEqual({ pageSize: ['100'], pageToken: [expect.any(String)] });
  });

  it('returns Device resources shaped like AMAPI’s, and pages operations', async () => {
    const policy = {
      passwordMinimumLength: 6,
      passwordQuality: 'NUMERIC_COMPLEX',
      passwordScope: 'SCOPE_DEVICE',
    } as const;
    standIn.addDevice({
      id: 'shape-1',
      managementMode: 'PROFILE_OWNER',
      ownership: 'COMPANY_OWNED',
      state: 'LOST',
      androidVersion: '13',
      apiLevel: 33,
      appliedPasswordPolicies: [policy],
      userName: `${standIn.enterpriseName}/users/alice`,
      model: 'SM-S911B',
      manufacturer: 'samsung',
      brand: 'samsung',
      lastStatusReportTime: '2024-05-31T08:00:00Z',
      online: false,
    });
    const { data } = await api.enterprises.devices.get({ name: `${device}shape-1` });
    expect(validate('Device', data)).toEqual([]);
    expect(data).toMatchObject({
      name: `${device}shape-1`,
      managementMode: 'PROFILE_OWNER',
      ownership: 'COMPANY_OWNED',
      state: 'LOST',
      appliedState: 'LOST',
      apiLevel: 33,
      softwareInfo: { androidVersion: '13' },
      hardwareInfo: { model: 'SM-S911B', manufacturer: 'samsung', brand: 'samsung', serialNumber: expect.any(String) },
      userName: `${standIn.enterpriseName}/users/alice`,
      lastStatusReportTime: '2024-05-31T08:00:00Z',
      enrollmentTime: expect.any(String),
      appliedPasswordPolicies: [policy],
      policyName: `${standIn.enterpriseName}/policies/default`,
    });
    for (let i = 0; i < 3; i++) {
      await api.enterprises.devices.issueCommand({ name: `${device}shape-1`, requestBody: { type: 'LOCK' } });
    }
    const first = await api.enterprises.devices.operations.list({ name: `${device}shape-1/operations`, pageSize: 2 });
    expect(first.data.operations).toHaveLength(2);
    const second = await api.enterprises.devices.operations.list({
      name: `${device}shape-1/operations`,
      pageSize: 2,
      pageToken: first.data.nextPageToken!,
    });
    expect(second.data.operations).toHaveLength(1);
    expect(second.data.nextPageToken).toBeUndefined();
    standIn.removeDevice('shape-1');
    expect((await failure(api.enterprises.devices.get({ name: `${device}shape-1` }))).status).toBe(404);
  });

  it('resets a passcode: issueCommand, then operations.get until done; the device got the passcode', async () => {
    standIn.addDevice({ id: 'reset-1', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    const issued = await api.enterprises.devices.issueCommand({ name: `${device}reset-1`, requestBody: RESET });
    expect(issued.status).toBe(200);
    const operation = issued.data;
    expect(operation.name).toMatch(new RegExp(`^${device}reset-1/operations/\\d+$`));
    expect(operation.done).toBeUndefined(); // proto3 JSON leaves out false
    expect(operation.metadata).toEqual({
      '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command',
      type: 'RESET_PASSWORD',
      createTime: expect.stringMatching(/Z$/),
      duration: '86400s',
      userName: expect.stringMatching(new RegExp(`^${standIn.enterpriseName}/users/`)),
      resetPasswordFlags: ['REQUIRE_ENTRY'],
    });
    const done = await until(
      async () => (await api.enterprises.devices.operations.get({ name: operation.name! })).data,
      (op: Operation) => op.done === true,
    );
    expect(done.error).toBeUndefined();
    expect(standIn.passwordOf('reset-1')).toBe('482915');
    expect(standIn.commands('reset-1')).toEqual([
      {
        operationName: operation.name,
        type: 'RESET_PASSWORD',
        newPassword: '482915',
        resetPasswordFlags: ['REQUIRE_ENTRY'],
        duration: '86400s',
        createTime: expect.any(String),
        state: 'done',
      },
    ]);
    const listed = await api.enterprises.devices.operations.list({ name: `${device}reset-1/operations` });
    expect(listed.data.operations?.map((op) => op.name)).toEqual([operation.name]);
    // The passcode is never echoed: not in the API's answers, not in the request log.
    expect(JSON.stringify([operation, done, listed.data, standIn.requests])).not.toContain('482915');
    expect(new Set(standIn.requests.map((r) => r.tokenId))).toEqual(new Set(['sa-1']));
    expect(tokens.issued('token')).toBe(1);
  });

  it('refuses unknown fields, bad enums and bad durations with 400 INVALID_ARGUMENT, creating nothing', async () => {
    standIn.addDevice({ id: 'strict-1', managementMode: 'DEVICE_OWNER', androidVersion: '13', apiLevel: 33 });
    const name = `${device}strict-1`;
    const unknown = await failure(
      api.enterprises.devices.issueCommand({
        name,
        requestBody: { type: 'RESET_PASSWORD', newPasscode: '1' } as never,
      }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.response?.data).toEqual({
      error: {
        code: 400,
        message: `Invalid JSON payload received. Unknown name "newPasscode" at 'command': Cannot find field.`,
        status: 'INVALID_ARGUMENT',
      },
    });
    const badEnum = await failure(api.enterprises.devices.issueCommand({ name, requestBody: { type: 'RESET' } }));
    expect(badEnum.status).toBe(400);
    expect(badEnum.message).toContain(`Invalid value at 'command.type' (TYPE_ENUM), "RESET"`);
    const badFlag = await failure(
      api.enterprises.devices.issueCommand({ name, requestBody: { ...RESET, resetPasswordFlags: ['LOCK'] } }),
    );
    expect(badFlag.status).toBe(400);
    expect(badFlag.message).not.toContain('482915');
    const badDuration = await failure(
      api.enterprises.devices.issueCommand({ name, requestBody: { ...RESET, duration: '1d' } }),
    );
    expect(badDuration.status).toBe(400);
    const noType = await failure(api.enterprises.devices.issueCommand({ name, requestBody: {} }));
    expect(noType.status).toBe(400);
    expect(standIn.commands('strict-1')).toEqual([]);
  });

  it('lets an offline device’s command expire, and an online-again device run what is still valid', async () => {
    standIn.addDevice({
      id: 'offline-1',
      managementMode: 'DEVICE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
      online: false,
    });
    const name = `${device}offline-1`;
    const short = (await api.enterprises.devices.issueCommand({ name, requestBody: { ...RESET, duration: '0.5s' } }))
      .data;
    const requestBody = { type: 'RESET_PASSWORD', newPassword: '551234' };
    const long = (await api.enterprises.devices.issueCommand({ name, requestBody })).data;
    const expired = await until(
      async () => (await api.enterprises.devices.operations.get({ name: short.name! })).data,
      (op: Operation) => op.done === true,
    );
    expect(expired.error).toEqual({ code: 4, message: 'The command expired before the device ran it.' });
    expect(expired.metadata?.duration).toBe('0.500s');
    standIn.setOnline('offline-1', true);
    await until(
      () => standIn.commands('offline-1').map((c) => c.state),
      (states) => states.join() === 'expired,done',
    );
    expect(standIn.passwordOf('offline-1')).toBe('551234');
    expect(long.metadata?.duration).toBe('600s'); // the default when absent
  });

  it('cancels a pending operation (google.rpc CANCELLED); cancelling a done one changes nothing', async () => {
    standIn.addDevice({
      id: 'cancel-1',
      managementMode: 'DEVICE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
      online: false,
    });
    const op = (await api.enterprises.devices.issueCommand({ name: `${device}cancel-1`, requestBody: RESET })).data;
    const cancelled = await api.enterprises.devices.operations.cancel({ name: op.name! });
    expect(cancelled.data).toEqual({});
    const after = (await api.enterprises.devices.operations.get({ name: op.name! })).data;
    expect(after).toMatchObject({ done: true, error: { code: 1 } });
    expect(after.metadata?.errorCode).toBeUndefined();
    expect((await api.enterprises.devices.operations.cancel({ name: op.name! })).data).toEqual({});
    const token = (await jwtClient(key).getAccessToken()).token;
    const withBody = await fetch(new URL(`v1/${op.name}:cancel`, standIn.rootUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect([withBody.status, await withBody.json()]).toEqual([200, {}]);
    standIn.setOnline('cancel-1', true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(standIn.commands('cancel-1').map((c) => c.state)).toEqual(['canceled']);
    expect(standIn.passwordOf('cancel-1')).toBeUndefined();
  });

  it('fails commands as the device would: Android 14 short numeric passcodes, scripted error codes', async () => {
    standIn.addDevice({ id: 'a14', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    standIn.addDevice({ id: 'a13', managementMode: 'DEVICE_OWNER', androidVersion: '13', apiLevel: 33 });
    standIn.addDevice({ id: 'work', managementMode: 'PROFILE_OWNER', androidVersion: '14', apiLevel: 34 });
    const issue = async (id: string, newPassword: string) => {
      const requestBody = { ...RESET, newPassword };
      const op = (await api.enterprises.devices.issueCommand({ name: `${device}${id}`, requestBody })).data;
      return until(
        async () => (await api.enterprises.devices.operations.get({ name: op.name! })).data,
        (o: Operation) => o.done === true,
      );
    };
    const short14 = await issue('a14', '1234');
    expect(short14.error?.code).toBe(3);
    expect(short14.metadata?.errorCode).toBe('INVALID_VALUE');
    expect(standIn.passwordOf('a14')).toBeUndefined();
    expect((await issue('a13', '1234')).error).toBeUndefined();
    expect(standIn.passwordOf('a13')).toBe('1234');
    standIn.scriptCommandError('work', 'MANAGEMENT_MODE');
    const scripted = await issue('work', '482915');
    expect(scripted).toMatchObject({ done: true, error: { code: 9 }, metadata: { errorCode: 'MANAGEMENT_MODE' } });
    expect(standIn.commands('work')[0]?.state).toBe('failed');
  });

  it('429 on a GET is retried by gaxios itself; on issueCommand (POST) it reaches the caller', async () => {
    standIn.addDevice({ id: 'busy-1', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    const name = `${device}busy-1`;
    standIn.failNext({ method: 'devices.get', status: 429, retryAfterSeconds: 1 });
    const got = await api.enterprises.devices.get({ name });
    expect(got.data.name).toBe(name);
    const gets = standIn.requests.filter((r) => r.method === 'devices.get' && r.path.endsWith('busy-1'));
    expect(gets.map((r) => r.status)).toEqual([429, 200]);

    standIn.failNext({ method: 'issueCommand', status: 429, retryAfterSeconds: 1 });
    const refused = await failure(api.enterprises.devices.issueCommand({ name, requestBody: RESET }));
    expect(refused.status).toBe(429);
    expect(refused.response?.headers.get('retry-after')).toBe('1');
    expect(refused.response?.data).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
    expect(standIn.commands('busy-1')).toEqual([]);
    await api.enterprises.devices.issueCommand({ name, requestBody: RESET });
    expect(standIn.commands('busy-1')).toHaveLength(1);
  });

  it('a dropped issueCommand response: the command exists, the caller got no answer and no retry', async () => {
    standIn.addDevice({ id: 'drop-1', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    const name = `${device}drop-1`;
    standIn.dropNextResponse('issueCommand');
    const lost = await failure(api.enterprises.devices.issueCommand({ name, requestBody: RESET }));
    expect(lost.response).toBeUndefined();
    expect(standIn.requests.filter((r) => r.path.endsWith('drop-1:issueCommand')).map((r) => r.status)).toEqual([null]);
    expect(standIn.commands('drop-1')).toHaveLength(1);
    const listed = await api.enterprises.devices.operations.list({ name: `${name}/operations` });
    expect(listed.data.operations?.[0]?.name).toBe(standIn.commands('drop-1')[0]?.operationName);
  });

  it('answers like Google to bad credentials, other enterprises, unknown devices, routes and parameters', async () => {
    const url = (path: string) => new URL(path, standIn.rootUrl);
    const noToken = await fetch(url(`v1/${device}reset-1`));
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
    const forged = await fetch(url(`v1/${device}reset-1`), { headers: { authorization: 'Bearer ya29.forged' } });
    expect(forged.status).toBe(401);

    const token = (await jwtClient(key).getAccessToken()).token!;
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(url('v1/enterprises/LCother/devices/reset-1'), { headers: auth })).status).toBe(403);
    const missing = await fetch(url(`v1/${device}nope`), { headers: auth });
    expect(await missing.json()).toEqual({
      error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' },
    });
    expect((await fetch(url('v1/enterprises'), { headers: auth })).status).toBe(404);
    expect((await fetch(url(`v1/${device}reset-1`), { method: 'DELETE', headers: auth })).status).toBe(404);
    const unknownParam = await fetch(url(`v1/${device}reset-1?view=FULL`), { headers: auth });
    expect(unknownParam.status).toBe(400);
    const badSize = await fetch(url(`v1/${standIn.enterpriseName}/devices?pageSize=ten`), { headers: auth });
    expect(badSize.status).toBe(400);
    const cancelBody = await fetch(url(`v1/${device}reset-1/operations/1:cancel`), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"force":true}',
    });
    expect(cancelBody.status).toBe(400);

    // A token without the androidmanagement scope: Google answers 403 "insufficient authentication scopes".
    const other = new JWT({
      email: key.client_email,
      key: key.private_key,
      scopes: ['https://www.googleapis.com/auth/pubsub'],
      additionalClaims: { aud: key.token_uri },
    });
    other.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(key.token_uri);
        return config;
      },
    });
    const narrow = await fetch(url(`v1/${device}reset-1`), {
      headers: { authorization: `Bearer ${(await other.getAccessToken()).token}` },
    });
    expect(narrow.status).toBe(403);
  });

  it('accepts the system parameters googleapis can send (fields, prettyPrint, $.xgafv, quotaUser)', async () => {
    const { data } = await api.enterprises.devices.get({
      name: `${device}reset-1`,
      fields: 'name,hardwareInfo(model),softwareInfo/androidVersion',
      prettyPrint: false,
      '$.xgafv': '2',
      quotaUser: 'tests',
    });
    expect(data).toEqual({
      name: `${device}reset-1`,
      hardwareInfo: { model: 'Pixel 8' },
      softwareInfo: { androidVersion: '14' },
    });
    const badField = await failure(api.enterprises.devices.get({ name: `${device}reset-1`, fields: 'nom' }));
    expect(badField.status).toBe(400);
  });

  it('serves a 10,000-device fleet cheaply', async () => {
    const started = Date.now();
    standIn.addDevices(10_000, {
      idPrefix: 'fleet-',
      managementMode: 'PROFILE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
    });
    expect(Date.now() - started).toBeLessThan(1000);
    let count = 0;
    let pageToken: string | undefined;
    do {
      const { data } = await api.enterprises.devices.list({
        parent: standIn.enterpriseName,
        pageToken,
        fields: 'devices(name,state),nextPageToken',
      });
      count += (data.devices ?? []).filter((d) => d.name?.includes('/devices/fleet-')).length;
      expect(data.devices?.length ?? 0).toBeLessThanOrEqual(100);
      pageToken = data.nextPageToken ?? undefined;
    } while (pageToken);
    expect(count).toBe(10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('the stand-in’s own checks', () => {
  it('refuses to send a response its schema forbids, and fails stop()', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const broken = await startAndroidManagementStandIn();
    try {
      const brokenKey = broken.tokens.serviceAccountKey();
      broken.addDevice({ id: 'huge', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 2 ** 40 });
      const client = new androidmanagement_v1.Androidmanagement({
        auth: jwtClient(brokenKey),
        rootUrl: broken.rootUrl,
      });
      const refused = await failure(
        client.enterprises.devices.get({ name: `${broken.enterpriseName}/devices/huge` }, { retry: false }),
      );
      expect(refused.status).toBe(500);
      expect(broken.bugs).toEqual([expect.stringContaining(`Invalid value at 'api_level' (TYPE_INT32)`)]);
    } finally {
      await expect(broken.stop()).rejects.toThrow(/sent invalid responses/);
      errors.mockRestore();
    }
  });
});

describe('the token services with the real google-auth-library', () => {
  it('refuses assertions with the wrong audience or from an untrusted key', async () => {
    const plain = new JWT({ email: key.client_email, key: key.private_key, scopes: [ANDROID_MANAGEMENT_SCOPE] });
    plain.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(key.token_uri);
        return config;
      },
    });
    await expect(plain.getAccessToken()).rejects.toThrow(/invalid_grant: Invalid JWT: Failed audience check/);
    const stranger = testServiceAccountKey(tokens.tokenUrl, { accountId: 'stranger' });
    await expect(jwtClient(stranger).getAccessToken()).rejects.toThrow(/invalid_grant/);
    const impostor = { ...testServiceAccountKey(tokens.tokenUrl), client_email: key.client_email };
    await expect(jwtClient(impostor).getAccessToken()).rejects.toThrow(/Invalid JWT Signature/);
  });

  it('the token request (a POST) is retried by gtoken on 503, and tokens are refreshed when short-lived', async () => {
    const before = tokens.received('token');
    standIn.failNext({ method: 'token', status: 503 });
    const client = jwtClient(key, { eagerRefreshThresholdMillis: 100 });
    const first = await client.getAccessToken();
    expect(tokens.received('token') - before).toBe(2);

    tokens.setExpiresIn(1);
    try {
      const shortLived = jwtClient(key, { eagerRefreshThresholdMillis: 100 });
      const a = await shortLived.getAccessToken();
      expect(await shortLived.getAccessToken()).toEqual({ token: a.token });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const b = await shortLived.getAccessToken();
      expect(b.token).not.toBe(a.token);
      expect(first.token).not.toBe(a.token);
    } finally {
      tokens.setExpiresIn(3600);
    }
  });

  it('a revoked token gets 401; forceRefreshOnFailure does not help a JWT client, resetting its credentials does', async () => {
    const name = `${device}reset-1`;
    const forcingClient = jwtClient(key, { forceRefreshOnFailure: true });
    const forcing = new androidmanagement_v1.Androidmanagement({ auth: forcingClient, rootUrl: standIn.rootUrl });
    await forcing.enterprises.devices.get({ name });
    const revoked = (await forcingClient.getAccessToken()).token!;
    tokens.expire([tokens.lookup(revoked)!.id]);
    // OAuth2Client retries a 401 once after refreshAccessTokenAsync(), but the JWT client's refresh asks gtoken with
    // forceRefresh = isTokenExpiring(), false for a token that is not near its expiry: gtoken hands back the same one.
    const before = tokens.issued('token');
    expect((await failure(forcing.enterprises.devices.get({ name }))).status).toBe(401);
    expect(tokens.issued('token')).toBe(before);
    expect(standIn.requests.slice(-2).map((r) => r.status)).toEqual([401, 401]);
    // What works: credentials that look expired make the next request fetch a new token.
    forcingClient.setCredentials({ refresh_token: 'jwt-placeholder', expiry_date: 1 });
    expect((await forcing.enterprises.devices.get({ name })).status).toBe(200);
    expect(tokens.issued('token')).toBe(before + 1);
  });

  it('workload identity federation: IdentityPoolClient with a subject token supplier; 20 calls, one exchange', async () => {
    const subjectTokens: string[] = [];
    const supplier = {
      getSubjectToken: async () => {
        const url = new URL(identity.url);
        url.searchParams.set('api-version', '2019-08-01');
        url.searchParams.set('resource', tokens.subjectTokenAudience);
        url.searchParams.set('client_id', identity.clientId);
        const response = await fetch(url, { headers: { 'x-identity-header': identity.header } });
        const { access_token } = (await response.json()) as { access_token: string };
        subjectTokens.push(access_token);
        return access_token;
      },
    };
    const { credential_source, ...configuration } = tokens.externalAccountCredential();
    expect(credential_source.url).toContain('resource=api://AzureADTokenExchange');
    const client = new IdentityPoolClient({
      ...configuration,
      subject_token_supplier: supplier,
      scopes: [ANDROID_MANAGEMENT_SCOPE],
    });
    const federated = new androidmanagement_v1.Androidmanagement({ auth: client, rootUrl: standIn.rootUrl });
    const stsBefore = tokens.issued('sts');
    const iamBefore = tokens.issued('generateAccessToken');
    const name = `${device}reset-1`;
    const calls = await Promise.all(Array.from({ length: 10 }, () => federated.enterprises.devices.get({ name })));
    for (let i = 0; i < 10; i++) calls.push(await federated.enterprises.devices.get({ name }));
    expect(calls.every((call) => call.status === 200)).toBe(true);
    expect(subjectTokens).toHaveLength(1);
    expect(decodeJwt(subjectTokens[0]!)).toMatchObject({ aud: 'api://AzureADTokenExchange' });
    expect(tokens.issued('sts') - stsBefore).toBe(1);
    expect(tokens.issued('generateAccessToken') - iamBefore).toBe(1);
    const used = new Set(standIn.requests.slice(-20).map((r) => r.tokenId));
    expect(used.size).toBe(1);
    expect([...used][0]).toMatch(/^iam-/);

    // The STS answer, and its federated token (scope cloud-platform, as the library asks when it impersonates), which
    // the Android Management API refuses for want of its scope.
    const exchanged = await fetch(tokens.stsUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience: tokens.workloadIdentityProvider,
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token: subjectTokens[0]!,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      }),
    });
    const answer = (await exchanged.json()) as Record<string, unknown>;
    expect(answer).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: expect.any(Number),
    });
    const direct = await fetch(new URL(`v1/${name}`, standIn.rootUrl), {
      headers: { authorization: `Bearer ${answer.access_token}` },
    });
    expect(direct.status).toBe(403);
  });

  it('refuses a subject token for another audience, and an exchange for another provider', async () => {
    const supplier = (resource: string) => ({
      getSubjectToken: async () => {
        const url = new URL(identity.url);
        url.searchParams.set('api-version', '2019-08-01');
        url.searchParams.set('resource', resource);
        url.searchParams.set('client_id', identity.clientId);
        const response = await fetch(url, { headers: { 'x-identity-header': identity.header } });
        return ((await response.json()) as { access_token: string }).access_token;
      },
    });
    const { credential_source: _, ...configuration } = tokens.externalAccountCredential();
    const wrongAudience = new IdentityPoolClient({
      ...configuration,
      subject_token_supplier: supplier('https://management.azure.com/'),
      scopes: [ANDROID_MANAGEMENT_SCOPE],
    });
    await expect(wrongAudience.getAccessToken()).rejects.toThrow(/invalid_grant/);
    const wrongProvider = new IdentityPoolClient({
      ...configuration,
      audience: `${configuration.audience}-other`,
      subject_token_supplier: supplier(tokens.subjectTokenAudience),
      scopes: [ANDROID_MANAGEMENT_SCOPE],
    });
    await expect(wrongProvider.getAccessToken()).rejects.toThrow(/invalid_target/);
  });
});

describe('Pub/Sub push of COMMAND notifications', () => {
  it('pushes each finished operation with an OIDC token that verifies against the JWKS; retries until acknowledged', async () => {
    standIn.addDevice({ id: 'push-1', managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34 });
    receiver.script.push(500);
    const op = (await api.enterprises.devices.issueCommand({ name: `${device}push-1`, requestBody: RESET })).data;
    const mine = () =>
      receiver.deliveries.filter((d) => Buffer.from(d.body.message.data, 'base64').toString().includes(op.name!));
    await until(mine, (list) => list.some((d) => d.status === 204));
    const [refused, accepted] = mine();
    expect(refused?.status).toBe(500);
    const { body, authorization } = accepted!;
    expect(body).toEqual({
      message: {
        attributes: { notificationType: 'COMMAND' },
        data: expect.any(String),
        messageId: expect.stringMatching(/^\d+$/),
        message_id: body.message.messageId,
        publishTime: expect.stringMatching(/Z$/),
        publish_time: body.message.publishTime,
      },
      subscription: 'projects/test/subscriptions/amapi',
    });
    const pushed = JSON.parse(Buffer.from(body.message.data, 'base64').toString('utf8'));
    expect(validate('Operation', pushed)).toEqual([]);
    expect(pushed).toMatchObject({ name: op.name, done: true });
    expect(JSON.stringify(pushed)).not.toContain('482915');
    const jwks = createRemoteJWKSet(new URL(signer.jwksUrl));
    const { payload } = await jwtVerify(authorization!.replace(/^Bearer /, ''), jwks, {
      issuer: 'https://accounts.google.com',
      audience: receiver.url,
      algorithms: ['RS256'],
    });
    expect(payload).toMatchObject({ email: PUSH_EMAIL, email_verified: true });
    const attempts = standIn.pushes.filter((p) => p.messageId === body.message.messageId);
    expect(attempts.map((a) => [a.attempt, a.status, a.acknowledged])).toEqual([
      [1, 500, false],
      [2, 204, true],
    ]);
  });

  it('does not push for a device with push disabled (the polling fallback)', async () => {
    standIn.addDevice({
      id: 'quiet-1',
      managementMode: 'DEVICE_OWNER',
      androidVersion: '14',
      apiLevel: 34,
      push: false,
    });
    const op = (await api.enterprises.devices.issueCommand({ name: `${device}quiet-1`, requestBody: RESET })).data;
    await until(
      () => standIn.commands('quiet-1')[0]?.state,
      (state) => state === 'done',
    );
    await standIn.pushesSettled();
    const all = receiver.deliveries.map((d) => Buffer.from(d.body.message.data, 'base64').toString());
    expect(all.some((data) => data.includes(op.name!))).toBe(false);
  });

  it('mints tokens a receiver must refuse', async () => {
    const jwks = createRemoteJWKSet(new URL(signer.jwksUrl));
    const verifyOptions = { issuer: 'https://accounts.google.com', audience: receiver.url, algorithms: ['RS256'] };
    await expect(jwtVerify(await signer.sign(), jwks, verifyOptions)).resolves.toBeTruthy();
    for (const overrides of [
      { claims: { aud: 'https://elsewhere.example/push' } },
      { claims: { iss: 'https://evil.example' } },
      { expired: true },
      { key: 'foreign' as const },
      { kid: 'unknown-kid' },
      { alg: 'none' as const },
      { omit: ['exp'] },
    ]) {
      const token = await signer.sign(overrides);
      const options = overrides.omit ? { ...verifyOptions, requiredClaims: ['exp'] } : verifyOptions;
      await expect(jwtVerify(token, jwks, options), JSON.stringify(overrides)).rejects.toThrow();
    }
    // email and email_verified are the receiver's own checks: the tokens verify, the claims say who.
    const otherEmail = await jwtVerify(
      await signer.sign({ claims: { email: 'someone@else.iam.gserviceaccount.com' } }),
      jwks,
      verifyOptions,
    );
    expect(otherEmail.payload.email).toBe('someone@else.iam.gserviceaccount.com');
    const unverified = await jwtVerify(await signer.sign({ claims: { email_verified: false } }), jwks, verifyOptions);
    expect(unverified.payload.email_verified).toBe(false);
    const keys = (await (await fetch(signer.jwksUrl)).json()) as { keys: { kid: string; kty: string; alg: string }[] };
    expect(keys.keys).toHaveLength(2);
    expect(keys.keys[0]).toMatchObject({ kid: signer.kid, kty: 'RSA', alg: 'RS256', use: 'sig' });
  });
});
