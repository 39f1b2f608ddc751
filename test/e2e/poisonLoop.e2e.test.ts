import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../../lib/adapters/tableClients';
import { STORAGE_NAMES } from '../../lib/deps';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

// The poison loop (issue 19): work that always throws after it claimed the action. Before, every redelivery found its
// own live claim, sent itself a fresh message and completed, so the dequeue count never grew and the action went round
// every ~35 s for 24 hours, calling the device channel each time. Here the simulated device's stored state is broken
// (a stand-in for a channel bug): every send throws an unexpected error after the claim. The host redelivers the
// message; its second delivery takes its own claim over once; the third ends the action without calling the channel.
describe('work that always throws after the claim', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('ends the action within a minute, after two sends and three deliveries, with the passcode kept as unknown', async () => {
    const device = 'poison-loop-ios';
    const put = await call(`${stack.api}/deviceManagement/managedDevices/${device}`, {
      method: 'PUT',
      json: { deviceName: 'Poison iPhone', operatingSystem: 'iOS', osVersion: '17.5' },
    });
    expect(put.status).toBe(201);
    const simulator = tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.simulator);
    await simulator.createTable();
    // A count the simulator cannot read: each send fails with an error that is neither the device's nor storage's.
    await simulator.upsertEntity({ partitionKey: device, rowKey: 'device', appliedCount: 'not a number' }, 'Replace');

    const started = Date.now();
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${device}/resetPasscode`, {
      method: 'POST',
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted);
    const seconds = (Date.now() - started) / 1000;

    expect(final.status).toBe(200);
    // The new passcode may have reached the device before the error: it is shown, marked as unknown.
    expect(final.body).toMatchObject({ actionState: 'failed', error: { code: 'outcomeUnknown' } });
    expect(final.body.passcode).toMatch(/^\d{6}$/);

    const logs = stack.host.logs();
    const invocations = logs.match(/Executed 'Functions\.resetPasscodeWorker' \((Succeeded|Failed)/g) ?? [];
    const failed = invocations.filter((line) => line.includes('Failed'));
    const actions = tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.actions);
    const stored = await actions.getEntity<{ attempts: number }>(device, `action_${accepted.body.id}`);
    console.log(
      `poison loop: ended ${final.body.actionState}:${final.body.error.code} after ${seconds.toFixed(1)} s; ` +
        `${invocations.length} deliveries (${failed.length} threw after claiming), ${stored.attempts} claims`,
    );
    // Two deliveries threw (the first, and the one that took its own claim over), the third ended the action.
    expect(failed.length).toBe(2);
    expect(invocations.length).toBe(3);
    expect(stored.attempts).toBe(2);
    expect(logs).toContain(`reset ${accepted.body.id}: failed (delivery 3`);
    expect(logs).not.toContain(final.body.passcode);
    expect(seconds).toBeLessThan(60);
    // Nothing more happens to it: no further delivery after it ended.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(stack.host.logs().match(/Executing 'Functions\.resetPasscodeWorker'/g)?.length).toBe(3);
  });
});
