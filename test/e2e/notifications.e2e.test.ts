import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, Receivers } from './receivers';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

// Change notifications end to end: the local host (AZURE_FUNCTIONS_ENVIRONMENT=Development, so a plain-http loopback
// receiver is allowed) against receivers served by this test on a free port. Each case uses its own device and a
// subscription to that device only, so the cases run side by side; the retry case sets the pace (10 s, then 20 s).

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, checking every 250 ms, or fails after `seconds`. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe('change notifications end to end over HTTP on the local host', () => {
  let stack: Stack;
  const receivers = new Receivers();
  beforeAll(async () => {
    [stack] = await Promise.all([startStack(), receivers.start()]);
  });
  afterAll(async () => {
    await Promise.all([stack?.stop(), receivers.stop()]);
  });

  const subscriptions = () => `${stack.api}/deviceManagement/subscriptions`;

  async function registerDevice(id: string) {
    const put = await call(`${stack.api}/deviceManagement/managedDevices/${id}`, {
      method: 'PUT',
      json: { deviceName: 'E2E iPhone', operatingSystem: 'iOS', osVersion: '17.5' },
    });
    expect(put.status).toBe(201);
  }

  /** Subscribes `url` to one device's actions. */
  const subscribe = (deviceId: string, url: string, clientState = `state-of-${deviceId}`) =>
    call(subscriptions(), {
      method: 'POST',
      json: {
        changeType: 'updated',
        notificationUrl: url,
        resource: `deviceManagement/managedDevices/${deviceId}/deviceActionResults`,
        expirationDateTime: new Date(Date.now() + 3_600_000).toISOString(),
        clientState,
      },
    });

  /** Resets a device and follows the status monitor until the action is terminal. */
  async function resetToDone(deviceId: string) {
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
      method: 'POST',
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted);
    expect(final.body.actionState).toBe('done');
    return final.body as { id: string; passcode: string };
  }

  const noticesFor = (receiver: Receiver, actionId: string) =>
    receiver.notifications.filter((n) => n.text.includes(actionId));

  it.concurrent('validates the receiver, notifies it once with its clientState and no passcode; after DELETE, never again', async () => {
    const device = 'e2e-notify-ok';
    await registerDevice(device);
    const { url, receiver } = receivers.add('/ok');
    // A second subscriber to the same device shows when a later action has been fanned out.
    const witness = receivers.add('/witness');

    const created = await subscribe(device, url);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('location')).toBe(`${subscriptions()}/${created.body.id}`);
    expect((await subscribe(device, witness.url, 'witness')).status).toBe(201);
    expect(receiver.validations).toHaveLength(1);
    expect(receiver.validations[0]?.query.get('validationToken')).toMatch(/\S{16,}/);

    const first = await resetToDone(device);
    await waitFor('the notification', () => noticesFor(receiver, first.id).length > 0);
    const [notice] = receiver.notifications;
    expect(notice?.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(notice?.text ?? '{}');
    expect(body).toEqual({
      value: [
        {
          subscriptionId: created.body.id,
          subscriptionExpirationDateTime: created.body.expirationDateTime,
          clientState: `state-of-${device}`,
          changeType: 'updated',
          resource: `deviceManagement/managedDevices/${device}/deviceActionResults/${first.id}`,
          resourceData: expect.objectContaining({ id: first.id, deviceId: device, actionState: 'done' }),
        },
      ],
    });
    expect(first.passcode).toMatch(/^\d{6}$/);
    expect(notice?.text).not.toContain('passcode"');
    expect(notice?.text).not.toContain(first.passcode);

    // PATCH renews it (the local host routes PATCH like any method).
    const expiry = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const renewed = await call(`${subscriptions()}/${created.body.id}`, {
      method: 'PATCH',
      json: { expirationDateTime: expiry },
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body.expirationDateTime).toBe(expiry);

    const deleted = await call(`${subscriptions()}/${created.body.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect((await call(`${subscriptions()}/${created.body.id}`)).status).toBe(404);

    const second = await resetToDone(device);
    await waitFor('the witness notification', () => noticesFor(witness.receiver, second.id).length > 0);
    // The sweeper announces a finished action again after its review; the fan-out never sends a notice twice.
    await sleep(3_000);
    expect(receiver.notifications).toHaveLength(1);
    expect(noticesFor(receiver, second.id)).toEqual([]);
    expect(noticesFor(witness.receiver, first.id)).toHaveLength(1);
    expect(noticesFor(witness.receiver, second.id)).toHaveLength(1);
  });

  it.concurrent('refuses a receiver that does not echo the validation token: 400 subscriptionValidationFailed, nothing stored', async () => {
    const device = 'e2e-notify-noecho';
    await registerDevice(device);
    const { url, receiver } = receivers.add('/noecho', { echo: false });
    const refused = await subscribe(device, url);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'subscriptionValidationFailed', target: 'notificationUrl' });
    expect(receiver.validations).toHaveLength(1);
    const listed = await call(subscriptions());
    expect(listed.body.value.map((s: { notificationUrl: string }) => s.notificationUrl)).not.toContain(url);
  });

  it.concurrent('retries a receiver that answers 503 twice: 10 s, then twice as long, then it gets the notification', async () => {
    const device = 'e2e-notify-retry';
    await registerDevice(device);
    const { url, receiver } = receivers.add('/flaky', { script: [503, 503] });
    const created = await subscribe(device, url);
    expect(created.status).toBe(201);
    const action = await resetToDone(device);
    await waitFor('three delivery attempts', () => receiver.notifications.length >= 3, 80);
    const [a, b, c] = receiver.notifications;
    expect([a, b, c].map((n) => JSON.parse(n?.text ?? '{}').value[0].resourceData.id)).toEqual([
      action.id,
      action.id,
      action.id,
    ]);
    // A retry is a delayed queue message: it cannot come sooner than its delay (later is possible on a busy machine).
    expect((b?.at ?? 0) - (a?.at ?? 0)).toBeGreaterThanOrEqual(9_000);
    expect((c?.at ?? 0) - (b?.at ?? 0)).toBeGreaterThanOrEqual(18_000);
    await sleep(2_000);
    expect(receiver.notifications).toHaveLength(3);
    expect((await call(`${subscriptions()}/${created.body.id}`)).status).toBe(200);
  });

  it.concurrent('deletes the subscription of a receiver that answers 410 Gone', async () => {
    const device = 'e2e-notify-gone';
    await registerDevice(device);
    const { url, receiver } = receivers.add('/gone', { script: [410] });
    const created = await subscribe(device, url);
    expect(created.status).toBe(201);
    await resetToDone(device);
    await waitFor(
      'the subscription to go',
      async () => (await call(`${subscriptions()}/${created.body.id}`)).status === 404,
    );
    expect(receiver.notifications).toHaveLength(1);
    const listed = await call(subscriptions());
    expect(listed.body.value.map((s: { id: string }) => s.id)).not.toContain(created.body.id);
  });
});
