import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackGateway } from './gateway';
import { call, registerAndReset, type Stack, startStack } from './stack';

// The webhook gateway contract's commands that finish later (docs/device-gateway.md): a gateway that takes a command
// and finishes it later is asked with a signed GET; a gateway that applied the passcode but whose answers are lost
// keeps the passcode in the app until the gateway says how it went, and an older gateway that cannot say leaves it
// shown (outcomeUnknown). DEVICE_RETRY_WINDOW_MINUTES=1: after a minute of lost answers the app stops sending and asks.
describe.concurrent('webhook commands that finish later', () => {
  const gateway = new LoopbackGateway();
  let stack: Stack;
  /** While true, the "lost-" devices' gateway applies passcodes but answers every POST and GET with 503. */
  let outage = true;
  beforeAll(async () => {
    gateway.fallback = (deviceId) => (deviceId.startsWith('lost-') && outage ? 'applyThen503' : 200);
    gateway.statusFallback = (deviceId) =>
      deviceId.startsWith('lost-') && outage ? 503 : deviceId.startsWith('old-') ? 405 : 'record';
    const url = await gateway.start();
    stack = await startStack({ ...gateway.settings(url, 1000), DEVICE_RETRY_WINDOW_MINUTES: '1' });
  });
  afterAll(async () => {
    await stack?.stop();
    await gateway.stop();
  });

  async function accept(deviceId: string) {
    const accepted = await registerAndReset(stack.api, deviceId);
    return `${stack.api}/deviceManagement/managedDevices/${deviceId}/deviceActionResults/${accepted.body.id}`;
  }

  async function until(url: string, done: (body: any) => boolean, seconds: number) {
    const end = Date.now() + seconds * 1000;
    for (;;) {
      const response = await call(url);
      if (done(response.body)) return response;
      if (Date.now() > end) throw new Error(`not reached in ${seconds} s: ${JSON.stringify(response.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('a gateway that answers "accepted": the action waits, is asked by signed GET, and ends done when it finishes', async () => {
    gateway.script.set('later-1', ['accepted']);
    const url = await accept('later-1');
    const waiting = await until(url, (body) => body.deviceCommand !== undefined, 20);
    expect(waiting.status).toBe(202);
    expect(waiting.body).toMatchObject({ actionState: 'active', deviceCommand: { state: 'waitingForDevice' } });
    const actionId = waiting.body.id;
    gateway.complete(actionId);
    const done = await until(url, (body) => body.actionState === 'done', 40);
    const [post] = gateway.callsFor('later-1');
    expect(done.body.passcode).toBe(post?.passcode);
    expect(gateway.callsFor('later-1')).toHaveLength(1);
    const gets = gateway.statusRequests.filter((r) => r.actionId === actionId);
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.every((r) => r.method === 'GET' && r.signatureValid)).toBe(true);
  });

  it('a gateway that applies but answers 503 until the retry window ends: the passcode is kept, and shown once asked', async () => {
    const url = await accept('lost-1');
    // Past the retry window the app stops sending and asks, instead of failing the action and dropping its passcode.
    const confirming = await until(url, (body) => body.deviceCommand?.state === 'confirming', 100);
    expect(confirming.body.actionState).toBe('active');
    const sends = gateway.callsFor('lost-1');
    expect(sends.length).toBeGreaterThan(2);
    expect(new Set(sends.map((c) => c.passcode)).size).toBe(1);
    outage = false;
    const done = await until(url, (body) => body.actionState === 'done', 60);
    expect(done.body.passcode).toBe(sends[0]?.passcode);
    expect(gateway.callsFor('lost-1')).toHaveLength(sends.length);
  });

  it('an older gateway that cannot be asked (405 to GET): the action ends outcomeUnknown, the passcode still shown', async () => {
    gateway.script.set(
      'old-1',
      Array.from({ length: 30 }, () => 'applyThen503' as const),
    );
    const url = await accept('old-1');
    const failed = await until(url, (body) => body.actionState === 'failed', 100);
    expect(failed.body.error.code).toBe('outcomeUnknown');
    expect(failed.body.passcode).toBe(gateway.callsFor('old-1')[0]?.passcode);
    expect(failed.body.passcodeExpirationDateTime).toBeDefined();
  });
});
