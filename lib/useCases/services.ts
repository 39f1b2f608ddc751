import type {
  ActionQueue,
  ActionStore,
  AuditLog,
  Cipher,
  Clock,
  DeviceChannel,
  DeviceStore,
  Logger,
  RandomInt,
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
  queue: ActionQueue;
  channel: DeviceChannel;
  audit: AuditLog;
  log: Logger;
  settings: {
    passcodeDisplayHours: number;
    maxResetsPerDevicePerDay: number;
    stuckAfterSeconds: number;
    actionExpiryHours: number;
  };
}

/** Associated data binding a sealed passcode to its device and action: a ciphertext cannot be moved. */
export const passcodeAad = (deviceId: string, actionId: string) => `resetPasscode/${deviceId}/${actionId}`;
