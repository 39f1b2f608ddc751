import type {
  ActionState,
  Device,
  DeviceAction,
  DeviceProfile,
  OperatingSystem,
  PasscodePolicy,
  ResetMessage,
  SealedSecret,
} from './core/model';

/** Wall clock, injected so the core and its tests control time. */
export interface Clock {
  now(): Date;
}

/** Uniform integer in [min, max), like `crypto.randomInt`. */
export type RandomInt = (min: number, max: number) => number;

/** Authenticated encryption of passcodes; `aad` binds a ciphertext to its device and action. */
export interface Cipher {
  seal(plaintext: string, aad: string): SealedSecret;
  open(sealed: SealedSecret, aad: string): string;
}

/** An entity with the ETag it was read at; every update of an action is conditional on it. */
export interface Versioned<T> {
  value: T;
  etag: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque continuation; absent on the last page. */
  nextToken?: string;
}

export interface DeviceStore {
  get(deviceId: string): Promise<Device | undefined>;
  /** Creates or replaces the device; says which. */
  put(device: Device): Promise<'created' | 'updated'>;
  list(query: { operatingSystem?: OperatingSystem; top: number; skipToken?: string }): Promise<Page<Device>>;
}

/** A pointer from an idempotency key to the action it created (API.md: Idempotency-Key). */
export interface IdempotencyRecord {
  deviceId: string;
  requestHash: string;
  actionId: string;
  createdDateTime: string;
}

export interface InFlightGuard {
  deviceId: string;
  actionId: string;
  createdDateTime: string;
}

export type CreateActionResult = { created: true; etag: string } | { created: false; inFlightActionId: string };

export type { DeviceProfile } from './core/model';

/** What accepting a reset reads, in one round trip. */
export interface ResetContext {
  /** Absent when the device is not registered. */
  profile?: DeviceProfile;
  /** Start times of the device's actions started after `since`, newest first, at most `limit`. */
  recentStarts: string[];
}

/** Device actions, each device's in-flight guard and reset profile, and the all-devices list. */
export interface ActionStore {
  /**
   * Writes the action (pending) and the device's in-flight guard in one atomic write, then records its acceptance in
   * the audit trail (`acceptedResetEvent`), which is also its entry in the all-devices list. When the guard already
   * exists, writes nothing and returns the action that holds it.
   */
  create(action: DeviceAction): Promise<CreateActionResult>;
  get(deviceId: string, actionId: string): Promise<Versioned<DeviceAction> | undefined>;
  /**
   * Replaces `current` (the version the caller read) with `next`, if it still has that ETag (throws
   * PreconditionFailedError otherwise). When `next` ends the action (terminal, and `current` was not), the device's
   * in-flight guard is released in the same atomic write: a non-terminal action always holds its device's guard.
   */
  update(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>>;
  listForDevice(deviceId: string, query: ListActionsQuery): Promise<Page<DeviceAction>>;
  listAll(query: ListActionsQuery): Promise<Page<DeviceAction>>;
  /** Every device's in-flight guard (for the sweeper). */
  listInFlight(): Promise<InFlightGuard[]>;
  /** Actions whose passcode is still stored and whose display window ended before `before`. */
  listWithExpiredPasscodes(before: Date): Promise<Versioned<DeviceAction>[]>;
  /** The device's reset profile and its recent start times (see ResetContext), in one read. */
  resetContext(deviceId: string, since: Date, limit: number): Promise<ResetContext>;
  /** Creates or replaces the device's reset profile. */
  putDeviceProfile(deviceId: string, profile: DeviceProfile): Promise<void>;
  /** Reserves an idempotency key; returns the existing record when the key was used before. */
  reserveIdempotencyKey(keyHash: string, record: IdempotencyRecord): Promise<IdempotencyRecord | undefined>;
}

export interface ListActionsQuery {
  top: number;
  skipToken?: string;
  actionState?: ActionState;
}

export interface ActionQueue {
  enqueue(message: ResetMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface ApplyPasscodeRequest {
  actionId: string;
  deviceId: string;
  operatingSystem: OperatingSystem;
  osVersion: string;
  policy: PasscodePolicy;
  passcode: string;
}

/** What a device channel reports; a transient failure is thrown as TransientError instead. */
export type ApplyOutcome =
  | { outcome: 'applied' }
  | { outcome: 'failed'; code: string; message: string }
  | { outcome: 'notSupported'; code: string; message: string };

/** Applies a passcode to a device. Idempotent per actionId: the same action applied twice is applied once. */
export interface DeviceChannel {
  apply(request: ApplyPasscodeRequest): Promise<ApplyOutcome>;
}

export const AUDIT_EVENT_TYPES = [
  'resetRequested',
  'resetCanceled',
  'passcodeViewed',
  'deviceCreated',
  'deviceUpdated',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who did what to which device, when, and how it ended. Never a secret. */
export interface AuditEvent {
  id: string;
  eventDateTime: string;
  eventType: AuditEventType;
  callerId: string;
  callerName: string;
  deviceId: string;
  actionId?: string;
  reason?: string;
  outcome: 'success' | 'failure';
  /** For failures: the API error code the caller got. */
  detail?: string;
}

export interface AuditQuery {
  top: number;
  skipToken?: string;
  deviceId?: string;
  from?: Date;
  to?: Date;
}

/** Append-only audit trail. */
export interface AuditLog {
  /** Appends an event; recording an event id that is already there changes nothing (a repair may repeat one). */
  record(event: AuditEvent): Promise<void>;
  list(query: AuditQuery): Promise<Page<AuditEvent>>;
}

/** Structured log lines; fields must never hold secrets. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
