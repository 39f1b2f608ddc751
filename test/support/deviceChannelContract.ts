import { beforeEach, describe, expect, it } from 'vitest';
import type { ApplyPasscodeRequest, DeviceChannel } from '../../lib/ports';

/** One implementation under test, plus a probe of what the device side saw. */
export interface DeviceChannelUnderTest {
  channel: DeviceChannel;
  /** Distinct actions the device (or gateway) really applied for `deviceId`. */
  appliedCount(deviceId: string): Promise<number>;
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${++sequence}`;

/** A valid request for a fresh device and action; ids are unique per call so suites can share storage. */
export function applyRequest(overrides: Partial<ApplyPasscodeRequest> = {}): ApplyPasscodeRequest {
  return {
    actionId: unique('action'),
    deviceId: unique('device'),
    operatingSystem: 'iOS',
    osVersion: '16.4.1',
    policy: { minLength: 6, characters: 'numeric', complex: true },
    passcode: '729403',
    ...overrides,
  };
}

/** The DeviceChannel port contract (lib/ports.ts), registered as a describe block for one implementation. */
export function describeDeviceChannelContract(name: string, create: () => Promise<DeviceChannelUnderTest>): void {
  describe(`DeviceChannel contract: ${name}`, () => {
    let subject: DeviceChannelUnderTest;
    beforeEach(async () => {
      subject = await create();
    });

    it('applies a passcode to a device', async () => {
      const request = applyRequest();
      await expect(subject.channel.send(request)).resolves.toEqual({ status: 'applied' });
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });

    it('applies the same action once however often it is re-applied', async () => {
      const request = applyRequest();
      await subject.channel.send(request);
      await expect(subject.channel.send({ ...request })).resolves.toEqual({ status: 'applied' });
      await expect(subject.channel.send({ ...request })).resolves.toEqual({ status: 'applied' });
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });

    it('applies a new action to the same device again', async () => {
      const first = applyRequest();
      await subject.channel.send(first);
      const second = applyRequest({ deviceId: first.deviceId, passcode: '480351' });
      await expect(subject.channel.send(second)).resolves.toEqual({ status: 'applied' });
      expect(await subject.appliedCount(first.deviceId)).toBe(2);
    });

    it('reports a command it applied as applied when asked later, and one it never received as failed', async () => {
      const request = applyRequest();
      await subject.channel.send(request);
      const sent = { actionId: request.actionId, deviceId: request.deviceId };
      await expect(subject.channel.check(sent)).resolves.toEqual({ status: 'applied' });
      const never = { actionId: applyRequest().actionId, deviceId: request.deviceId };
      // "Not received" is a definite answer: the app may then drop the passcode (docs/DESIGN.md invariant 7).
      await expect(subject.channel.check(never)).resolves.toMatchObject({ status: 'failed' });
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });

    it('applies concurrent redeliveries of one action once', async () => {
      const request = applyRequest();
      const outcomes = await Promise.all([subject.channel.send(request), subject.channel.send({ ...request })]);
      expect(outcomes).toEqual([{ status: 'applied' }, { status: 'applied' }]);
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });
  });
}
