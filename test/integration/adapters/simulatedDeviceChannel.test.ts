import crypto, { randomBytes } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  SimulatedDeviceChannel,
  type SimulatedDeviceChannelOptions,
} from '../../../lib/adapters/simulatedDeviceChannel';
import { TransientError } from '../../../lib/core/errors';
import { applyRequest, describeDeviceChannelContract } from '../../support/deviceChannelContract';

// Table names: 3-63 letters and digits, starting with a letter; unique per run so files never share state.
const TABLE = `sim${Date.now()}${randomBytes(4).toString('hex')}`;
const clock = { now: () => new Date('2026-11-26T10:00:00Z') };
const neverFail = () => 999_999;
const UNLOCKED = { outcome: 'unlocked' };
const WRONG = { outcome: 'wrongPasscode' };

let table: TableClient;
const channel = (options: Partial<SimulatedDeviceChannelOptions> = {}) =>
  new SimulatedDeviceChannel(table, { latencyMs: 0, transientFailureRate: 0, randomInt: neverFail, clock, ...options });

beforeAll(() => {
  table = TableClient.fromConnectionString(inject('storageConnectionString'), TABLE, {
    allowInsecureConnection: true,
  });
});
afterAll(() => table.deleteTable());

describe('SimulatedDeviceChannel', () => {
  it('unlocks with the applied passcode only', async () => {
    const sim = channel();
    const request = applyRequest({ passcode: '729403' });
    await expect(sim.send(request)).resolves.toEqual({ status: 'applied' });

    expect(await sim.unlock(request.deviceId, '729403')).toEqual(UNLOCKED);
    expect(await sim.unlock(request.deviceId, '729404')).toEqual(WRONG);
    expect(await sim.unlock(request.deviceId, '')).toEqual(WRONG);
  });

  it('locks after 5 wrong passcodes, refuses even the right one until the delay ends, and escalates', async () => {
    let now = new Date('2026-11-26T10:00:00Z');
    const sim = channel({ clock: { now: () => now }, verifierCost: 1024 });
    const request = applyRequest({ passcode: '729403' });
    await sim.send(request);
    const later = (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    };

    for (let i = 0; i < 4; i++) expect(await sim.unlock(request.deviceId, `00000${i}`)).toEqual(WRONG);
    expect(await sim.unlock(request.deviceId, '000009')).toEqual(WRONG); // the 5th wrong one locks the device
    expect(await sim.unlock(request.deviceId, '729403')).toEqual({ outcome: 'locked', retryAfterSeconds: 60 });
    later(59);
    expect(await sim.unlock(request.deviceId, '729403')).toEqual({ outcome: 'locked', retryAfterSeconds: 1 });
    later(1);
    expect(await sim.unlock(request.deviceId, '111111')).toEqual(WRONG); // the 6th: 5 minutes
    expect(await sim.unlock(request.deviceId, '729403')).toEqual({ outcome: 'locked', retryAfterSeconds: 300 });
    later(300);
    expect(await sim.unlock(request.deviceId, '222222')).toEqual(WRONG); // the 7th: 15 minutes
    expect(await sim.unlock(request.deviceId, '729403')).toMatchObject({ retryAfterSeconds: 900 });
    later(900);
    expect(await sim.unlock(request.deviceId, '333333')).toEqual(WRONG); // the 8th and later: an hour
    expect(await sim.unlock(request.deviceId, '729403')).toMatchObject({ retryAfterSeconds: 3600 });
    later(3600);
    // The right passcode unlocks and clears the count: five more wrong ones are allowed again.
    expect(await sim.unlock(request.deviceId, '729403')).toEqual(UNLOCKED);
    for (let i = 0; i < 4; i++) expect(await sim.unlock(request.deviceId, '444444')).toEqual(WRONG);
    expect(await sim.unlock(request.deviceId, '729403')).toEqual(UNLOCKED);
  });

  it('counts parallel guesses too: 20 at once get at most 5 checks', async () => {
    const sim = channel({ verifierCost: 1024 });
    const request = applyRequest({ passcode: '729403' });
    await sim.send(request);
    // An attempt that keeps losing the race to count itself is refused as locked (429 to the caller): never a check,
    // never a failure.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sim.unlock(request.deviceId, String(100000 + i))),
    );
    const checked = results.filter((r) => r.outcome === 'wrongPasscode');
    expect(checked.length).toBeLessThanOrEqual(5);
    expect(results.filter((r) => r.outcome === 'locked').length).toBe(20 - checked.length);
    expect(await sim.unlock(request.deviceId, '729403')).toMatchObject({ outcome: 'locked' });
  });

  it('runs at most 2 passcode checks at once, however many devices are unlocked together', async () => {
    const sim = channel({ verifierCost: 1024 });
    const requests = Array.from({ length: 8 }, () => applyRequest({ passcode: '729403' }));
    for (const request of requests) await sim.send(request);
    let running = 0;
    let most = 0;
    const scrypt = crypto.scrypt;
    // Counts scrypt calls in flight; the named import the adapter holds sees the spy once the builtin's ESM exports
    // are synced with its CommonJS object.
    const spy = vi.spyOn(crypto, 'scrypt').mockImplementation(((...args: Parameters<typeof scrypt>) => {
      running++;
      most = Math.max(most, running);
      const callback = args.at(-1) as (error: Error | null, key: Buffer) => void;
      return scrypt(...(args.slice(0, -1) as [string, Buffer, number, crypto.ScryptOptions]), (error, key) => {
        running--;
        callback(error, key);
      });
    }) as typeof scrypt);
    syncBuiltinESMExports();
    try {
      const results = await Promise.all(requests.map((request) => sim.unlock(request.deviceId, '729403')));
      expect(results).toEqual(requests.map(() => UNLOCKED));
      expect(spy).toHaveBeenCalledTimes(requests.length);
      expect(most).toBe(2);
    } finally {
      spy.mockRestore();
      syncBuiltinESMExports();
    }
  });

  it('answers parallel right passcodes without an error: they unlock or, counted past the limit, are locked', async () => {
    const sim = channel({ verifierCost: 1024 });
    const request = applyRequest({ passcode: '729403' });
    await sim.send(request);
    const results = await Promise.all(Array.from({ length: 20 }, () => sim.unlock(request.deviceId, '729403')));
    expect(results.filter((r) => r.outcome === 'unlocked').length).toBeGreaterThan(0);
    expect(results.every((r) => r.outcome === 'unlocked' || r.outcome === 'locked')).toBe(true);
  });

  it('says wrongPasscode for unknown and invalid device ids', async () => {
    const sim = channel();
    expect(await sim.unlock('never-seen-device', '729403')).toEqual(WRONG);
    expect(await sim.unlock('bad/id', '729403')).toEqual(WRONG);
    expect(await sim.inspect('never-seen-device')).toBeUndefined();
  });

  it('replaces the passcode when a new action is applied', async () => {
    const sim = channel();
    const first = applyRequest({ passcode: '729403' });
    await sim.send(first);
    await sim.send(applyRequest({ deviceId: first.deviceId, passcode: '480351' }));

    expect(await sim.unlock(first.deviceId, '729403')).toEqual(WRONG);
    expect(await sim.unlock(first.deviceId, '480351')).toEqual(UNLOCKED);
  });

  it('applies one action once: the same actionId twice counts one passcode', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.send(request);
    await expect(sim.send({ ...request })).resolves.toEqual({ status: 'applied' });

    expect(await sim.inspect(request.deviceId)).toEqual({
      appliedCount: 1,
      applyCalls: 2,
      lastActionId: request.actionId,
    });
  });

  it('reports passcodeMismatch when one action comes with a second passcode (invariant 2 broken)', async () => {
    const sim = channel();
    const request = applyRequest({ passcode: '729403' });
    await sim.send(request);
    await expect(sim.send({ ...request, passcode: '480351' })).resolves.toMatchObject({
      status: 'failed',
      code: 'passcodeMismatch',
    });
    expect(await sim.unlock(request.deviceId, '729403')).toEqual(UNLOCKED);
    expect((await sim.inspect(request.deviceId))?.appliedCount).toBe(1);
  });

  it('fails transiently as scripted, then applies', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.script(request.deviceId, { transientFailures: 2 });

    await expect(sim.send(request)).rejects.toBeInstanceOf(TransientError);
    await expect(sim.send(request)).rejects.toBeInstanceOf(TransientError);
    await expect(sim.send(request)).resolves.toEqual({ status: 'applied' });
    expect(await sim.unlock(request.deviceId, request.passcode)).toEqual(UNLOCKED);
    expect(await sim.inspect(request.deviceId)).toMatchObject({ appliedCount: 1, applyCalls: 3 });
  });

  it('counts down scripted transient failures once each under concurrent applies', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.script(request.deviceId, { transientFailures: 2 });

    const results = await Promise.allSettled([sim.send(request), sim.send(request), sim.send(request)]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('fails permanently as scripted, on every apply', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.script(request.deviceId, { permanentFailure: { code: 'deviceWiped', message: 'the device was wiped' } });

    const failed = { status: 'failed', code: 'deviceWiped', message: 'the device was wiped' };
    await expect(sim.send(request)).resolves.toEqual(failed);
    await expect(sim.send(request)).resolves.toEqual(failed);
    expect(await sim.unlock(request.deviceId, request.passcode)).toEqual(WRONG);
    expect(await sim.inspect(request.deviceId)).toEqual({ appliedCount: 0, applyCalls: 2 });
  });

  it('reports notSupported as scripted', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.script(request.deviceId, { notSupported: true });
    await expect(sim.send(request)).resolves.toMatchObject({ status: 'notSupported', code: 'simulatedNotSupported' });
  });

  it('injects random transient failures at the configured rate and waits the configured latency', async () => {
    const sleep = vi.fn(async () => {});
    const always = channel({ transientFailureRate: 1, latencyMs: 250, sleep, randomInt: () => 999_999 });
    const error = await always.send(applyRequest()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe('simulated device did not answer');
    expect(sleep).toHaveBeenCalledWith(250);

    // rate 0.25: draws below 250000 fail, the rest pass.
    await expect(
      channel({ transientFailureRate: 0.25, randomInt: () => 249_999 }).send(applyRequest()),
    ).rejects.toThrow(TransientError);
    await expect(
      channel({ transientFailureRate: 0.25, randomInt: () => 250_000 }).send(applyRequest()),
    ).resolves.toEqual({
      status: 'applied',
    });
  });

  it('never stores the plaintext passcode', async () => {
    const sim = channel();
    const request = applyRequest({ passcode: '729403' });
    await sim.send(request);

    const raw = await table.getEntity<Record<string, unknown>>(request.deviceId, 'device');
    const values = Object.values(raw).map((value) => String(value));
    expect(values.length).toBeGreaterThan(3);
    for (const value of values) expect(value).not.toContain('729403');
    // The verifier is salted: the same passcode on another device gives another verifier.
    const other = applyRequest({ passcode: '729403' });
    await sim.send(other);
    const rawOther = await table.getEntity<Record<string, unknown>>(other.deviceId, 'device');
    expect(rawOther.passcodeVerifier).toMatch(/^scrypt\$/);
    expect(rawOther.passcodeVerifier).not.toBe(raw.passcodeVerifier);
  });

  it('turns a storage outage into TransientError', async () => {
    const unreachable = TableClient.fromConnectionString(
      inject('storageConnectionString').replace(
        /TableEndpoint=http:\/\/127\.0\.0\.1:\d+/,
        'TableEndpoint=http://127.0.0.1:9',
      ),
      TABLE,
      { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } },
    );
    const sim = new SimulatedDeviceChannel(unreachable, {
      latencyMs: 0,
      transientFailureRate: 0,
      randomInt: neverFail,
      clock,
    });
    await expect(sim.send(applyRequest())).rejects.toBeInstanceOf(TransientError);
  });
});

