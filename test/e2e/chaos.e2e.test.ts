import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost } from '../../tools/host/spawnHost';
import { LoopbackGateway } from './gateway';
import { call, callRetrying, type Stack, startStack } from './stack';

const DEVICES = 200;

interface ActionResult {
  id: string;
  deviceId: string;
  actionState: string;
  passcode?: string;
}

// 200 resets in flight while the host is killed (SIGKILL) twice and restarted: no action may be lost, every one must
// end terminal, and every done action must show the passcode the device received last.
describe('chaos: the host killed twice while 200 resets drain', () => {
  const gateway = new LoopbackGateway();
  let stack: Stack;
  beforeAll(async () => {
    const url = await gateway.start();
    gateway.latencyMs = 400;
    stack = await startStack({
      ...gateway.settings(url),
      MAX_RESETS_PER_DEVICE_PER_DAY: '10',
      // Shorter than the defaults so that the test takes seconds: the mechanisms are the same.
      WORKER_LEASE_SECONDS: '4',
      LOCAL_FUNCTIONS_HOST_QUEUE_LEASE_SECONDS: '3',
      STUCK_AFTER_SECONDS: '15',
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await gateway.stop();
  });

  async function allActions(): Promise<ActionResult[]> {
    const results: ActionResult[] = [];
    let url: string | undefined = `${stack.api}/deviceManagement/deviceActionResults?$top=100`;
    while (url) {
      const page = await call(url);
      expect(page.status).toBe(200);
      results.push(...page.body.value);
      url = page.body['@odata.nextLink']?.replace(/^http:\/\/[^/]+\/api/, stack.api);
    }
    return results;
  }

  async function gatewayCalls(count: number) {
    const deadline = Date.now() + 60_000;
    while (gateway.received.length < count) {
      if (Date.now() > deadline) throw new Error(`the gateway got ${gateway.received.length} calls, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function killAndRestart() {
    stack.host.kill();
    await stack.host.exited;
    stack.host = await spawnHost({ appDir: process.cwd(), env: stack.env, port: 0 });
    stack.api = `${stack.host.url}/api`;
  }

  it('ends with every action terminal, none lost, and each shown passcode the last one its device received', async () => {
    const ids = Array.from({ length: DEVICES }, (_, i) => `chaos-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < ids.length; i += 20) {
      const stored = await Promise.all(
        ids.slice(i, i + 20).map((id) =>
          callRetrying(`${stack.api}/deviceManagement/managedDevices/${id}`, {
            method: 'PUT',
            json: { deviceName: id, operatingSystem: 'iOS', osVersion: '17.5' },
          }),
        ),
      );
      for (const response of stored) expect([200, 201]).toContain(response.status);
    }
    // 200 requests at once may overload a small machine's storage: the app then answers 503 with Retry-After, and
    // the caller retries with the same Idempotency-Key, as an automation does. Every reset must end up accepted once.
    const accepted = await Promise.all(
      ids.map((id) =>
        callRetrying(`${stack.api}/deviceManagement/managedDevices/${id}/resetPasscode`, {
          method: 'POST',
          headers: { 'Idempotency-Key': `chaos-${id}` },
        }),
      ),
    );
    expect(accepted.map((a) => a.status)).toEqual(ids.map(() => 202));
    expect(new Set(accepted.map((a) => a.body.id)).size).toBe(DEVICES);
    const retried = accepted.filter((a) => a.retries > 0).length;
    if (retried > 0) console.log(`chaos: ${retried} of ${DEVICES} resets were retried after a 503`);

    // Kill the host twice while the queue drains, each time right after the gateway received a few more calls: those
    // calls are still waiting out the gateway's latency, so each kill interrupts work in progress, whatever the
    // machine's speed.
    await gatewayCalls(30);
    await killAndRestart();
    await gatewayCalls(gateway.received.length + 30);
    await killAndRestart();

    let actions: ActionResult[] = [];
    const deadline = Date.now() + 150_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      actions = await allActions();
    } while (
      actions.some((a) => !['done', 'failed', 'canceled', 'notSupported'].includes(a.actionState)) &&
      Date.now() < deadline
    );

    expect(actions).toHaveLength(DEVICES);
    expect(new Set(actions.map((a) => a.id))).toEqual(new Set(accepted.map((a) => a.body.id)));
    const states: Record<string, number> = {};
    for (const a of actions) states[a.actionState] = (states[a.actionState] ?? 0) + 1;
    expect(states).toEqual({ done: DEVICES });
    for (const action of actions) {
      const calls = gateway.callsFor(action.deviceId);
      expect(calls.length, action.deviceId).toBeGreaterThan(0);
      expect(action.passcode, action.deviceId).toBe(calls.at(-1)?.passcode);
      expect(new Set(calls.map((c) => c.passcode)).size, `${action.deviceId} got one passcode`).toBe(1);
    }
    // The kills interrupted work in progress: some devices were called more than once.
    expect(gateway.received.length).toBeGreaterThan(DEVICES);
    console.info(
      `chaos: ${gateway.received.length} gateway calls for ${DEVICES} resets, states ${JSON.stringify(states)}`,
    );
  }, 240_000);
});
