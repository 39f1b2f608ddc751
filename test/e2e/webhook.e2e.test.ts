import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackGateway } from './gateway';
import { call, pollLikeLogicApps, registerAndReset, type Stack, startStack } from './stack';

describe('the webhook device channel end to end, against a gateway on loopback', () => {
  const gateway = new LoopbackGateway();
  let stack: Stack;
  beforeAll(async () => {
    const url = await gateway.start();
    stack = await startStack(gateway.settings(url, 300));
  });
  afterAll(async () => {
    await stack?.stop();
    await gateway.stop();
  });

  async function resetDevice(deviceId: string) {
    const { final } = await pollLikeLogicApps(await registerAndReset(stack.api, deviceId));
    return { final, calls: gateway.received.filter((r) => r.deviceId === deviceId) };
  }

  it('a 5xx then a 2xx ends done, with the one passcode sent twice and shown to the admin', async () => {
    gateway.script.set('wh-flaky', [503]);
    const { final, calls } = await resetDevice('wh-flaky');
    expect(final.body.actionState).toBe('done');
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.signatureValid)).toBe(true);
    expect(new Set(calls.map((c) => c.passcode))).toEqual(new Set([final.body.passcode]));
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([final.body.id]));
  });

  it("the gateway call belongs to the reset request's trace (W3C traceparent through the queue)", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await call(`${stack.api}/deviceManagement/managedDevices/wh-traced`, {
      method: 'PUT',
      json: { deviceName: 'wh-traced', operatingSystem: 'iOS', osVersion: '17.5' },
    });
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/wh-traced/resetPasscode`, {
      method: 'POST',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(accepted.status).toBe(202);
    await pollLikeLogicApps(accepted);
    const [first] = gateway.callsFor('wh-traced');
    expect(first?.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it("a 4xx ends failed with the gateway's error code, without retrying", async () => {
    gateway.script.set('wh-rejected', [404]);
    const { final, calls } = await resetDevice('wh-rejected');
    expect(final.body).toMatchObject({ actionState: 'failed', error: { code: 'deviceNotEnrolled' } });
    expect(final.body.passcode).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it('a hung gateway times out and the action is retried to done with the same passcode', async () => {
    gateway.script.set('wh-hung', ['hang']);
    const { final, calls } = await resetDevice('wh-hung');
    expect(final.body.actionState).toBe('done');
    expect(calls).toHaveLength(2);
    expect(calls[0]?.passcode).toBe(calls[1]?.passcode);
    expect(calls[1]?.passcode).toBe(final.body.passcode);
  });
});
