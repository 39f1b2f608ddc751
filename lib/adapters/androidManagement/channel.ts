import type { CommandStatus, Device } from '../../core/model';
import type { ApplyPasscodeRequest, Clock, DeviceChannel, ManagedDeviceSource, SentCommand } from '../../ports';
import {
  type AndroidManagementApi,
  commandStatusOf,
  deviceFromApi,
  deviceName,
  resetPasswordCommand,
  statusOfFailure,
} from './operations';

export interface AndroidManagementChannelOptions {
  /** ANDROID_MANAGEMENT_ENTERPRISE: `enterprises/{enterpriseId}`. */
  enterprise: string;
  api: AndroidManagementApi;
  /** ANDROID_MANAGEMENT_COMMAND_HOURS: how long a command may wait for the device. */
  commandHours: number;
  /** ANDROID_MANAGEMENT_LOCK_NOW */
  lockNow: boolean;
  clock: Clock;
}

/**
 * Resets passcodes through Google's Android Management API: issueCommand RESET_PASSWORD with the generated passcode,
 * then the returned operation until the device has run it (operations.get, or a Pub/Sub push, docs/android-management.md).
 * issueCommand is not idempotent: a send whose answer was lost is sent again, with the same passcode, so whichever
 * command the device runs, it gets that passcode.
 */
export class AndroidManagementChannel implements DeviceChannel {
  constructor(private readonly options: AndroidManagementChannelOptions) {}

  async send(request: ApplyPasscodeRequest): Promise<CommandStatus> {
    const { enterprise, commandHours, lockNow, clock } = this.options;
    const command = resetPasswordCommand(request.passcode, commandHours, lockNow);
    try {
      const operation = await this.options.api.issueCommand(deviceName(enterprise, request.deviceId), command);
      return commandStatusOf(operation, clock.now());
    } catch (error) {
      return statusOfFailure(error, 'send', clock.now());
    }
  }

  /** The command's operation; while the device has not run it, also the device's last contact. */
  async check(command: SentCommand): Promise<CommandStatus> {
    const { clock, enterprise } = this.options;
    if (!command.reference) {
      return {
        status: 'unknown',
        message:
          "The Android Management API never returned the command's operation, so its outcome cannot be looked up",
      };
    }
    try {
      const { api } = this.options;
      const status = commandStatusOf(await api.getOperation(command.reference), clock.now());
      if (status.status !== 'waiting') return status;
      const device = await api.getDevice(deviceName(enterprise, command.deviceId));
      const lastSeen = device.lastStatusReportTime ? new Date(device.lastStatusReportTime).toISOString() : undefined;
      return { ...status, ...(lastSeen && { deviceLastSeenDateTime: lastSeen }) };
    } catch (error) {
      return statusOfFailure(error, 'check', clock.now());
    }
  }

  /** operations.cancel: best effort, as Google documents it; check then says whether the command was canceled. */
  async cancel(command: SentCommand): Promise<boolean> {
    if (!command.reference) return false;
    try {
      await this.options.api.cancelOperation(command.reference);
      return true;
    } catch (error) {
      const status = statusOfFailure(error, 'check', this.options.clock.now());
      // A device or operation that is gone has nothing left to run.
      return status.status === 'failed';
    }
  }
}

/** The enterprise's devices, a page at a time, as inventory records (devices that cannot be one are skipped). */
export class AndroidManagementDeviceSource implements ManagedDeviceSource {
  constructor(private readonly options: Pick<AndroidManagementChannelOptions, 'enterprise' | 'api' | 'clock'>) {}

  async listPage(pageToken?: string): Promise<{ devices: Device[]; skipped: number; nextPageToken?: string }> {
    const page = await this.options.api.listDevices(this.options.enterprise, pageToken).catch((error: unknown) => {
      // Transient failures are thrown as TransientError (the queue retries); a refusal says why.
      const status = statusOfFailure(error, 'check', this.options.clock.now());
      throw new Error(
        `listing the enterprise's devices failed: ${'message' in status ? status.message : status.status}`,
      );
    });
    const now = this.options.clock.now();
    const devices = page.devices.flatMap((device) => deviceFromApi(device, now) ?? []);
    return {
      devices,
      skipped: page.devices.length - devices.length,
      ...(page.nextPageToken && { nextPageToken: page.nextPageToken }),
    };
  }
}
