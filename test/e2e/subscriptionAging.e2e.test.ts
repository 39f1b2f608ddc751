import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmCipher, parseEncryptionKeys } from '../../lib/adapters/aesGcmCipher';
import { STORAGE_NAMES } from '../../lib/deps';
import type { Role } from '../../lib/security/caller';
import { startTestIssuer, type TestIssuer } from './entraTokens';
import { Receivers } from './receivers';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

// Issue 20's two time-driven subscription rules through the local host: a workflow's subscription is renewed by the
// app only up to WORKFLOW_SUBSCRIPTION_MAX_AGE_DAYS (default 30) after its creation and then expires, and a
// subscription whose deliveries have failed for 24 hours (DNS failures included) is removed. The host runs on the wall
// clock, so the data is aged instead: subscriptions are created through the API, then their rows in Azurite are
// rewritten (creation time, expiry, due time and its worklist entry, failing-since time) as days of running would have
// left them. The sweeper is the host's own timer, at the start of every minute.

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Logic Apps callback URL: the app renews such subscriptions itself and never POSTs to it unless an action ends. */
const workflowUrl = (name: string) =>
  `https://prod-27.westeurope.logic.azure.com/workflows/${name}/triggers/manual/paths/invoke?api-version=2016-10-01&sig=e2e`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** The columns of a subscription row this test ages (lib/adapters/tableSubscriptionStore.ts keeps them). */
type Aged = Partial<
  Record<
    | 'createdDateTime'
    | 'expirationDateTime'
    | 'dueDateTime'
    | 'failingSinceDateTime'
    | 'notificationUrlKeyId'
    | 'notificationUrlCiphertext',
    string
  >
>;

