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
      await expect(subject.channel.apply(request)).resolves.toEqual({ outcome: 'applied' });
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });

    it('applies the same action once however often it is re-applied', async () => {
      const request = applyRequest();
      await subject.channel.apply(request);
      await expect(subject.channel.apply({ ...request })).resolves.toEqual({ outcome: 'applied' });
      await expect(subject.channel.apply({ ...request })).resolves.toEqual({ outcome: 'applied' });
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });

    it('applies a new action to the same device again', async () => {
      const first = applyRequest();
      await subject.channel.apply(first);
      const second = applyRequest({ deviceId: first.deviceId, passcode: '480351' });
      await expect(subject.channel.apply(second)).resolves.toEqual({ outcome: 'applied' });
      expect(await subject.appliedCount(first.deviceId)).toBe(2);
    });

    it('applies concurrent redeliveries of one action once', async () => {
      const request = applyRequest();
      const outcomes = await Promise.all([subject.channel.apply(request), subject.channel.apply({ ...request })]);
      expect(outcomes).toEqual([{ outcome: 'applied' }, { outcome: 'applied' }]);
      expect(await subject.appliedCount(request.deviceId)).toBe(1);
    });
  });
}
