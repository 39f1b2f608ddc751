import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDeviceChannel } from '../../lib/adapters/simulatedDeviceChannel';
import { tableClient } from '../../lib/adapters/tableClients';
import { STORAGE_NAMES } from '../../lib/deps';
import { spawnHost } from '../../tools/host/spawnHost';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

// Crash point: the worker process dies (SIGKILL) after claiming the action and storing its passcode, while the
// device is still applying it. A new host must finish the action with the stored passcode, never a second one.
describe('a host killed in the middle of applying a passcode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      SIMULATOR_LATENCY_MS: '3000',
      LOCAL_FUNCTIONS_HOST_QUEUE_LEASE_SECONDS: '2',
      // The worker's claim outlives its process: a short one keeps the test short (the mechanism is the same).
      WORKER_LEASE_SECONDS: '3',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is finished by the next host with the one stored passcode, which unlocks the device', async () => {
    const device = 'crash-ios';
    await call(`${stack.api}/deviceManagement/managedDevices/${device}`, {
      method: 'PUT',
      json: { deviceName: 'Crash iPhone', operatingSystem: 'iOS', osVersion: '17.5' },
    });
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${device}/resetPasscode`, {
      method: 'POST',
    });
    expect(accepted.status).toBe(202);
    const statusUrl = `${stack.api}/deviceManagement/managedDevices/${device}/deviceActionResults/${accepted.body.id}`;

    // Wait until a worker has claimed it (active), then kill the host mid-apply.
    for (let i = 0; i < 50; i++) {
      if ((await call(statusUrl)).body.actionState === 'active') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await call(statusUrl)).body.actionState).toBe('active');
    const actions = tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.actions);
    const sealed = async () =>
      (await actions.getEntity<{ passcodeCiphertext?: string }>(device, `action_${accepted.body.id}`))
        .passcodeCiphertext;
    const sealedBeforeCrash = await sealed();
    expect(sealedBeforeCrash).toBeTruthy();
    stack.host.kill();
    await stack.host.exited;

    const simulator = new SimulatedDeviceChannel(
      tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.simulator),
      {
        latencyMs: 0,
        transientFailureRate: 0,
        randomInt,
        clock: { now: () => new Date() },
      },
    );
    expect((await simulator.inspect(device))?.appliedCount ?? 0).toBe(0);

    stack.host = await spawnHost({ appDir: process.cwd(), env: stack.env, port: 0 });
    stack.api = `${stack.host.url}/api`;
    const { final } = await pollLikeLogicApps(await call(statusUrl.replace(/^http:\/\/[^/]+\/api/, stack.api)));
    expect(final.body.actionState).toBe('done');
    // The same ciphertext: the passcode was generated once, before the crash, and reused after it.
    expect(await sealed()).toBe(sealedBeforeCrash);
    const info = await simulator.inspect(device);
    expect(info?.appliedCount).toBe(1);
    expect(info?.lastActionId).toBe(accepted.body.id);
    const unlock = await call(`${stack.api}/simulator/managedDevices/${device}/unlock`, {
      method: 'POST',
      json: { passcode: final.body.passcode },
    });
    expect(unlock.status).toBe(200);
  });
});