describe('SimulatedDeviceChannel: an offline device', () => {
  it('keeps the command waiting, runs it when it comes back, and the passcode then unlocks it', async () => {
    const sim = channel();
    const request = applyRequest({ passcode: '729403' });
    await sim.script(request.deviceId, { offline: true });
    const sent = { actionId: request.actionId, deviceId: request.deviceId };

    await expect(sim.send(request)).resolves.toEqual({ status: 'waiting', reference: request.actionId });
    await expect(sim.check(sent)).resolves.toMatchObject({ status: 'waiting' });
    await expect(sim.unlock(request.deviceId, '729403')).resolves.toEqual(WRONG);
    // A resend of the same action (a lost answer) must carry the same passcode: still waiting, never a second one.
    await expect(sim.send({ ...request })).resolves.toMatchObject({ status: 'waiting' });
    await expect(sim.send({ ...request, passcode: '480351' })).resolves.toMatchObject({ code: 'passcodeMismatch' });

    await sim.script(request.deviceId, { offline: false });
    await expect(sim.check(sent)).resolves.toEqual({ status: 'applied' });
    await expect(sim.check(sent)).resolves.toEqual({ status: 'applied' });
    await expect(sim.unlock(request.deviceId, '729403')).resolves.toEqual(UNLOCKED);
    expect(await sim.inspect(request.deviceId)).toMatchObject({ appliedCount: 1, lastActionId: request.actionId });
  });

  it('cancels a waiting command: it never runs, and the device reports it canceled', async () => {
    const sim = channel();
    const request = applyRequest({ passcode: '729403' });
    await sim.script(request.deviceId, { offline: true });
    const sent = { actionId: request.actionId, deviceId: request.deviceId };
    await sim.send(request);

    await expect(sim.cancel(sent)).resolves.toBe(true);
    await sim.script(request.deviceId, { offline: false });
    await expect(sim.check(sent)).resolves.toEqual({ status: 'canceled' });
    expect((await sim.inspect(request.deviceId))?.appliedCount).toBe(0);
  });

  it('reports the last contact of a device that went offline', async () => {
    const sim = channel();
    const request = applyRequest();
    await sim.send(request);
    await sim.script(request.deviceId, { offline: true });
    const next = applyRequest({ deviceId: request.deviceId });
    await expect(sim.send(next)).resolves.toEqual({
      status: 'waiting',
      reference: next.actionId,
      deviceLastSeenDateTime: clock.now().toISOString(),
    });
  });
});

describeDeviceChannelContract('simulated (Azurite)', async () => {
  const sim = channel();
  return { channel: sim, appliedCount: async (deviceId) => (await sim.inspect(deviceId))?.appliedCount ?? 0 };
});
