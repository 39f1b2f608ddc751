import type { DeviceQuery } from './core/deviceQuery';
import type {
  ActionState,
  CommandStatus,
  Device,
  DeviceAction,
  OperatingSystem,
  PasscodePolicy,
  ResetMessage,
  SealedSecret,
} from './core/model';
import type { Subscription } from './core/subscription';

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
  /** The device with the ETag it was read at (a PUT replaces only that version). */
  read(deviceId: string): Promise<Versioned<Device> | undefined>;
  /**
   * Creates the device (no `current`: only if it does not exist) or replaces the version read (`current`), with its
   * search indexes, in one conditional write; PreconditionFailedError when the device is not what the caller read.
   */
  put(device: Device, current?: Versioned<Device>): Promise<Versioned<Device>>;
  /** The devices a query finds, a page at a time; a page costs reads in proportion to its size, whatever the fleet. */
  list(query: DeviceQuery & { top: number; skipToken?: string }): Promise<Page<Device>>;
  /** Creates or replaces devices the channel's inventory sync read, in as few writes as the store allows. */
  putSynced(devices: Device[]): Promise<void>;
  /** Synced devices not yet marked deleted whose last sync is before `cutoff`, at most `limit`. */
  listSyncedBefore(cutoff: Date, limit: number): Promise<Device[]>;
}

/** One page of the device inventory sync to read: the sync's start, and where in the source's list it is. */
export interface DeviceSyncMessage {
  v: 1;
  startedDateTime: string;
  /** 1 for the first page. */
  page: number;
  pageToken?: string;
}

export interface DeviceSyncQueue {
  enqueue(message: DeviceSyncMessage): Promise<void>;
}

/** The device channel's own inventory (Android Management's enterprise), a page at a time, as inventory records. */
export interface ManagedDeviceSource {
  listPage(pageToken?: string): Promise<{ devices: Device[]; skipped: number; nextPageToken?: string }>;
}

/** A pointer from an idempotency key to the action it created (docs/API.md: Idempotency-Key). */
export interface IdempotencyRecord {
  deviceId: string;
  requestHash: string;
  actionId: string;
  createdDateTime: string;
}

/** Idempotency-Key reservations, by hash of caller and key. */
export interface IdempotencyKeys {
  find(keyHash: string): Promise<Versioned<IdempotencyRecord> | undefined>;
  /**
   * Reserves the key for `record`: creates it, or replaces `replacing` (a stale reservation) if it is unchanged.
   * False when another request holds the key.
   */
  reserve(keyHash: string, record: IdempotencyRecord, replacing?: Versioned<IdempotencyRecord>): Promise<boolean>;
  /** Removes the key if it still points at `actionId` (a refused race, or the key's time is up). */
  remove(keyHash: string, actionId: string): Promise<void>;
}

export type CreateActionResult = { created: true; etag: string } | { created: false; inFlightActionId: string };

export type { CommandStatus } from './core/model';

/** What accepting a reset reads of the device's partition, in one round trip. */
export interface ResetContext {
  /** Start times of the device's actions started after `since`, newest first, at most `limit`. */
  recentStarts: string[];
  /** The action holding the device's in-flight guard, if any. */
  inFlightActionId?: string;
}

