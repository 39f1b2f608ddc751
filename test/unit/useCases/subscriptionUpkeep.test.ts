import { describe, expect, it } from 'vitest';
import { AesGcmCipher, parseEncryptionKeys } from '../../../lib/adapters/aesGcmCipher';
import { TransientError } from '../../../lib/core/errors';
import type { NotificationMessage } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import {
  createSubscription,
  FAN_OUT_BATCH,
  getSubscription,
  handleNotificationMessage,
  renewSubscription,
} from '../../../lib/useCases/subscriptions';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

// The rules that bound what subscriptions cost and how long they live: fan-out in batches, one notice per
// subscription and action whatever the repeats, 24 hours of failures, the workflow's maximum age, key rotation.

const reader = callerWith('Devices.Read');
const resetter = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
const WORKFLOW_URL = 'https://prod-27.westeurope.logic.azure.com/workflows/abc/triggers/manual/run?sig=Xyz';

function setup() {
  const t = makeTestServices({
    settings: { subscriptions: { maxPerOwner: 1000, creationsPerHour: 1000, workflowMaxAgeDays: 30 } },
  });
  t.addDevice(deviceFixture());
  return t;
}

const input = (overrides: Record<string, unknown> = {}) => ({
  changeType: 'updated' as const,
  notificationUrl: 'https://receiver.contoso.com/notify',
  resource: 'deviceManagement/managedDevices/device-1/deviceActionResults',
  expirationDateTime: new Date(Date.parse('2026-11-26T10:00:00.000Z') + 72 * 3_600_000).toISOString(),
  clientState: 'state',
  ...overrides,
});

async function resetToDone(t: TestServices) {
  const { action } = await requestPasscodeReset(t.services, { deviceId: 'device-1', caller: resetter });
  const message = t.queue.messages.shift();
  if (!message) throw new Error('nothing queued');
  await applyPasscodeReset(t.services, message);
  return action;
}

/** Runs the notification queue as the host would: a thrown message goes back to the queue and runs again. */
async function drain(t: TestServices, limit = 5_000) {
  const outcomes: string[] = [];
  const enqueuedBy: number[] = [];
  while (t.notifications.messages.length > 0 && outcomes.length < limit) {
    const message = t.notifications.messages.shift() as NotificationMessage;
    const delay = t.notifications.delays.shift() ?? 0;
    t.clock.advance({ seconds: delay });
    const before = t.notifications.messages.length;
    try {
      outcomes.push(await handleNotificationMessage(t.services, message));
      enqueuedBy.push(t.notifications.messages.length - before);
    } catch {
      t.notifications.messages.push(message);
      t.notifications.delays.push(0);
      outcomes.push('thrown');
    }
  }
  return { outcomes, enqueuedBy };
}

