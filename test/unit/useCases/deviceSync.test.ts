import { describe, expect, it } from 'vitest';
import type { Device } from '../../../lib/core/model';
import type { ManagedDeviceSource } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { recordPushedCommand } from '../../../lib/useCases/commandNotifications';
import { requestDeviceSync, syncDevicePage } from '../../../lib/useCases/deviceSync';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { callerWith, deviceFixture, makeTestServices } from '../../support/services';

const admin = callerWith('Passcode.Reset', 'Passcode.Read', 'Devices.Read');

function managed(id: string, syncedAt: Date, overrides: Partial<Device> = {}): Device {
  return {
    ...deviceFixture({ id, operatingSystem: 'Android', osVersion: '14' }),
    androidManagement: {
      name: `enterprises/LC01/devices/${id}`,
      managementMode: 'fullyManaged',
      ownership: 'companyOwned',
      state: 'active',
      syncedDateTime: syncedAt.toISOString(),
    },
    ...overrides,
  };
}

/** A source of `pages` pages of devices, synced "now" by the test clock. */
function source(t: ReturnType<typeof makeTestServices>, pages: string[][]): ManagedDeviceSource {
  return {
    listPage: async (pageToken) => {
      const index = pageToken ? Number(pageToken) : 0;
      const ids = pages[index] ?? [];
      return {
        devices: ids.map((id) => managed(id, t.clock.now())),
        skipped: 0,
        ...(index + 1 < pages.length && { nextPageToken: String(index + 1) }),
      };
    },
  };
}

async function runSync(t: ReturnType<typeof makeTestServices>) {
  await requestDeviceSync(t.services);
  const outcomes: string[] = [];
  for (let message = t.deviceSync.messages.shift(); message; message = t.deviceSync.messages.shift()) {
    outcomes.push(await syncDevicePage(t.services, message));
    t.clock.advance({ seconds: 1 });
  }
  return outcomes;
}

describe('the device inventory sync', () => {
  it('is there only with a channel that has an inventory (404 otherwise)', async () => {
    const t = makeTestServices();
    await expect(requestDeviceSync(t.services)).rejects.toMatchObject({ status: 404, code: 'notFound' });
  });

  it('reads page after page, each queueing the next, and writes every device', async () => {
    const t = makeTestServices();
    t.services.deviceSource = source(t, [['a1', 'a2'], ['a3'], ['a4']]);
    const outcomes = await runSync(t);
    expect(outcomes).toEqual([
      'page 1: 2 devices',
      'page 2: 1 devices',
      'page 3: 1 devices, last page, 0 marked deleted',
    ]);
    expect([...t.devices.devices.keys()].sort()).toEqual(['a1', 'a2', 'a3', 'a4']);
  });

  it('marks deleted (and keeps) the devices that left the enterprise; they cannot be reset', async () => {
    const t = makeTestServices({ settings: { deviceChannel: 'androidManagement' } });
    t.services.deviceSource = source(t, [['a1', 'a2', 'a3']]);
    await runSync(t);
    t.clock.advance({ minutes: 15 });
    t.services.deviceSource = source(t, [['a1', 'a3']]);
    expect(await runSync(t)).toEqual(['page 1: 2 devices, last page, 1 marked deleted']);

    expect(t.devices.devices.get('a2')?.androidManagement?.state).toBe('deleted');
    expect(t.devices.devices.get('a1')?.androidManagement?.state).toBe('active');
    await expect(requestPasscodeReset(t.services, { deviceId: 'a2', caller: admin })).rejects.toMatchObject({
      status: 409,
      code: 'deviceNotActive',
    });
    await expect(requestPasscodeReset(t.services, { deviceId: 'a1', caller: admin })).resolves.toMatchObject({
      kind: 'accepted',
    });
  });

  it('a device registered by PUT (not enrolled in the enterprise) cannot be reset with this channel', async () => {
    const t = makeTestServices({ settings: { deviceChannel: 'androidManagement' } });
    t.addDevice(deviceFixture({ id: 'manual', operatingSystem: 'Android', osVersion: '14' }));
    await expect(requestPasscodeReset(t.services, { deviceId: 'manual', caller: admin })).rejects.toMatchObject({
      code: 'deviceNotActive',
      message: expect.stringContaining('not enrolled'),
    });
  });
});

describe('pushed command statuses (Pub/Sub COMMAND notifications)', () => {
  async function waiting() {
    const t = makeTestServices({ settings: { deviceChannel: 'androidManagement' } });
    t.addDevice(managed('d1', t.clock.now()));
    const { action } = await requestPasscodeReset(t.services, { deviceId: 'd1', caller: admin });
    const message = t.queue.messages.shift();
    if (!message) throw new Error('nothing queued');
    t.channel.script = [{ status: 'waiting', reference: 'enterprises/LC01/devices/d1/operations/9' }];
    await applyPasscodeReset(t.services, message);
    return { t, actionId: action.id };
  }

  it('finishes the waiting action at once, without asking the channel', async () => {
    const { t, actionId } = await waiting();
    const pushed = {
      deviceId: 'd1',
      reference: 'enterprises/LC01/devices/d1/operations/9',
      status: { status: 'applied' } as const,
    };
    await expect(recordPushedCommand(t.services, pushed)).resolves.toBe('recorded');
    expect((await t.actions.get('d1', actionId))?.value.actionState).toBe('done');
    expect(t.channel.checks).toEqual([]);
    // A repeat of the push (Pub/Sub delivers at least once) changes nothing.
    await expect(recordPushedCommand(t.services, pushed)).resolves.toBe('unknownCommand');
  });

  it('ignores a push for another command or device, and one that is still pending', async () => {
    const { t, actionId } = await waiting();
    const operation = (n: number) => `enterprises/LC01/devices/d1/operations/${n}`;
    const applied = { status: 'applied' } as const;
    const pushes = [
      { deviceId: 'd1', reference: operation(8), status: applied, answer: 'unknownCommand' },
      { deviceId: 'd2', reference: operation(9), status: applied, answer: 'unknownCommand' },
      {
        deviceId: 'd1',
        reference: operation(9),
        status: { status: 'waiting', reference: 'x' },
        answer: 'stillWaiting',
      },
    ] as const;
    for (const { answer, ...push } of pushes) {
      await expect(recordPushedCommand(t.services, push)).resolves.toBe(answer);
    }
    expect((await t.actions.get('d1', actionId))?.value.actionState).toBe('active');
  });
});