/** Device actions, each device's in-flight guard, and the all-devices list. */
export interface ActionStore {
  /**
   * Writes the action (pending) and the device's in-flight guard in one atomic write. When the guard already exists,
   * writes nothing and returns the action that holds it.
   */
  create(action: DeviceAction): Promise<CreateActionResult>;
  get(deviceId: string, actionId: string): Promise<Versioned<DeviceAction> | undefined>;
  /**
   * Replaces `current` (the version the caller read) with `next`, if it still has that ETag (throws
   * PreconditionFailedError otherwise) and the lifecycle allows the change (throws ForbiddenTransitionError). When
   * `next` ends the action, the device's in-flight guard is released in the same atomic write.
   */
  update(next: DeviceAction, current: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>>;
  /** Deletes a finished action past its retention (nothing when it changed or is gone). */
  remove(current: Versioned<DeviceAction>): Promise<void>;
  listForDevice(deviceId: string, query: ListActionsQuery): Promise<Page<DeviceAction>>;
  /**
   * Every device's actions, newest first, joined from the accepted events of the audit trail. A filtered page reads at
   * most a bounded number of events; it may then be short, with a continuation.
   */
  listAll(query: ListActionsQuery): Promise<Page<DeviceAction>>;
  /** The device's recent start times and in-flight guard (see ResetContext), in one read. */
  resetContext(deviceId: string, since: Date, limit: number): Promise<ResetContext>;
}

/** When the sweeper looks at an action next: one entry per action that is in flight or has something due. */
export interface ScheduleEntry {
  deviceId: string;
  actionId: string;
  dueDateTime: string;
  /** How many times the sweeper looked at it already. */
  visits: number;
}

/**
 * The sweeper's worklist. Entries sort by due time, so a run reads only what is due, however long the history: the
 * cost of background work follows what is in flight or due (docs/DESIGN.md invariant 8).
 */
export interface ActionSchedule {
  /** Adds an entry (before the action is created: an entry without an action is removed at its first visit). */
  add(entry: ScheduleEntry): Promise<void>;
  /** Entries due at `now`, earliest first, at most `limit`. */
  listDue(now: Date, limit: number): Promise<ScheduleEntry[]>;
  /** Moves an entry to `due`, one more visit; PreconditionFailedError when another sweeper moved or removed it. */
  reschedule(entry: ScheduleEntry, due: Date): Promise<void>;
  remove(entry: ScheduleEntry): Promise<void>;
}

export interface ListActionsQuery {
  top: number;
  skipToken?: string;
  actionState?: ActionState;
}

export interface ActionQueue {
  /** Sends the message, visible after `delaySeconds` (at most 7 days). */
  enqueue(message: ResetMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface ApplyPasscodeRequest {
  actionId: string;
  deviceId: string;
  operatingSystem: OperatingSystem;
  osVersion: string;
  policy: PasscodePolicy;
  passcode: string;
  /** The trace the reset belongs to (W3C traceparent), for channels that pass it on. */
  traceparent?: string;
}

/** What an unlock attempt on a (simulated) device came to; `locked` is refused before the passcode is checked. */
export type UnlockResult =
  | { outcome: 'unlocked' }
  | { outcome: 'wrongPasscode' }
  | { outcome: 'locked'; retryAfterSeconds: number };

/** A device's lock screen: the simulated channel's way to prove the shown passcode is the applied one. */
export interface DeviceLockScreen {
  unlock(deviceId: string, passcode: string): Promise<UnlockResult>;
}

/** A command sent earlier, as a channel looks it up: by action, and by the channel's own reference when it gave one. */
export interface SentCommand {
  actionId: string;
  deviceId: string;
  reference?: string;
}

/**
 * Puts a passcode on a device. A command may finish at once (`applied`, `failed`, `notSupported`) or later
 * (`waiting`: the device has not run it yet); either way the app can ask later how it stands. A channel that could not
 * be reached (the command may or may not have arrived) throws TransientError, with its Retry-After when it gave one.
 */
export interface DeviceChannel {
  /** Sends the passcode command. Idempotent per action: every attempt of one action carries the same passcode. */
  send(request: ApplyPasscodeRequest): Promise<CommandStatus>;
  /** How a command sent earlier stands (never sends it). */
  check(command: SentCommand): Promise<CommandStatus>;
  /**
   * Asks the channel to cancel a command that waits for the device; `check` then tells whether it will not apply.
   * False when this channel cannot cancel commands.
   */
  cancel(command: SentCommand): Promise<boolean>;
}

export const AUDIT_EVENT_TYPES = [
  'resetRequested',
  'resetCanceled',
  'passcodeViewed',
  'deviceCreated',
  'deviceUpdated',
  'unlockAttempted',
  'subscriptionCreated',
  'subscriptionRenewed',
  'subscriptionDeleted',
  'subscriptionRemoved',
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
  /** For failures: the API error code the caller got; for accepted requests `accepted`. */
  detail?: string;
}

export interface AuditQuery {
  top: number;
  skipToken?: string;
  deviceId?: string;
  from?: Date;
  to?: Date;
}

/** Append-only audit trail, purged after its retention. */
export interface AuditLog {
  /** Appends an event; recording an event id that is already there changes nothing (a repair may repeat one). */
  record(event: AuditEvent): Promise<void>;
  list(query: AuditQuery): Promise<Page<AuditEvent>>;
  /** Events from before `cutoff`, at most `limit`, in no promised order (the Table Storage adapter: newest first). */
  listOlderThan(cutoff: Date, limit: number): Promise<AuditEvent[]>;
  /** Deletes events (past their retention). */
  remove(events: AuditEvent[]): Promise<void>;
}

/** Structured log lines; fields must never hold secrets. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Who watches a device: one index row per subscription, read by key. */
export interface Watcher {
  subscriptionId: string;
  createdDateTime: string;
}

/** Where a fan-out stopped: the device's own watchers come first, then those of every device. */
export interface WatcherCursor {
  scope: 'device' | 'all';
  /** The last subscription id read in that scope. */
  after?: string;
}

/** A sweeper's worklist entry: a subscription to renew or end, or the leftovers of a removal to finish. */
export interface SubscriptionDue {
  subscriptionId: string;
  dueDateTime: string;
  ownerId: string;
  watched: Subscription['watched'];
  /** The subscription was removed; its index rows and delivery records are still to go. */
  removal: boolean;
}

export type CreateSubscriptionOutcome =
  | { created: true }
  | { created: false; limit: 'maxPerOwner' | 'creationRate'; retryAfterSeconds: number };

/** Change-notification subscriptions, their indexes, and the record of which action's notice went to which one. */
export interface SubscriptionStore {
  /**
   * Creates the subscription unless its owner already holds `limits.maxPerOwner` live ones or created
   * `limits.creationsPerHour` in the current hour (one conditional write per owner serializes concurrent creations).
   */
  create(
    subscription: Subscription,
    limits: { maxPerOwner: number; creationsPerHour: number },
    now: Date,
  ): Promise<CreateSubscriptionOutcome>;
  get(id: string): Promise<Versioned<Subscription> | undefined>;
  /** The owner's subscriptions (expired ones not yet removed included; the caller filters). */
  listByOwner(ownerId: string): Promise<Subscription[]>;
  /** Every subscription by id, a page at a time (administrators); `after` is the last id of the previous page. */
  listAll(query: { top: number; after?: string }): Promise<{ items: Subscription[]; more: boolean }>;
  /** At most `limit` watchers of `deviceId` from `cursor` on, and where to go on (absent when done). */
  listWatchers(
    deviceId: string,
    cursor: WatcherCursor,
    limit: number,
  ): Promise<{ watchers: Watcher[]; next?: WatcherCursor }>;
  /** Worklist entries due at `now`, earliest first, at most `limit`. */
  listDue(now: Date, limit: number): Promise<SubscriptionDue[]>;
  /** Replaces the subscription if unchanged since read (PreconditionFailedError otherwise), moving its due entry. */
  update(next: Subscription, current: Versioned<Subscription>): Promise<void>;
  /**
   * Removes the subscription at once (false when it was already gone), then its index rows and delivery records in
   * steps of at most `budget` delivery records; what a fault or the budget leaves is a due removal entry.
   */
  remove(id: string, now: Date, budget: number): Promise<boolean>;
  /** Continues a removal from its due entry; true when nothing is left. */
  finishRemoval(due: SubscriptionDue, budget: number): Promise<boolean>;
  /** Drops a due entry that no longer matches its subscription (a write between entry and row was lost). */
  dropDue(due: SubscriptionDue): Promise<void>;
  /**
   * Records that the notice of `actionId` goes to `subscriptionId` under `token` (the delivery message's own): true
   * the first time and when the record already holds `token` (the same message again), false for any other message.
   */
  claimDelivery(subscriptionId: string, actionId: string, token: string): Promise<boolean>;
  /** Removes at most `limit` delivery records of actions started before `cutoff`; how many went. */
  pruneDeliveries(subscriptionId: string, cutoff: Date, limit: number): Promise<number>;
}

/** Work of the notification queue: an action finished (find who to tell, from `cursor` on), or tell one subscription. */
export type NotificationMessage = (
  | { v: 1; kind: 'finished'; deviceId: string; actionId: string; cursor?: WatcherCursor }
  | {
      v: 1;
      kind: 'deliver';
      subscriptionId: string;
      deviceId: string;
      actionId: string;
      /** Failed attempts so far. */
      attempt: number;
      firstTriedAt: string;
      /** This notice's claim: the first message to record it is the one that delivers (docs/architecture.md). */
      claim?: string;
    }
) & {
  /** The trace the notice belongs to (W3C traceparent): its delivery joins the reset's trace. */
  traceparent?: string;
};

export interface NotificationQueue {
  enqueue(message: NotificationMessage, options?: { delaySeconds?: number }): Promise<void>;
}

/** Talks to subscribers' endpoints; never follows redirects, and refuses private addresses outside development. */
export interface NotificationSender {
  /** Graph's validation handshake: true when the endpoint answered 200 with the token as text, in time. */
  validate(url: string, token: string): Promise<boolean>;
  /** POSTs the JSON body; the status, or a TransientError when the endpoint could not be reached or timed out. */
  post(url: string, body: string): Promise<number>;
}
