import { describe, expect, it, vi } from 'vitest';
import type { NotificationMessage } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { cancelAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  handleNotificationMessage,
  listSubscriptions,
  renewSubscription,
} from '../../../lib/useCases/subscriptions';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices, type TestServices } from '../../support/services';

const reader = callerWith('Devices.Read');
const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');
const other = { ...callerWith('Devices.Read'), id: 'caller-2' };
const URL_1 = 'https://receiver.contoso.com/notify';

function setup() {
  const t = makeTestServices();
  t.addDevice(deviceFixture());
  t.addDevice(deviceFixture({ id: 'device-2' }));
  return t;
}

const input = (overrides: Record<string, unknown> = {}) => ({
  changeType: 'updated' as const,
  notificationUrl: URL_1,
  resource: 'deviceManagement/deviceActionResults',
  expirationDateTime: '2026-11-28T10:00:00.000Z',
  clientState: 'secret-of-the-receiver',
  ...overrides,
});

/** Runs every notification message (delays honoured by moving the clock), as the queue trigger would. */
async function drainNotifications(t: TestServices, limit = 50) {
  const outcomes: string[] = [];
  while (t.notifications.messages.length > 0 && outcomes.length < limit) {
    const message = t.notifications.messages.shift() as NotificationMessage;
    const delay = t.notifications.delays.shift() ?? 0;
    t.clock.advance({ seconds: delay });
    outcomes.push(await handleNotificationMessage(t.services, message));
  }
  return outcomes;
}

async function resetToDone(t: TestServices, deviceId = 'device-1') {
  const { action } = await requestPasscodeReset(t.services, { deviceId, caller: admin });
  const message = t.queue.messages.shift();
  if (!message) throw new Error('nothing queued');
  await applyPasscodeReset(t.services, message);
  return action;
}

