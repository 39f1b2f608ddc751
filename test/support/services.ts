import type { Device, DeviceAction, SealedSecret } from '../../lib/core/model';
import type { Cipher, Clock, DeviceSyncMessage, Logger, NotificationMessage, RandomInt } from '../../lib/ports';
import type { Caller, Role } from '../../lib/security/caller';
import type { Services } from '../../lib/useCases/services';
import {
  fakeCipher,
  MemoryActionStore,
  MemoryAuditLog,
  MemoryDeviceStore,
  MemoryIdempotencyKeys,
  MemoryQueue,
  MemorySchedule,
  MemorySubscriptionStore,
  ScriptedChannel,
  ScriptedNotifier,
} from './memoryStores';

/** A clock that stands still until a test moves it. */
class TestClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-11-26T10:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(date: Date | string): void {
    this.current = new Date(date).getTime();
  }

  advance(by: { ms?: number; seconds?: number; minutes?: number; hours?: number }): Date {
    this.current += (by.ms ?? 0) + (by.seconds ?? 0) * 1000 + (by.minutes ?? 0) * 60_000 + (by.hours ?? 0) * 3_600_000;
    return this.now();
  }
}

/**
 * Deterministic randomness: values pushed onto `script` come first, then a fixed pseudo-random sequence.
 * `calls` counts every draw, so a test can tell how many passcodes were generated.
 */
class ScriptedRandom {
  script: number[] = [];
  calls = 0;
  private state = 0x2545f491;
  private hexCounter = 0;

  readonly randomInt: RandomInt = (min, max) => {
    this.calls++;
    const scripted = this.script.shift();
    if (scripted !== undefined) return scripted;
    // xorshift32: reproducible, and spread enough that generated passcodes differ from one another.
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    return min + ((this.state >>> 0) % (max - min));
  };

  /** Unique, increasing hex strings of `bytes` bytes. */
  readonly randomHex = (bytes: number): string => (++this.hexCounter).toString(16).padStart(bytes * 2, '0');
}

/** The fake cipher, recording every seal so a test can count the passcodes that were generated and stored. */
class RecordingCipher implements Cipher {
  readonly sealed: Array<{ aad: string; sealed: SealedSecret }> = [];

  seal(plaintext: string, aad: string): SealedSecret {
    const sealed = fakeCipher.seal(plaintext, aad);
    this.sealed.push({ aad, sealed });
    return sealed;
  }

  open(sealed: SealedSecret, aad: string): string {
    return fakeCipher.open(sealed, aad);
  }
}

/** A logger that keeps every line, so tests can assert that no secret was logged. */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }> = [];
  info = (message: string, fields?: Record<string, unknown>) => this.push('info', message, fields);
  warn = (message: string, fields?: Record<string, unknown>) => this.push('warn', message, fields);
  error = (message: string, fields?: Record<string, unknown>) => this.push('error', message, fields);

  private push(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) {
    this.lines.push({ level, message, ...(fields && { fields }) });
  }

  text(): string {
    return JSON.stringify(this.lines);
  }
}

export const TEST_SETTINGS: Services['settings'] = {
  leaseSeconds: 30,
  passcodeDisplayHours: 168,
  retryWindowMinutes: 60,
  maxResetsPerDevicePerDay: 10,
  stuckAfterSeconds: 120,
  actionExpiryHours: 24,
  retentionDays: 90,
  development: false,
  deviceChannel: 'simulated',
  subscriptions: { maxPerOwner: 20, creationsPerHour: 20, workflowMaxAgeDays: 30 },
};

export interface TestServices {
  services: Services;
  clock: TestClock;
  random: ScriptedRandom;
  cipher: RecordingCipher;
  devices: MemoryDeviceStore;
  actions: MemoryActionStore;
  schedule: MemorySchedule;
  idempotencyKeys: MemoryIdempotencyKeys;
  queue: MemoryQueue;
  subscriptions: MemorySubscriptionStore;
  notifications: MemoryQueue<NotificationMessage>;
  deviceSync: MemoryQueue<DeviceSyncMessage>;
  notifier: ScriptedNotifier;
  channel: ScriptedChannel;
  audit: MemoryAuditLog;
  log: RecordingLogger;
  addDevice(device: Device): void;
}

