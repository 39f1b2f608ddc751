import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackGateway } from './gateway';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

const OUTAGE_MS = 3 * 60_000;
const RETRY_AFTER_SECONDS = 30;

// A device gateway that is down for three minutes, asking callers to come back in 30 seconds: the action must stay
// active (with its error and next attempt visible), keep its one passcode, respect Retry-After, and end done.
describe('a device gateway outage of three minutes', () => {
  const gateway = new LoopbackGateway();
  let stack: Stack;
  beforeAll(async () => {
    const url = await gateway.start();
    stack = await startStack(gateway.settings(url));
  });
  afterAll(async () => {
    await stack?.stop();
    await gateway.stop();
  });

  it(
    'ends done after the outage, every attempt with the same passcode, spaced by at least the Retry-After',
    async () => {
      const device = 'outage-ios';
      await call(`${stack.api}/deviceManagement/managedDevices/${device}`, {
        method: 'PUT',
        json: { deviceName: 'Outage iPhone', operatingSystem: 'iOS', osVersion: '17.5' },
      });
      const outageEnds = Date.now() + OUTAGE_MS;
      gateway.fallback = () => (Date.now() < outageEnds ? { status: 503, retryAfter: RETRY_AFTER_SECONDS } : 200);

      const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${device}/resetPasscode`, {
        method: 'POST',
      });
      expect(accepted.status).toBe(202);
      // While the device is down the action is active and says why and when it is tried next.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const during = await call(accepted.headers.get('location') ?? '');
      expect(during.status).toBe(202);
      expect(during.body).toMatchObject({
        actionState: 'active',
        lastError: { code: 'deviceUnreachable', message: 'the device gateway answered 503' },
        nextAttemptDateTime: expect.any(String),
      });

      const { final } = await pollLikeLogicApps(accepted, { maxPolls: 200 });
      expect(final.body.actionState).toBe('done');

      const calls = gateway.callsFor(device);
      expect(calls.length).toBeGreaterThanOrEqual(OUTAGE_MS / 1000 / RETRY_AFTER_SECONDS);
      expect(new Set(calls.map((c) => c.passcode))).toEqual(new Set([final.body.passcode]));
      for (let i = 1; i < calls.length; i++) {
        const gap = (calls[i]?.at ?? 0) - (calls[i - 1]?.at ?? 0);
        expect(gap, `gap before attempt ${i + 1}`).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 50);
      }
      expect(calls.at(-1)?.at ?? 0).toBeGreaterThanOrEqual(outageEnds);
    },
    OUTAGE_MS + 90_000,
  );
});