describe('subscription rules that take days, with aged rows, through the local host', () => {
  let stack: Stack;
  let issuer: TestIssuer;
  let table: TableClient;
  const receivers = new Receivers();

  const api = (path: string) => `${stack.api}/${path}`;
  const caller = (name: string, ...roles: Role[]) => issuer.as(['Devices.Read', 'Passcode.Reset', ...roles], name);

  beforeAll(async () => {
    issuer = await startTestIssuer();
    await receivers.start();
    stack = await startStack(issuer.settings);
    table = TableClient.fromConnectionString(stack.azurite.connectionString, STORAGE_NAMES.tables.subscriptions, {
      allowInsecureConnection: true,
    });
    const manager = await issuer.as(['Devices.Manage']);
    for (const id of ['aging-workflows', 'aging-failures']) {
      const put = await call(api(`deviceManagement/managedDevices/${id}`), {
        method: 'PUT',
        headers: manager,
        json: { deviceName: id, operatingSystem: 'iOS', osVersion: '17.5' },
      });
      expect(put.status).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([issuer?.stop(), receivers.stop()]);
  });

  async function subscribe(headers: Record<string, string>, url: string, deviceId: string): Promise<string> {
    const created = await call(api('deviceManagement/subscriptions'), {
      method: 'POST',
      headers,
      json: {
        changeType: 'updated',
        notificationUrl: url,
        resource: `deviceManagement/managedDevices/${deviceId}/deviceActionResults`,
        expirationDateTime: iso(Date.now() + 48 * HOUR_MS),
      },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  const getSubscription = (headers: Record<string, string>, id: string) =>
    call(api(`deviceManagement/subscriptions/${id}`), { headers });

  /**
   * Rewrites a subscription's stored columns. A new due time moves its entry in the sweeper's worklist too (partition
   * `due`, row `<dueDateTime>|<id>`): the row first, then the new entry, then the old one goes, so that a sweep in
   * between never meets an entry its row disagrees with. A new expiry is copied to the owner's index row.
   */
  async function age(id: string, changes: Aged) {
    const row = await table.getEntity<{ dueDateTime: string; ownerId: string }>('subscription', id);
    await table.updateEntity({ partitionKey: 'subscription', rowKey: id, ...changes }, 'Merge', { etag: row.etag });
    if (changes.dueDateTime !== undefined) {
      const entry = await table.getEntity<{ ownerId: string; watches: string }>('due', `${row.dueDateTime}|${id}`);
      await table.createEntity({
        partitionKey: 'due',
        rowKey: `${changes.dueDateTime}|${id}`,
        ownerId: entry.ownerId,
        watches: entry.watches,
        removal: false,
      });
      await table.deleteEntity('due', `${row.dueDateTime}|${id}`);
    }
    if (changes.expirationDateTime !== undefined) {
      await table.updateEntity(
        {
          partitionKey: `owner|${encodeURIComponent(row.ownerId)}`,
          rowKey: id,
          expirationDateTime: changes.expirationDateTime,
        },
        'Merge',
      );
    }
  }

  const storedRow = (id: string) =>
    table.getEntity<{ dueDateTime: string; expirationDateTime: string; failingSinceDateTime?: string }>(
      'subscription',
      id,
    );

  /** The subscription events of `deviceId`'s audit trail, as [subscription, event, who, reason]. */
  async function subscriptionEvents(deviceId: string) {
    const audit = await call(api(`deviceManagement/auditEvents?deviceId=${deviceId}&$top=100`), {
      headers: await issuer.as(['Audit.Read']),
    });
    expect(audit.status).toBe(200);
    return (audit.body.value as Array<{ eventType: string; actionId: string; callerName: string; reason?: string }>)
      .filter((e) => e.eventType.startsWith('subscription'))
      .map((e) => [e.actionId, e.eventType, e.callerName, e.reason ?? ''] as const);
  }

  it('renews a workflow subscription only up to 30 days after its creation, then lets it expire (maximumAge); a fresh one of the same owner is renewed', async () => {
    const flo = await caller('flo@contoso.com');
    const pastMaxAge = await subscribe(flo, workflowUrl('past-max-age'), 'aging-workflows');
    const reachingMaxAge = await subscribe(flo, workflowUrl('reaching-max-age'), 'aging-workflows');
    const fresh = await subscribe(flo, workflowUrl('fresh'), 'aging-workflows');

    // The next sweep at least 8 s away: the rows are due at it, and the aged ones expire between it and the one after.
    const sweep = Math.ceil((Date.now() + 8_000) / 60_000) * 60_000;
    // Created 31 days ago and due for renewal (an hour before its expiry), as a longer maximum age would have left it.
    const pastMaxAgeExpiry = sweep + 30_000;
    await age(pastMaxAge, {
      createdDateTime: iso(Date.now() - 31 * DAY_MS),
      expirationDateTime: iso(pastMaxAgeExpiry),
      dueDateTime: iso(pastMaxAgeExpiry - HOUR_MS),
    });
    // Its 30 days end 30 s after the sweep: one last renewal, to exactly that end and not 72 hours on.
    const maxAgeEnd = sweep + 30_000;
    const reachingExpiry = sweep + 20_000;
    await age(reachingMaxAge, {
      createdDateTime: iso(maxAgeEnd - 30 * DAY_MS),
      expirationDateTime: iso(reachingExpiry),
      dueDateTime: iso(reachingExpiry - HOUR_MS),
    });
    // Created just now (through the API), due for renewal: renewed to 72 hours. It is due last, so the sweep that
    // renews it has visited the other two before.
    const freshExpiry = sweep + 40_000;
    await age(fresh, { expirationDateTime: iso(freshExpiry), dueDateTime: iso(freshExpiry - HOUR_MS) });

    const renewed = await waitFor(
      'the sweeper to renew the fresh workflow subscription',
      async () => {
        const got = await getSubscription(flo, fresh);
        expect(got.status).toBe(200);
        return got.body.expirationDateTime === iso(freshExpiry) ? undefined : got.body;
      },
      100,
    );
    const renewedAt = Date.now();
    expect(new Date(renewed.expirationDateTime).getTime()).toBeGreaterThan(renewedAt + 72 * HOUR_MS - 90_000);
    expect(new Date(renewed.expirationDateTime).getTime()).toBeLessThanOrEqual(renewedAt + 72 * HOUR_MS);

    // Same run: the one past its maximum age is not renewed but left to its expiry, now its due time.
    const notRenewed = await getSubscription(flo, pastMaxAge);
    expect(notRenewed.status).toBe(200);
    expect(notRenewed.body.expirationDateTime).toBe(iso(pastMaxAgeExpiry));
    expect((await storedRow(pastMaxAge)).dueDateTime).toBe(iso(pastMaxAgeExpiry));
    const lastRenewal = await getSubscription(flo, reachingMaxAge);
    expect(lastRenewal.status).toBe(200);
    expect(lastRenewal.body.expirationDateTime).toBe(iso(maxAgeEnd));
    expect((await storedRow(reachingMaxAge)).dueDateTime).toBe(iso(maxAgeEnd));

    // The next sweep, after both expiries, removes both (waiting up to three sweeps: on a loaded machine a timer run
    // can start late).
    for (const id of [pastMaxAge, reachingMaxAge]) {
      await waitFor(
        'the sweeper to remove a subscription past its maximum age',
        async () => ((await getSubscription(flo, id)).status === 404 ? true : undefined),
        170,
      );
    }
    const listed = await call(api('deviceManagement/subscriptions'), { headers: flo });
    expect(listed.body.value.map((s: { id: string }) => s.id)).toEqual([fresh]);
    const stillRenewed = await getSubscription(flo, fresh);
    expect(stillRenewed.body.expirationDateTime).toBe(renewed.expirationDateTime);

    const events = await subscriptionEvents('aging-workflows');
    const app = 'Reset passcode app';
    expect(events.filter(([id]) => id === pastMaxAge).sort()).toEqual(
      [
        [pastMaxAge, 'subscriptionCreated', 'flo@contoso.com', ''],
        [pastMaxAge, 'subscriptionRemoved', app, 'maximumAge'],
      ].sort(),
    );
    expect(events.filter(([id]) => id === reachingMaxAge).sort()).toEqual(
      [
        [reachingMaxAge, 'subscriptionCreated', 'flo@contoso.com', ''],
        [reachingMaxAge, 'subscriptionRemoved', app, 'maximumAge'],
        [reachingMaxAge, 'subscriptionRenewed', app, ''],
      ].sort(),
    );
    expect(events.filter(([id]) => id === fresh).sort()).toEqual(
      [
        [fresh, 'subscriptionCreated', 'flo@contoso.com', ''],
        [fresh, 'subscriptionRenewed', app, ''],
      ].sort(),
    );
  }, 480_000);

  it('removes a subscription whose deliveries have failed for 24 hours at its next failed delivery (a 500 or a name that no longer resolves); 23 hours is not enough', async () => {
    const gil = await caller('gil@contoso.com', 'Passcode.Read');
    const failing25h = await subscribe(gil, receivers.add('/failing-25h', { status: 500 }).url, 'aging-failures');
    const failing23h = await subscribe(gil, receivers.add('/failing-23h', { status: 500 }).url, 'aging-failures');
    const unresolvable = await subscribe(gil, receivers.add('/renamed', { status: 200 }).url, 'aging-failures');

    const now = Date.now();
    await age(failing25h, { failingSinceDateTime: iso(now - 25 * HOUR_MS) });
    const since23h = iso(now - 23 * HOUR_MS);
    await age(failing23h, { failingSinceDateTime: since23h });
    // The receiver's name stopped resolving after its creation (`.invalid` never resolves, RFC 6761 §6.4). The URL is
    // sealed with the host's key, as the app seals it, bound to the subscription (lib/useCases/subscriptions.ts).
    const cipher = new AesGcmCipher(parseEncryptionKeys(stack.env.PASSCODE_ENCRYPTION_KEYS ?? ''));
    const sealed = cipher.seal('https://receiver.aging.invalid/notify', `subscription/${unresolvable}/notificationUrl`);
    await age(unresolvable, {
      failingSinceDateTime: iso(now - 25 * HOUR_MS),
      notificationUrlKeyId: sealed.keyId,
      notificationUrlCiphertext: sealed.value,
    });

    const accepted = await call(api('deviceManagement/managedDevices/aging-failures/resetPasscode'), {
      method: 'POST',
      headers: gil,
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted, { headers: gil });
    expect(final.body.actionState).toBe('done');

    for (const id of [failing25h, unresolvable]) {
      await waitFor(
        'the failing subscription to be removed',
        async () => ((await getSubscription(gil, id)).status === 404 ? true : undefined),
        60,
      );
    }
    await waitFor(
      'the notice to the receiver failing for 23 hours',
      async () => (receivers.notificationsAt('/failing-23h').length > 0 ? true : undefined),
      30,
    );
    // One more failed delivery each: the one that removed it, the other's first try.
    expect(receivers.notificationsAt('/failing-25h').length).toBe(1);
    expect(receivers.notificationsAt('/renamed').length).toBe(0);
    const kept = await getSubscription(gil, failing23h);
    expect(kept.status).toBe(200);
    // A failure does not restart the clock: the first failure's time stays.
    expect((await storedRow(failing23h)).failingSinceDateTime).toBe(since23h);

    // Removed entirely: no watch row is left for the fan-out.
    const watchers: string[] = [];
    for await (const row of table.listEntities({
      queryOptions: { filter: "PartitionKey eq 'watch|aging-failures'" },
    })) {
      watchers.push(String(row.rowKey));
    }
    expect(watchers).toEqual([failing23h]);

    const events = await subscriptionEvents('aging-failures');
    expect(events.filter(([, type]) => type === 'subscriptionRemoved').sort()).toEqual(
      [
        [failing25h, 'subscriptionRemoved', 'Reset passcode app', 'deliveryFailing'],
        [unresolvable, 'subscriptionRemoved', 'Reset passcode app', 'deliveryFailing'],
      ].sort(),
    );
  }, 180_000);
});