const noticesPer = (t: TestServices) => {
  const counts = new Map<string, number>();
  for (const post of t.notifier.posts) {
    const id = (post.body as { value: Array<{ subscriptionId: string }> }).value[0]?.subscriptionId ?? '';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
};

describe('fan-out', () => {
  it(`tells 250 watchers, ${FAN_OUT_BATCH} a message at most, each once`, async () => {
    const t = setup();
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) ids.push((await createSubscription(t.services, reader, input())).id);
    await resetToDone(t);
    const { enqueuedBy } = await drain(t);
    expect(Math.max(...enqueuedBy)).toBeLessThanOrEqual(FAN_OUT_BATCH + 1);
    const counts = noticesPer(t);
    expect([...counts.keys()].sort()).toEqual(ids.sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('resumes after a fault in the middle of a batch: every watcher still gets exactly one notice', async () => {
    const t = setup();
    for (let i = 0; i < 150; i++) await createSubscription(t.services, reader, input());
    await resetToDone(t);
    // The queue refuses the 40th and the 130th message once each.
    const enqueue = t.notifications.enqueue.bind(t.notifications);
    let calls = 0;
    t.services.notifications = {
      enqueue: async (message, options) => {
        calls++;
        if (calls === 40 || calls === 130) throw new TransientError('queue unavailable');
        return enqueue(message, options);
      },
    };
    const { outcomes } = await drain(t);
    expect(outcomes.filter((o) => o === 'thrown')).toHaveLength(2);
    const counts = noticesPer(t);
    expect(counts.size).toBe(150);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('one notice when the action is announced again while its delivery lags for more than 10 minutes', async () => {
    const t = setup();
    const { id } = await createSubscription(t.services, reader, input());
    await resetToDone(t);
    const finished = t.notifications.messages.shift() as NotificationMessage;
    const deliveries = () => t.notifications.messages.filter((m) => m.kind === 'deliver');
    await handleNotificationMessage(t.services, finished);
    const [lagging] = deliveries();
    // 15 minutes later the sweeper announces the action again; the first delivery message is still in the queue.
    t.clock.advance({ minutes: 15 });
    await handleNotificationMessage(t.services, finished);
    const again = deliveries()[1];
    if (!lagging || !again) throw new Error('no delivery queued');
    expect(await handleNotificationMessage(t.services, again)).toBe('delivered');
    expect(await handleNotificationMessage(t.services, lagging)).toBe('alreadyClaimed');
    // The same message run twice (its host died after the claim) still delivers: the claim is its own.
    expect(await handleNotificationMessage(t.services, again)).toBe('delivered');
    expect(noticesPer(t).get(id)).toBe(2);
  });
});

describe('a subscription whose deliveries fail for 24 hours', () => {
  it('is removed (DNS failures count), audited with the reason; a success in between starts the count again', async () => {
    const t = setup();
    const { id } = await createSubscription(t.services, reader, input());
    const failAll = () => {
      t.notifier.script = Array.from({ length: 200 }, (_, i) => (i % 2 ? 503 : new TransientError('ENOTFOUND')));
    };
    failAll();
    await resetToDone(t);
    await drain(t);
    expect(t.subscriptions.subscriptions.get(id)?.value.failingSinceDateTime).toBe('2026-11-26T10:00:00.000Z');
    // Twelve hours on, a success clears it.
    t.clock.advance({ hours: 12 });
    t.notifier.script = [];
    await resetToDone(t);
    await drain(t);
    expect(t.subscriptions.subscriptions.get(id)?.value.failingSinceDateTime).toBeUndefined();
    // Then failures for 25 hours: a notice every 6 hours, each retried until given up.
    failAll();
    for (let i = 0; i < 5; i++) {
      await resetToDone(t);
      await drain(t);
      t.clock.advance({ hours: 6 });
      if (!t.subscriptions.subscriptions.has(id)) break;
    }
    expect(t.subscriptions.subscriptions.has(id)).toBe(false);
    expect(t.audit.events.filter((e) => e.actionId === id).map((e) => [e.eventType, e.reason])).toContainEqual([
      'subscriptionRemoved',
      'deliveryFailing',
    ]);
    expect(t.log.text()).not.toContain('receiver.contoso.com');
  });
});

describe("a workflow's subscription", () => {
  it('is renewed by the sweeper until its maximum age after creation, then expires like any other', async () => {
    const t = setup();
    const created = await createSubscription(t.services, reader, input({ notificationUrl: WORKFLOW_URL }));
    const createdAt = t.clock.now().getTime();
    let renewals = 0;
    while (t.subscriptions.subscriptions.has(created.id)) {
      t.clock.advance({ hours: 1 });
      renewals += (await sweepActions(t.services)).subscriptionsRenewed;
      const stored = t.subscriptions.subscriptions.get(created.id)?.value;
      // Never extended past 30 days after its creation.
      if (stored) expect(Date.parse(stored.expirationDateTime)).toBeLessThanOrEqual(createdAt + 30 * 86_400_000);
      if (t.clock.now().getTime() > createdAt + 40 * 86_400_000) break;
    }
    expect(t.subscriptions.subscriptions.has(created.id)).toBe(false);
    const ended = t.clock.now().getTime() - createdAt;
    expect(ended).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(ended).toBeLessThanOrEqual(30 * 86_400_000 + 3_600_000);
    expect(renewals).toBeGreaterThanOrEqual(9);
    const events = t.audit.events.filter((e) => e.actionId === created.id);
    expect(events.filter((e) => e.eventType === 'subscriptionRenewed' && e.callerId === 'app')).toHaveLength(renewals);
    expect(events.at(-1)).toMatchObject({ eventType: 'subscriptionRemoved', reason: 'maximumAge' });
  });

  it('a flood of 300 expired subscriptions does not starve its renewal', async () => {
    const t = setup();
    const workflow = await createSubscription(t.services, reader, input({ notificationUrl: WORKFLOW_URL }));
    for (let i = 0; i < 300; i++) {
      await createSubscription(
        t.services,
        reader,
        input({ expirationDateTime: new Date(Date.parse('2026-11-26T10:30:00.000Z') + i * 1000).toISOString() }),
      );
    }
    // The workflow's subscription expires at 10:00; its renewal is due from 09:00, after all 300 expiries.
    t.clock.set('2026-11-29T09:05:00.000Z');
    const runs: number[] = [];
    while (t.clock.now() < new Date('2026-11-29T10:00:00.000Z')) {
      const report = await sweepActions(t.services);
      runs.push(report.subscriptionsPurged);
      if (report.subscriptionsRenewed > 0) break;
      t.clock.advance({ minutes: 1 });
    }
    // 100 a run, earliest due first: the renewal comes at the fourth run, 55 minutes before the expiry.
    expect(runs).toEqual([100, 100, 100, 0]);
    expect(t.subscriptions.subscriptions.size).toBe(1);
    expect(t.subscriptions.subscriptions.get(workflow.id)?.value.expirationDateTime).toBe('2026-12-02T09:08:00.000Z');
  });
});

describe('key rotation', () => {
  const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
  const cipher = (keys: string) => new AesGcmCipher(parseEncryptionKeys(keys));

  it('renewals seal again with the current key; a row sealed with a retired key is removed and reported, never a 500', async () => {
    const t = setup();
    t.services.cipher = cipher(`k1:${key(1)}`);
    const workflow = await createSubscription(t.services, reader, input({ notificationUrl: WORKFLOW_URL }));
    const renewedByOwner = await createSubscription(t.services, reader, input());
    const forgotten = await createSubscription(t.services, reader, input());
    // Rotation: k2 becomes current, k1 still opens.
    t.services.cipher = cipher(`k2:${key(2)},k1:${key(1)}`);
    t.clock.advance({ hours: 1 });
    await renewSubscription(t.services, reader, renewedByOwner.id, '2026-11-29T11:00:00.000Z');
    t.clock.set('2026-11-29T09:30:00.000Z');
    await sweepActions(t.services);
    const keysOf = (id: string) => {
      const s = t.subscriptions.subscriptions.get(id)?.value;
      return [s?.sealedNotificationUrl.keyId, s?.sealedClientState?.keyId];
    };
    expect(keysOf(workflow.id)).toEqual(['k2', 'k2']);
    expect(keysOf(renewedByOwner.id)).toEqual(['k2', 'k2']);
    expect(keysOf(forgotten.id)).toEqual(['k1', 'k1']);
    // k1 retired too early: the row it sealed cannot be opened; it is removed, reported, and read as missing.
    t.services.cipher = cipher(`k2:${key(2)}`);
    await expect(getSubscription(t.services, reader, forgotten.id)).rejects.toMatchObject({
      status: 404,
      code: 'subscriptionNotFound',
    });
    expect(t.subscriptions.subscriptions.has(forgotten.id)).toBe(false);
    expect(t.log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: { subscriptionId: forgotten.id, reason: 'keyRetired' } }),
    );
    expect((await getSubscription(t.services, reader, workflow.id)).notificationUrl).toBe(WORKFLOW_URL);
  });
});
