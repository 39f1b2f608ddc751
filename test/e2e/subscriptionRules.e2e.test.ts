import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_NAMES } from '../../lib/deps';
import type { Role } from '../../lib/security/caller';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';
import { type FaultyStorageProxy, type ProxiedRequest, startFaultyStorageProxy } from '../support/faultyStorageProxy';
import { startTestIssuer, type TestIssuer } from './entraTokens';
import { Receivers } from './receivers';
import { call, pollLikeLogicApps, testSettings } from './stack';

// Issue 20's subscription rules through the local host (Entra tokens from a stand-in issuer, so that callers differ):
// the per-owner cap and creation rate (429 + Retry-After), an administrator deleting another caller's subscription,
// exactly one notice when the delivery's enqueue fails or the claim's answer is lost (a fault proxy in front of
// Azurite), and a key rotation with subscriptions live (the host restarted with new keys). The time-driven rules (24
// hours of failures, the 30-day maximum age) are in subscriptionAging.e2e.test.ts: the host runs on the wall clock, so
// that file ages the stored rows instead; test/unit/useCases/subscriptionUpkeep.test.ts covers them with a test clock.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, seconds = 45) {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const key = () => randomBytes(32).toString('base64');

describe('subscription rules through the local host', () => {
  let azurite: Azurite;
  let proxy: FaultyStorageProxy;
  let host: SpawnedHost;
  let issuer: TestIssuer;
  let env: Record<string, string>;
  const receivers = new Receivers();
  /** The bodies of the notices the receiver at `path` got. */
  const notices = (path: string) => receivers.notificationsAt(path).map((n) => n.text);
  /** Which storage requests may get a fault now (one test at a time arms it). */
  let armed: ((request: ProxiedRequest) => boolean) | undefined;
  const k1 = `k1:${key()}`;

  const api = (path: string) => `${host.url}/api/${path}`;
  const caller = (name: string, ...roles: Role[]) => issuer.as(['Devices.Read', 'Passcode.Reset', ...roles], name);

  beforeAll(async () => {
    [azurite, issuer] = await Promise.all([startAzurite(), startTestIssuer(), receivers.start()]);
    proxy = await startFaultyStorageProxy({
      azuriteConnectionString: azurite.connectionString,
      rates: { drop: 1, unavailable: 0 },
      only: (request) => armed?.(request) ?? false,
    });
    env = testSettings({
      ...issuer.settings,
      AzureWebJobsStorage: proxy.connectionString,
      PASSCODE_ENCRYPTION_KEYS: k1,
      MAX_SUBSCRIPTIONS_PER_OWNER: '2',
      SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR: '4',
    });
    host = await spawnHost({ appDir: process.cwd(), env, port: 0 });
    const manager = await issuer.as(['Devices.Manage']);
    for (const id of ['rules-1', 'rules-2', 'rules-3']) {
      const put = await call(api(`deviceManagement/managedDevices/${id}`), {
        method: 'PUT',
        headers: manager,
        json: { deviceName: id, operatingSystem: 'iOS', osVersion: '17.5' },
      });
      expect(put.status).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    await host?.stop();
    await proxy?.stop();
    await Promise.all([azurite?.stop(), issuer?.stop(), receivers.stop()]);
  });

  const subscribe = (headers: Record<string, string>, url: string, deviceId = 'rules-1') =>
    call(api('deviceManagement/subscriptions'), {
      method: 'POST',
      headers,
      json: {
        changeType: 'updated',
        notificationUrl: url,
        resource: `deviceManagement/managedDevices/${deviceId}/deviceActionResults`,
        clientState: 'state',
      },
    });
  const remove = (headers: Record<string, string>, id: string) =>
    call(api(`deviceManagement/subscriptions/${id}`), { method: 'DELETE', headers });

  async function resetToDone(deviceId: string) {
    const headers = await caller('resetter@contoso.com', 'Passcode.Read');
    const accepted = await call(api(`deviceManagement/managedDevices/${deviceId}/resetPasscode`), {
      method: 'POST',
      headers,
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted, { headers });
    expect(final.body.actionState).toBe('done');
    return final.body.id as string;
  }

  it('caps live subscriptions per owner and creations per hour: 429 with Retry-After', async () => {
    const ana = await caller('ana@contoso.com');
    const url = receivers.add('/cap').url;
    const first = await subscribe(ana, url);
    const second = await subscribe(ana, url);
    expect([first.status, second.status]).toEqual([201, 201]);
    const capped = await subscribe(ana, url);
    expect(capped.status).toBe(429);
    expect(capped.body.error.code).toBe('tooManySubscriptions');
    // Until the first expires: 72 hours, less the seconds this test took.
    const untilFreed = Number(capped.headers.get('retry-after'));
    expect(untilFreed).toBeGreaterThan(72 * 3600 - 120);
    expect(untilFreed).toBeLessThanOrEqual(72 * 3600);
    // Another owner is not limited by ana's.
    const bo = await caller('bo@contoso.com');
    const bos = await subscribe(bo, url);
    expect(bos.status).toBe(201);
    expect((await remove(bo, bos.body.id)).status).toBe(204);

    expect((await remove(ana, first.body.id)).status).toBe(204);
    expect((await subscribe(ana, url)).status).toBe(201);
    expect((await remove(ana, second.body.id)).status).toBe(204);
    expect((await subscribe(ana, url)).status).toBe(201); // the fourth this hour
    const listed = await call(api('deviceManagement/subscriptions'), { headers: ana });
    for (const s of listed.body.value) expect((await remove(ana, s.id)).status).toBe(204);
    const rated = await subscribe(ana, url);
    expect(rated.status).toBe(429);
    expect(rated.body.error.code).toBe('subscriptionCreationRateExceeded');
    const untilHourEnds = Number(rated.headers.get('retry-after'));
    expect(untilHourEnds).toBeGreaterThan(3600 - 120);
    expect(untilHourEnds).toBeLessThanOrEqual(3600);
  });

  it("lets an administrator (Subscriptions.Manage) list and delete another caller's subscription; a concurrent second delete is a 404", async () => {
    const cy = await caller('cy@contoso.com');
    const dee = await caller('dee@contoso.com');
    const admin = await caller('admin@contoso.com', 'Subscriptions.Manage');
    const created = await subscribe(cy, receivers.add('/admin').url);
    expect(created.status).toBe(201);
    expect((await remove(dee, created.body.id)).status).toBe(404);
    expect((await call(api('deviceManagement/subscriptions?all=true'), { headers: dee })).status).toBe(403);
    const all = await call(api('deviceManagement/subscriptions?all=true&$top=100'), { headers: admin });
    expect(all.status).toBe(200);
    expect(all.body.value.map((s: { id: string }) => s.id)).toContain(created.body.id);
    const [one, other] = await Promise.all([remove(admin, created.body.id), remove(admin, created.body.id)]);
    expect([one.status, other.status].sort()).toEqual([204, 404]);
    expect((await call(api(`deviceManagement/subscriptions/${created.body.id}`), { headers: cy })).status).toBe(404);
    const audit = await call(api('deviceManagement/auditEvents?deviceId=rules-1'), {
      headers: await issuer.as(['Audit.Read']),
    });
    const events = audit.body.value.filter((e: { actionId?: string }) => e.actionId === created.body.id);
    expect(events.map((e: { eventType: string; callerName: string }) => [e.eventType, e.callerName]).sort()).toEqual([
      ['subscriptionCreated', 'cy@contoso.com'],
      ['subscriptionDeleted', 'admin@contoso.com'],
    ]);
  });

  /** Arms a fault for the first `times` storage requests `matches` picks; says how many it faulted. */
  function faultFirst(matches: (request: ProxiedRequest) => boolean, times = 1) {
    let used = 0;
    armed = (request) => {
      if (used >= times || !matches(request)) return false;
      used++;
      return true;
    };
    return () => used;
  }

  it('delivers exactly one notice when the enqueue of the delivery fails (503, nothing enqueued)', async () => {
    const eve = await caller('eve@contoso.com');
    const url = receivers.add('/enqueue-fails').url;
    expect((await subscribe(eve, url, 'rules-2')).status).toBe(201);
    proxy.setRates({ drop: 0, unavailable: 1 });
    // The messages to the notifications queue after the first (which announces the action): the delivery's enqueue,
    // refused on all three of its tries (the storage client retries twice), so the fan-out fails and runs again.
    let posts = 0;
    const used = faultFirst(
      (r) => r.service === 'queue' && r.method === 'POST' && r.path.includes('/notifications/') && ++posts >= 2,
      3,
    );
    const actionId = await resetToDone('rules-2');
    await waitFor('the notice', () => notices('/enqueue-fails').length > 0);
    await sleep(5_000);
    armed = undefined;
    expect(used()).toBe(3);
    const got = notices('/enqueue-fails');
    expect(got).toHaveLength(1);
    expect(got[0]).toContain(actionId);
  }, 120_000);

  it("delivers exactly one notice when the claim's write commits but its answer is lost", async () => {
    const fay = await caller('fay@contoso.com');
    const url = receivers.add('/claim-lost').url;
    expect((await subscribe(fay, url, 'rules-3')).status).toBe(201);
    proxy.setRates({ drop: 1, unavailable: 0 });
    const used = faultFirst(
      (r) => r.service === 'table' && r.method === 'POST' && r.path.includes(STORAGE_NAMES.tables.deliveries),
    );
    const actionId = await resetToDone('rules-3');
    await waitFor('the notice', () => notices('/claim-lost').length > 0);
    await sleep(5_000);
    armed = undefined;
    expect(used()).toBe(1);
    const got = notices('/claim-lost');
    expect(got).toHaveLength(1);
    expect(got[0]).toContain(actionId);
  }, 120_000);

  it('keeps delivering across a key rotation; a row sealed with a key dropped too early is a 404, never a 500', async () => {
    const gus = await caller('gus@contoso.com');
    const renewed = await subscribe(gus, receivers.add('/rotation-renewed').url);
    const forgotten = await subscribe(gus, receivers.add('/rotation-forgotten').url, 'rules-2');
    expect([renewed.status, forgotten.status]).toEqual([201, 201]);
    const restart = async (keys: string) => {
      await host.stop();
      host = await spawnHost({ appDir: process.cwd(), env: { ...env, PASSCODE_ENCRYPTION_KEYS: keys }, port: 0 });
    };
    const k2 = `k2:${key()}`;
    await restart(`${k2},${k1}`);
    // Step 1 of docs/deploy.md: the new key is current, the old one still opens.
    const patched = await call(api(`deviceManagement/subscriptions/${renewed.body.id}`), {
      method: 'PATCH',
      headers: gus,
      json: { expirationDateTime: new Date(Date.now() + 48 * 3_600_000).toISOString() },
    });
    expect(patched.status).toBe(200);
    const table = TableClient.fromConnectionString(azurite.connectionString, STORAGE_NAMES.tables.subscriptions, {
      allowInsecureConnection: true,
    });
    const keyOf = async (id: string) => (await table.getEntity('subscription', id)).notificationUrlKeyId;
    expect(await keyOf(renewed.body.id)).toBe('k2');
    expect(await keyOf(forgotten.body.id)).toBe('k1');
    const during = await resetToDone('rules-1');
    await waitFor('the notice during the rotation', () => notices('/rotation-renewed').some((n) => n.includes(during)));
    // Step 2, too early: k1 dropped while a subscription is still sealed with it.
    await restart(k2);
    const gone = await call(api(`deviceManagement/subscriptions/${forgotten.body.id}`), { headers: gus });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('subscriptionNotFound');
    const listed = await call(api('deviceManagement/subscriptions'), { headers: gus });
    expect(listed.status).toBe(200);
    expect(listed.body.value.map((s: { id: string }) => s.id)).toEqual([renewed.body.id]);
    const after = await resetToDone('rules-1');
    await waitFor('the notice after the rotation', () => notices('/rotation-renewed').some((n) => n.includes(after)));
  }, 240_000);
});
