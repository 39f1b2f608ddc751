import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AndroidManagement, createAndroidManagement } from '../../../lib/adapters/androidManagement';
import { parseGoogleCredential } from '../../../lib/adapters/androidManagement/credentials';
import { TransientError } from '../../../lib/core/errors';
import type { CommandStatus } from '../../../lib/core/model';
import type { ApplyPasscodeRequest } from '../../../lib/ports';
import { type GoogleTokenServices, startGoogleTokenServices } from '../../support/androidManagement/googleTokens';
import { type AndroidManagementStandIn, startAndroidManagementStandIn } from '../../support/androidManagement/standIn';
import { type ManagedIdentityEndpoint, startManagedIdentityEndpoint } from '../../support/managedIdentityEndpoint';

// The Android Management channel with Google's real client libraries, against the stand-ins of the API and of
// Google's token services (test/support/androidManagement): what it sends is checked there against the discovery
// document, strictly.

const clock = { now: () => new Date() };
let tokens: GoogleTokenServices;
let amapi: AndroidManagementStandIn;

beforeAll(async () => {
  tokens = await startGoogleTokenServices();
  amapi = await startAndroidManagementStandIn({ tokens, executionDelayMs: 30 });
});
afterAll(async () => {
  await amapi?.stop();
  await tokens?.stop();
});

let sequence = 0;
const nextId = () => `dev${Date.now().toString(36)}${++sequence}`;

function channel(
  overrides: {
    commandHours?: number;
    lockNow?: boolean;
    credential?: string;
    subjectToken?: () => Promise<string>;
  } = {},
): AndroidManagement {
  return createAndroidManagement({
    enterprise: amapi.enterpriseName,
    credential: parseGoogleCredential(overrides.credential ?? JSON.stringify(tokens.serviceAccountKey())),
    rootUrl: amapi.rootUrl,
    timeoutMs: 2_000,
    commandHours: overrides.commandHours ?? 24,
    lockNow: overrides.lockNow ?? false,
    clock,
    ...(overrides.subjectToken && { subjectToken: overrides.subjectToken }),
  });
}

function request(deviceId: string, passcode = '480213'): ApplyPasscodeRequest {
  return {
    actionId: `action-${deviceId}`,
    deviceId,
    operatingSystem: 'Android',
    osVersion: '14',
    policy: { minLength: 6, characters: 'numeric', complex: true },
    passcode,
  };
}

function addDevice(overrides: Partial<Parameters<AndroidManagementStandIn['addDevice']>[0]> = {}): string {
  const id = nextId();
  amapi.addDevice({ id, managementMode: 'DEVICE_OWNER', androidVersion: '14', apiLevel: 34, ...overrides });
  return id;
}

