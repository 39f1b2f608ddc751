import type { LifecycleSettings } from '../core/actionLifecycle';
import type { DeviceChannelKind } from '../core/model';
import type { SubscriptionLimits } from '../core/subscription';
import type {
  ActionQueue,
  ActionSchedule,
  ActionStore,
  AuditLog,
  Cipher,
  Clock,
  DeviceChannel,
  DeviceStore,
  DeviceSyncQueue,
  IdempotencyKeys,
  Logger,
  ManagedDeviceSource,
  NotificationQueue,
  NotificationSender,
  RandomInt,
  SubscriptionStore,
} from '../ports';

/** Everything a use case may touch; built once per process by lib/deps.ts, or by a test with fakes. */
export interface Services {
  clock: Clock;
  randomInt: RandomInt;
  /** `bytes` of fresh cryptographic randomness as hex (action and event ids). */
  randomHex(bytes: number): string;
  cipher: Cipher;
  devices: DeviceStore;
  actions: ActionStore;
  schedule: ActionSchedule;
  idempotencyKeys: IdempotencyKeys;
  queue: ActionQueue;
  subscriptions: SubscriptionStore;
  notifications: NotificationQueue;
  notifier: NotificationSender;
  channel: DeviceChannel;
  /** The channel's own inventory, when it has one (Android Management): the device sync reads it. */
  deviceSource?: ManagedDeviceSource;
  deviceSync: DeviceSyncQueue;
  audit: AuditLog;
  log: Logger;
  settings: LifecycleSettings & {
    maxResetsPerDevicePerDay: number;
    /** A developer's run (AZURE_FUNCTIONS_ENVIRONMENT=Development): plain-http loopback receivers are allowed. */
    development: boolean;
    /** Which device channel `channel` is: it decides the support matrix. */
    deviceChannel: DeviceChannelKind;
    subscriptions: SubscriptionLimits;
  };
}

/** Which queue message a worker runs for, from the trigger's metadata. */
export interface Delivery {
  messageId?: string;
}

/** Associated data binding a sealed passcode to its device and action: a ciphertext cannot be moved. */
export const passcodeAad = (deviceId: string, actionId: string) => `resetPasscode/${deviceId}/${actionId}`;

/** Runs `write` for its effect only: a failure is logged, not thrown (audit and list entries never change an answer). */
export async function bestEffort(services: Services, what: string, write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    services.log.warn(`${what} failed; it is repaired or retried later`, {
      errorName: error instanceof Error ? error.name : typeof error,
    });
    return false;
  }
}