/** Services built from in-memory fakes, a fixed clock and scripted randomness; `settings` overrides the defaults. */
export function makeTestServices(options: { start?: Date | string; settings?: Partial<Services['settings']> } = {}) {
  const clock = new TestClock(options.start);
  const random = new ScriptedRandom();
  const cipher = new RecordingCipher();
  const devices = new MemoryDeviceStore();
  const audit = new MemoryAuditLog();
  const actions = new MemoryActionStore();
  const schedule = new MemorySchedule();
  const idempotencyKeys = new MemoryIdempotencyKeys();
  const queue = new MemoryQueue();
  const subscriptions = new MemorySubscriptionStore();
  const notifications = new MemoryQueue<NotificationMessage>();
  const deviceSync = new MemoryQueue<DeviceSyncMessage>();
  const notifier = new ScriptedNotifier();
  const channel = new ScriptedChannel();
  const log = new RecordingLogger();
  const services: Services = {
    clock,
    randomInt: random.randomInt,
    randomHex: random.randomHex,
    cipher,
    devices,
    actions,
    schedule,
    idempotencyKeys,
    queue,
    subscriptions,
    notifications,
    notifier,
    channel,
    deviceSync,
    audit,
    log,
    settings: { ...TEST_SETTINGS, ...options.settings },
  };
  /** Registers a device as a PUT would. */
  const addDevice = (device: Device) => {
    devices.devices.set(device.id, device);
  };
  return {
    services,
    deviceSync,
    clock,
    random,
    cipher,
    devices,
    actions,
    schedule,
    idempotencyKeys,
    queue,
    subscriptions,
    notifications,
    notifier,
    channel,
    audit,
    log,
    addDevice,
  } satisfies TestServices;
}

/** A caller holding `roles`. */
export const callerWith = (...roles: Role[]): Caller => ({
  id: 'caller-1',
  name: 'ana@contoso.com',
  roles: new Set(roles),
});

/** A supported iOS device with a numeric 6-digit policy (every candidate passcode is accepted: 6 draws each). */
export function deviceFixture(overrides: Partial<Device> = {}): Device {
  return {
    id: 'device-1',
    deviceName: 'Sales iPhone 12',
    operatingSystem: 'iOS',
    osVersion: '16.4.1',
    azureADJoined: false,
    userPrincipalName: 'ana@contoso.com',
    passcodePolicy: { minLength: 6, characters: 'numeric', complex: false },
    createdDateTime: '2026-11-01T00:00:00.000Z',
    lastUpdatedDateTime: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A pending action as requestPasscodeReset writes it. */
export function actionFixture(overrides: Partial<DeviceAction> & Pick<DeviceAction, 'id' | 'deviceId'>): DeviceAction {
  return {
    actionName: 'resetPasscode',
    actionState: 'pending',
    startDateTime: '2026-11-26T10:00:00.000Z',
    lastUpdatedDateTime: '2026-11-26T10:00:00.000Z',
    requestedBy: 'ana@contoso.com',
    requestedById: 'caller-1',
    target: {
      operatingSystem: 'iOS',
      osVersion: '16.4.1',
      passcodePolicy: { minLength: 6, characters: 'numeric', complex: false },
    },
    attempts: 0,
    ...overrides,
  };
}

/**
 * Simulates a crash: the `nth` call (1-based, counted from now) of `target[method]` throws `error` instead of running;
 * every other call runs normally. Returns a function that restores the original method.
 */
export function throwOnCall<T extends object, K extends keyof T>(
  target: T,
  method: K,
  nth: number,
  error: Error = new Error(`simulated crash in ${String(method)}`),
): () => void {
  const original = target[method];
  if (typeof original !== 'function') throw new Error(`${String(method)} is not a method`);
  let calls = 0;
  const wrapped = (...args: unknown[]) => {
    calls++;
    if (calls === nth) return Promise.reject(error);
    return original.apply(target, args);
  };
  target[method] = wrapped as T[K];
  return () => {
    target[method] = original;
  };
}