/** Asks until the channel says something other than waiting (the stand-in's device runs commands in 30 ms). */
async function settle(am: AndroidManagement, deviceId: string, reference: string): Promise<CommandStatus> {
  for (let i = 0; i < 100; i++) {
    const status = await am.channel.check({ actionId: `action-${deviceId}`, deviceId, reference });
    if (status.status !== 'waiting') return status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the command never finished');
}

const referenceOf = (status: CommandStatus) => {
  if (status.status !== 'waiting') throw new Error(`expected waiting, got ${status.status}`);
  return status.reference;
};

describe('AndroidManagementChannel: RESET_PASSWORD', () => {
  afterEach(() => expect(amapi.bugs).toEqual([]));

  it('issues the command the discovery document allows, waits for the device, and the device gets that passcode', async () => {
    const am = channel();
    const deviceId = addDevice();
    const sent = await am.channel.send(request(deviceId, '739251'));
    expect(sent).toMatchObject({
      status: 'waiting',
      reference: expect.stringMatching(`/devices/${deviceId}/operations/`),
    });
    const expires = sent.status === 'waiting' ? Date.parse(sent.expiresDateTime ?? '') : Number.NaN;
    expect(Math.abs(expires - Date.now() - 24 * 3600_000)).toBeLessThan(60_000);
    expect(amapi.commands(deviceId)).toMatchObject([
      { type: 'RESET_PASSWORD', newPassword: '739251', resetPasswordFlags: ['REQUIRE_ENTRY'], duration: '86400s' },
    ]);
    await expect(settle(am, deviceId, referenceOf(sent))).resolves.toEqual({ status: 'applied' });
    expect(amapi.passwordOf(deviceId)).toBe('739251');
  });

  it('adds LOCK_NOW when asked, and the duration from ANDROID_MANAGEMENT_COMMAND_HOURS', async () => {
    const deviceId = addDevice();
    await channel({ lockNow: true, commandHours: 2.5 }).channel.send(request(deviceId));
    expect(amapi.commands(deviceId)[0]).toMatchObject({
      resetPasswordFlags: ['REQUIRE_ENTRY', 'LOCK_NOW'],
      duration: '9000s',
    });
  });

  it("an offline device: waiting, with the device's last contact; cancel, and the channel confirms it", async () => {
    const am = channel();
    const lastReport = '2026-11-25T08:00:00.000Z';
    const deviceId = addDevice({ online: false, lastStatusReportTime: lastReport });
    const reference = referenceOf(await am.channel.send(request(deviceId)));
    const command = { actionId: `action-${deviceId}`, deviceId, reference };
    await expect(am.channel.check(command)).resolves.toMatchObject({
      status: 'waiting',
      deviceLastSeenDateTime: lastReport,
    });
    await expect(am.channel.cancel(command)).resolves.toBe(true);
    await expect(am.channel.check(command)).resolves.toEqual({ status: 'canceled' });
    amapi.setOnline(deviceId, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(amapi.passwordOf(deviceId)).toBeUndefined();
  });

  it('a command the device did not run before its duration ran out: failed, deviceUnreachable', async () => {
    const am = channel({ commandHours: 1 / 3600 });
    const deviceId = addDevice({ online: false });
    const reference = referenceOf(await am.channel.send(request(deviceId)));
    expect(amapi.commands(deviceId)[0]?.duration).toBe('1s');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    await expect(am.channel.check({ actionId: 'a', deviceId, reference })).resolves.toMatchObject({
      status: 'failed',
      code: 'deviceUnreachable',
    });
  });

  it.each([
    ['MANAGEMENT_MODE', { status: 'notSupported', code: 'managementModeNotSupported' }],
    ['API_LEVEL', { status: 'notSupported', code: 'androidVersionNotSupported' }],
    ['UNSUPPORTED', { status: 'notSupported', code: 'commandNotSupported' }],
    ['INVALID_VALUE', { status: 'failed', code: 'passcodeRejected' }],
    ['UNKNOWN', { status: 'failed', code: 'commandFailed' }],
  ] as const)('the device reports %s', async (errorCode, expected) => {
    const am = channel();
    const deviceId = addDevice();
    amapi.scriptCommandError(deviceId, errorCode);
    const reference = referenceOf(await am.channel.send(request(deviceId)));
    await expect(settle(am, deviceId, reference)).resolves.toMatchObject(expected);
  });

  it('Android 14 refuses a numeric passcode shorter than 6 (INVALID_VALUE), as the discovery document says', async () => {
    const am = channel();
    const deviceId = addDevice({ androidVersion: '14', apiLevel: 34 });
    const reference = referenceOf(await am.channel.send(request(deviceId, '4821')));
    await expect(settle(am, deviceId, reference)).resolves.toMatchObject({ code: 'passcodeRejected' });
  });

  it('429 and 5xx are transient (with Retry-After); the next send goes through', async () => {
    const am = channel();
    const deviceId = addDevice();
    amapi.failNext({ method: 'issueCommand', status: 429, retryAfterSeconds: 30 });
    const error = await am.channel.send(request(deviceId)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ retryAfterSeconds: 30 });
    amapi.failNext({ method: 'issueCommand', status: 503 });
    await expect(am.channel.send(request(deviceId))).rejects.toBeInstanceOf(TransientError);
    await expect(am.channel.send(request(deviceId))).resolves.toMatchObject({ status: 'waiting' });
  });

  it('a lost issueCommand response is transient; sent again, both commands carry the same passcode', async () => {
    const am = channel();
    const deviceId = addDevice({ online: false });
    amapi.dropNextResponse('issueCommand');
    await expect(am.channel.send(request(deviceId, '615037'))).rejects.toBeInstanceOf(TransientError);
    await expect(am.channel.send(request(deviceId, '615037'))).resolves.toMatchObject({ status: 'waiting' });
    expect(amapi.commands(deviceId).map((c) => c.newPassword)).toEqual(['615037', '615037']);
  });

  it('refusals of a send: unknown device (404), another enterprise (403), bad credentials', async () => {
    const am = channel();
    await expect(am.channel.send(request('not-enrolled'))).resolves.toMatchObject({
      status: 'failed',
      code: 'deviceNotEnrolled',
    });
    const untrusted = { ...tokens.serviceAccountKey(), client_email: 'stranger@example.iam.gserviceaccount.com' };
    const refused = await channel({ credential: JSON.stringify(untrusted) }).channel.send(request(addDevice()));
    expect(refused).toMatchObject({ status: 'failed', code: 'credentialsRefused' });
    // Asking is never refused into "not applied": a refused check cannot tell whether the device ran the command.
    const reference = referenceOf(await am.channel.send(request(addDevice({ online: false }))));
    const check = await channel({ credential: JSON.stringify(untrusted) })
      .channel.check({ actionId: 'a', deviceId: 'x', reference })
      .catch((e: unknown) => e);
    expect(check).toBeInstanceOf(TransientError);
  });

  it("never lets the passcode reach an error or a log: a 400 that could echo it is the app's own message", async () => {
    const am = channel();
    const deviceId = addDevice();
    amapi.failNext({ method: 'issueCommand', status: 400, message: 'newPassword 902734 is not allowed' });
    const status = await am.channel.send(request(deviceId, '902734'));
    expect(status).toMatchObject({ status: 'failed', code: 'commandRejected' });
    expect(JSON.stringify(status)).not.toContain('902734');
  });

  it('one access token serves 20 resets (the service account grant is made once, sent to token_uri)', async () => {
    const before = tokens.issued('token');
    const am = channel();
    const ids = Array.from({ length: 20 }, () => addDevice());
    await Promise.all(ids.slice(0, 10).map((id) => am.channel.send(request(id))));
    for (const id of ids.slice(10)) await am.channel.send(request(id));
    expect(tokens.issued('token') - before).toBe(1);
  });
});

describe('AndroidManagementChannel: keyless (workload identity federation from the managed identity)', () => {
  let identity: ManagedIdentityEndpoint;
  beforeAll(async () => {
    identity = await startManagedIdentityEndpoint();
  });
  afterAll(() => identity?.stop());

  it('exchanges the managed identity token at token_url, impersonates, and reuses the token for 20 resets', async () => {
    const subjectToken = async () => {
      const url = new URL(identity.url);
      url.search = new URLSearchParams({
        'api-version': '2019-08-01',
        resource: 'api://AzureADTokenExchange',
        client_id: identity.clientId,
      }).toString();
      const response = await fetch(url, { headers: { 'X-IDENTITY-HEADER': identity.header } });
      return ((await response.json()) as { access_token: string }).access_token;
    };
    const [sts, impersonation] = [tokens.issued('sts'), tokens.issued('generateAccessToken')];
    const am = channel({ credential: JSON.stringify(tokens.externalAccountCredential()), subjectToken });
    const ids = Array.from({ length: 20 }, () => addDevice());
    await Promise.all(ids.map((id) => am.channel.send(request(id))));
    expect(tokens.issued('sts') - sts).toBe(1);
    expect(tokens.issued('generateAccessToken') - impersonation).toBe(1);
    expect(identity.requests.filter((r) => r.resource === 'api://AzureADTokenExchange')).toHaveLength(1);
    for (const id of ids) expect(amapi.commands(id)).toHaveLength(1);
  });
});

describe('AndroidManagementDeviceSource', () => {
  it('reads the enterprise page by page as inventory records', async () => {
    const own = await startAndroidManagementStandIn({ tokens, executionDelayMs: 30 });
    try {
      own.addDevices(250, { idPrefix: 'fleet', managementMode: 'PROFILE_OWNER', androidVersion: '13', apiLevel: 33 });
      const am = createAndroidManagement({
        enterprise: own.enterpriseName,
        credential: parseGoogleCredential(JSON.stringify(tokens.serviceAccountKey())),
        rootUrl: own.rootUrl,
        timeoutMs: 2_000,
        commandHours: 24,
        lockNow: false,
        clock,
      });
      const pages = [];
      let token: string | undefined;
      do {
        const page = await am.source.listPage(token);
        pages.push(page.devices.length);
        token = page.nextPageToken;
        if (pages.length === 1) {
          expect(page.devices[0]).toMatchObject({
            operatingSystem: 'AndroidForWork',
            osVersion: '13',
            androidManagement: { managementMode: 'workProfile', state: 'active', apiLevel: 33 },
          });
        }
      } while (token);
      expect(pages).toEqual([100, 100, 50]);
    } finally {
      await own.stop();
    }
  });
});