describe('subscriptions', () => {
  it('creates a subscription after the validation handshake; the clientState is never shown, the URL stored sealed', async () => {
    const t = setup();
    const view = await createSubscription(t.services, reader, input());
    expect(view).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      resource: 'deviceManagement/deviceActionResults',
      changeType: 'updated',
      notificationUrl: URL_1,
      expirationDateTime: '2026-11-28T10:00:00.000Z',
      createdDateTime: '2026-11-26T10:00:00.000Z',
      creatorId: 'caller-1',
    });
    expect(t.notifier.validations).toEqual([URL_1]);
    const stored = JSON.stringify([...t.subscriptions.subscriptions.values()]);
    expect(stored).not.toContain('secret-of-the-receiver');
    expect(stored).not.toContain(new URL(URL_1).host);
    expect(await getSubscription(t.services, reader, view.id)).toEqual(view);
  });

  it('refuses an endpoint that fails validation (400 subscriptionValidationFailed) and stores nothing', async () => {
    const t = setup();
    t.notifier.validates = false;
    await expect(createSubscription(t.services, reader, input())).rejects.toMatchObject({
      status: 400,
      code: 'subscriptionValidationFailed',
    });
    expect(t.subscriptions.subscriptions.size).toBe(0);
  });

  it('needs no handshake from a Logic Apps or Power Automate callback URL (a signed capability URL)', async () => {
    const t = setup();
    t.notifier.validates = false;
    const callback =
      'https://prod-27.westeurope.logic.azure.com/workflows/abc/runs/1/actions/Wait/run?api-version=2016-10-01&sp=%2Fruns&sv=1.0&sig=Xyz';
    await expect(createSubscription(t.services, reader, input({ notificationUrl: callback }))).resolves.toMatchObject({
      notificationUrl: callback,
    });
    expect(t.notifier.validations).toEqual([]);
    // Its sig is a secret: the stored subscription holds the URL only sealed.
    expect(JSON.stringify([...t.subscriptions.subscriptions.values()])).not.toContain('logic.azure.com');
    // Unsigned, or on another host: the handshake applies.
    for (const url of [
      callback.replace(/&sig=Xyz/, ''),
      callback.replace('logic.azure.com', 'logic.azure.com.evil.example'),
    ]) {
      await expect(createSubscription(t.services, reader, input({ notificationUrl: url }))).rejects.toMatchObject({
        code: 'subscriptionValidationFailed',
      });
    }
  });

  it('refuses plain http (loopback only for a developer), far expiries, and unknown devices', async () => {
    const t = setup();
    const bad = [
      input({ notificationUrl: 'http://receiver.contoso.com/notify' }),
      input({ notificationUrl: 'http://127.0.0.1:8080/notify' }),
      input({ expirationDateTime: '2026-11-30T10:00:01.000Z' }),
      input({ expirationDateTime: '2026-11-26T09:00:00.000Z' }),
    ];
    for (const body of bad)
      await expect(createSubscription(t.services, reader, body)).rejects.toMatchObject({ status: 400 });
    await expect(
      createSubscription(
        t.services,
        reader,
        input({ resource: 'deviceManagement/managedDevices/nope/deviceActionResults' }),
      ),
    ).rejects.toMatchObject({ status: 404 });
    expect(t.notifier.validations).toEqual([]);
    const dev = makeTestServices({ settings: { development: true } });
    await expect(
      createSubscription(dev.services, reader, input({ notificationUrl: 'http://127.0.0.1:8080/notify' })),
    ).resolves.toMatchObject({ notificationUrl: 'http://127.0.0.1:8080/notify' });
  });

  it("lists, renews and deletes only the caller's own subscriptions", async () => {
    const t = setup();
    const mine = await createSubscription(t.services, reader, input());
    await createSubscription(t.services, other, input());
    expect((await listSubscriptions(t.services, reader)).map((s) => s.id)).toEqual([mine.id]);
    await expect(getSubscription(t.services, other, mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(deleteSubscription(t.services, other, mine.id)).rejects.toMatchObject({ status: 404 });
    const renewed = await renewSubscription(t.services, reader, mine.id, '2026-11-29T09:00:00.000Z');
    expect(renewed.expirationDateTime).toBe('2026-11-29T09:00:00.000Z');
    await deleteSubscription(t.services, reader, mine.id);
    await expect(getSubscription(t.services, reader, mine.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('notifications', () => {
  it('one notice per subscription when a watched action finishes, with the clientState and without the passcode', async () => {
    const t = setup();
    const all = await createSubscription(t.services, reader, input());
    await createSubscription(
      t.services,
      reader,
      input({ resource: 'deviceManagement/managedDevices/device-2/deviceActionResults' }),
    );
    const action = await resetToDone(t);
    expect(t.notifications.messages).toEqual([{ v: 1, kind: 'finished', deviceId: 'device-1', actionId: action.id }]);

    await drainNotifications(t);
    // The sweeper announces it again after its review: still one notice.
    t.clock.advance({ seconds: 200 });
    await sweepActions(t.services);
    await drainNotifications(t);

    expect(t.notifier.posts).toHaveLength(1);
    const [post] = t.notifier.posts;
    expect(post?.url).toBe(URL_1);
    expect(post?.body).toEqual({
      value: [
        {
          subscriptionId: all.id,
          subscriptionExpirationDateTime: all.expirationDateTime,
          clientState: 'secret-of-the-receiver',
          changeType: 'updated',
          resource: `deviceManagement/managedDevices/device-1/deviceActionResults/${action.id}`,
          resourceData: expect.objectContaining({ id: action.id, actionState: 'done' }),
        },
      ],
    });
    expect(JSON.stringify(post?.body)).not.toContain('"passcode"');
  });

  it('reads no action when nobody watches its device (the common case)', async () => {
    const t = setup();
    await createSubscription(
      t.services,
      reader,
      input({ resource: 'deviceManagement/managedDevices/device-2/deviceActionResults' }),
    );
    await resetToDone(t, 'device-1');
    const read = vi.spyOn(t.services.actions, 'get');
    expect(await drainNotifications(t)).toEqual(['nobodyWatches']);
    expect(read).not.toHaveBeenCalled();
    expect(t.notifier.posts).toEqual([]);
  });

  it('announces every way an action can end: done, canceled, failed by the sweeper', async () => {
    const t = setup();
    await createSubscription(t.services, reader, input());
    await resetToDone(t, 'device-1');
    const { action: pending } = await requestPasscodeReset(t.services, { deviceId: 'device-2', caller: admin });
    await cancelAction(t.services, 'device-2', pending.id, admin);
    await drainNotifications(t);
    expect(
      t.notifier.posts.map(
        (p) => (p.body as { value: [{ resourceData: { actionState: string } }] }).value[0].resourceData.actionState,
      ),
    ).toEqual(['done', 'canceled']);
  });

  it('retries a failing receiver: within 10 s, then doubling; 503, 503, then 200 is one delivered notice', async () => {
    const t = setup();
    await createSubscription(t.services, reader, input());
    t.notifier.script = [503, 503];
    await resetToDone(t);
    const outcomes = await drainNotifications(t);
    expect(outcomes).toEqual(['queued', 'retrying', 'retrying', 'delivered']);
    expect(t.notifier.posts).toHaveLength(3);
  });

  it('gives a receiver up after 4 hours of failures, and deletes a subscription answered with 410 Gone', async () => {
    const t = setup();
    await createSubscription(t.services, reader, input());
    t.notifier.script = Array.from({ length: 50 }, () => 500);
    await resetToDone(t);
    const outcomes = await drainNotifications(t);
    expect(outcomes.at(-1)).toBe('givenUp');
    expect(outcomes.filter((o) => o === 'retrying').length).toBeLessThan(15);

    const gone = setup();
    await createSubscription(gone.services, reader, input());
    gone.notifier.script = [410];
    await resetToDone(gone);
    expect(await drainNotifications(gone)).toEqual(['queued', 'subscriptionRemoved']);
    expect(gone.subscriptions.subscriptions.size).toBe(0);
  });

  it('tells nobody about an action that ended before the subscription existed, or after it expired', async () => {
    const t = setup();
    await resetToDone(t);
    t.clock.advance({ seconds: 1 });
    await createSubscription(t.services, reader, input());
    await drainNotifications(t);
    expect(t.notifier.posts).toEqual([]);

    t.clock.advance({ hours: 49 });
    await resetToDone(t, 'device-2');
    await drainNotifications(t);
    expect(t.notifier.posts).toEqual([]);
    await sweepActions(t.services);
    expect(t.subscriptions.subscriptions.size).toBe(0);
  });

  it("renews a workflow's subscription before it expires, until the workflow is gone (404), and lets others expire", async () => {
    const t = setup();
    const flow =
      'https://prod-27.westeurope.logic.azure.com/workflows/abc/triggers/manual/run?api-version=2016-10-01&sig=Xyz';
    const workflow = await createSubscription(t.services, reader, input({ notificationUrl: flow }));
    const receiver = await createSubscription(t.services, reader, input());
    // Both expire at 2026-11-28T10:00Z; an hour before, the sweep renews the workflow's only.
    t.clock.advance({ hours: 46, minutes: 59 });
    expect(await sweepActions(t.services)).toMatchObject({ subscriptionsRenewed: 0, subscriptionsPurged: 0 });
    t.clock.advance({ minutes: 2 });
    expect(await sweepActions(t.services)).toMatchObject({ subscriptionsRenewed: 1, subscriptionsPurged: 0 });
    expect((await getSubscription(t.services, reader, workflow.id)).expirationDateTime).toBe(
      '2026-12-01T09:01:00.000Z',
    );
    t.clock.advance({ hours: 1 });
    expect(await sweepActions(t.services)).toMatchObject({ subscriptionsRenewed: 0, subscriptionsPurged: 1 });
    await expect(getSubscription(t.services, reader, receiver.id)).rejects.toMatchObject({ status: 404 });

    // Days later it still hears of a reset; a 404 from the callback means the workflow is gone.
    t.clock.advance({ hours: 70 });
    await sweepActions(t.services);
    t.notifier.script = [404];
    await resetToDone(t);
    expect(await drainNotifications(t)).toEqual(['queued', 'subscriptionRemoved']);
    expect(t.notifier.posts.map((p) => p.url)).toEqual([flow]);
    expect(t.subscriptions.subscriptions.size).toBe(0);
  });

  it('retries a 404 from a receiver that is not a workflow (it may be deploying)', async () => {
    const t = setup();
    await createSubscription(t.services, reader, input());
    t.notifier.script = [404];
    await resetToDone(t);
    expect(await drainNotifications(t)).toEqual(['queued', 'retrying', 'delivered']);
  });
});
