import { sameContent } from '../../lib/adapters/certainWrite';
import { actionIdUpperBoundFor } from '../../lib/core/actionId';
import { checkChange, isTerminal } from '../../lib/core/actionLifecycle';
import { type DeviceQuery, deviceIndexKeys, deviceMatches, planDeviceQuery } from '../../lib/core/deviceQuery';
import { invalidSkipToken, PreconditionFailedError } from '../../lib/core/errors';
import type { CommandStatus, Device, DeviceAction, ResetMessage, SealedSecret } from '../../lib/core/model';
import type { Subscription } from '../../lib/core/subscription';
import type {
  ActionSchedule,
  ActionStore,
  ApplyPasscodeRequest,
  AuditEvent,
  AuditLog,
  AuditQuery,
  Cipher,
  CreateActionResult,
  DeviceChannel,
  DeviceStore,
  IdempotencyKeys,
  IdempotencyRecord,
  ListActionsQuery,
  NotificationSender,
  Page,
  ResetContext,
  ScheduleEntry,
  SentCommand,
  SubscriptionDue,
  SubscriptionStore,
  Versioned,
  WatcherCursor,
} from '../../lib/ports';

const clone = <T>(value: T): T => structuredClone(value);

/** Pages an in-memory list with a numeric offset as the skip token; a forged token is a 400, as with the adapters. */
function page<T>(items: T[], query: { top: number; skipToken?: string }): Page<T> {
  if (query.skipToken !== undefined && !/^\d{1,9}$/.test(query.skipToken)) throw invalidSkipToken();
  const start = query.skipToken ? Number(query.skipToken) : 0;
  const end = start + query.top;
  return { items: items.slice(start, end), ...(end < items.length && { nextToken: String(end) }) };
}

/** ActionStore in memory with the same ETag, atomicity and lifecycle rules as the Table adapter. */
export class MemoryActionStore implements ActionStore {
  private readonly actions = new Map<string, Versioned<DeviceAction>>();
  /** deviceId → the action id holding the device's in-flight guard. */
  private readonly guards = new Map<string, string>();
  private version = 0;
  /** Every write, for tests that assert what was (not) written. */
  writes = 0;

  private key = (deviceId: string, actionId: string) => `${deviceId}/${actionId}`;
  private nextEtag = () => `W/"${++this.version}"`;

  async create(action: DeviceAction): Promise<CreateActionResult> {
    const holder = this.guards.get(action.deviceId);
    if (holder) return { created: false, inFlightActionId: holder };
    const etag = this.nextEtag();
    this.writes++;
    this.actions.set(this.key(action.deviceId, action.id), { value: clone(action), etag });
    this.guards.set(action.deviceId, action.id);
    return { created: true, etag };
  }

  async get(deviceId: string, actionId: string) {
    const found = this.actions.get(this.key(deviceId, actionId));
    return found && clone(found);
  }

  async update(action: DeviceAction, read: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    checkChange(read.value, action);
    const k = this.key(action.deviceId, action.id);
    const current = this.actions.get(k);
    if (!current || current.etag !== read.etag) throw new PreconditionFailedError();
    const releasing = isTerminal(action.actionState) && !isTerminal(current.value.actionState);
    if (releasing && this.guards.get(action.deviceId) !== action.id) throw new PreconditionFailedError();
    const next = { value: clone(action), etag: this.nextEtag() };
    this.writes++;
    this.actions.set(k, next);
    if (releasing) this.guards.delete(action.deviceId);
    return clone(next);
  }

  async remove(read: Versioned<DeviceAction>): Promise<void> {
    if (!isTerminal(read.value.actionState)) throw new PreconditionFailedError();
    const k = this.key(read.value.deviceId, read.value.id);
    if (this.actions.get(k)?.etag !== read.etag) return;
    this.writes++;
    this.actions.delete(k);
  }

  private sorted(filter: (a: DeviceAction) => boolean) {
    return [...this.actions.values()]
      .map((v) => v.value)
      .filter(filter)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async listForDevice(deviceId: string, query: ListActionsQuery) {
    return page(
      this.sorted((a) => a.deviceId === deviceId && (!query.actionState || a.actionState === query.actionState)).map(
        clone,
      ),
      query,
    );
  }

  async listAll(query: ListActionsQuery) {
    return page(this.sorted((a) => !query.actionState || a.actionState === query.actionState).map(clone), query);
  }

  async resetContext(deviceId: string, since: Date, limit: number): Promise<ResetContext> {
    const bound = actionIdUpperBoundFor(since);
    const recentStarts = this.sorted((a) => a.deviceId === deviceId && a.id < bound)
      .slice(0, limit)
      .map((a) => a.startDateTime);
    const holder = this.guards.get(deviceId);
    return { ...(holder && { inFlightActionId: holder }), recentStarts };
  }

  /** Test helper: every action. */
  all(): DeviceAction[] {
    return [...this.actions.values()].map((v) => clone(v.value));
  }

  /** Test helper: the action id holding the device's guard. */
  guardOf(deviceId: string): string | undefined {
    return this.guards.get(deviceId);
  }
}

/** ActionSchedule in memory: entries keyed by due time and action id, like the Table adapter's row keys. */
export class MemorySchedule implements ActionSchedule {
  readonly entries = new Map<string, ScheduleEntry>();
  private key = (e: Pick<ScheduleEntry, 'dueDateTime' | 'actionId'>) =>
    `${String(new Date(e.dueDateTime).getTime()).padStart(13, '0')}-${e.actionId}`;

  async add(entry: ScheduleEntry) {
    this.entries.set(this.key(entry), clone(entry));
  }

  async listDue(now: Date, limit: number) {
    return [...this.entries.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, e]) => e)
      .filter((e) => new Date(e.dueDateTime) <= now)
      .slice(0, limit)
      .map(clone);
  }

  async reschedule(entry: ScheduleEntry, due: Date) {
    if (!this.entries.delete(this.key(entry))) throw new PreconditionFailedError('the schedule entry moved');
    const next = { ...entry, dueDateTime: due.toISOString(), visits: entry.visits + 1 };
    this.entries.set(this.key(next), next);
  }

  async remove(entry: ScheduleEntry) {
    this.entries.delete(this.key(entry));
  }

  /** Test helper: the entries of one action. */
  of(actionId: string): ScheduleEntry[] {
    return [...this.entries.values()].filter((e) => e.actionId === actionId).map(clone);
  }
}

/** IdempotencyKeys in memory, with ETags like the Table adapter. */
export class MemoryIdempotencyKeys implements IdempotencyKeys {
  readonly records = new Map<string, Versioned<IdempotencyRecord>>();
  private version = 0;

  async find(keyHash: string) {
    const found = this.records.get(keyHash);
    return found && clone(found);
  }

  async reserve(keyHash: string, record: IdempotencyRecord, replacing?: Versioned<IdempotencyRecord>) {
    const current = this.records.get(keyHash);
    if (replacing ? current?.etag !== replacing.etag : current !== undefined) return false;
    this.records.set(keyHash, { value: clone(record), etag: `W/"k${++this.version}"` });
    return true;
  }

  async remove(keyHash: string, actionId: string) {
    if (this.records.get(keyHash)?.value.actionId === actionId) this.records.delete(keyHash);
  }
}

export class MemoryDeviceStore implements DeviceStore {
  /** The devices; a test may set one directly (its ETag is then `W/"0"` until it is written). */
  readonly devices = new Map<string, Device>();
  private readonly etags = new Map<string, string>();
  private version = 0;

  async get(deviceId: string) {
    const d = this.devices.get(deviceId);
    return d && clone(d);
  }

  async read(deviceId: string) {
    const d = this.devices.get(deviceId);
    return d && { value: clone(d), etag: this.etags.get(deviceId) ?? 'W/"0"' };
  }

  async put(device: Device, current?: Versioned<Device>) {
    const etag = current?.etag;
    // Read and write with no await in between: the condition and the write are one step, as in Table Storage.
    const stored = this.devices.get(device.id);
    const existing = stored && { value: clone(stored), etag: this.etags.get(device.id) ?? 'W/"0"' };
    if (etag === undefined ? existing !== undefined : existing?.etag !== etag) {
      // Already exactly this device: the write's own earlier try, as the Table adapter reads back (certainWrite).
      if (existing && sameContent(existing.value, device)) return existing;
      throw new PreconditionFailedError();
    }
    const next = `W/"d${++this.version}"`;
    this.devices.set(device.id, clone(device));
    this.etags.set(device.id, next);
    return { value: clone(device), etag: next };
  }

  /** The same order as the Table adapter: by id, or, searching an index, by the index key. */
  async list(query: DeviceQuery & { top: number; skipToken?: string }) {
    const plan = planDeviceQuery(query);
    const keyed = [...this.devices.values()]
      .filter((d) => deviceMatches(d, query))
      .map((d) => ({
        d,
        key: plan.kind === 'index' ? (deviceIndexKeys(d).find((k) => k >= plan.from && k < plan.to) ?? '') : d.id,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    return page(
      keyed.map(({ d }) => clone(d)),
      query,
    );
  }

  async putSynced(devices: Device[]) {
    for (const device of devices) {
      this.devices.set(device.id, clone(device));
      this.etags.set(device.id, `W/"d${++this.version}"`);
    }
  }

  async listSyncedBefore(cutoff: Date, limit: number) {
    return [...this.devices.values()]
      .filter((d) => d.androidManagement && d.androidManagement.state !== 'deleted')
      .filter((d) => (d.androidManagement?.syncedDateTime ?? '') < cutoff.toISOString())
      .slice(0, limit)
      .map(clone);
  }
}

/** A queue in memory: the messages sent and, in the same order, the delay each was sent with (0 when none). */
export class MemoryQueue<M = ResetMessage> {
  readonly messages: M[] = [];
  readonly delays: number[] = [];

  async enqueue(message: M, options: { delaySeconds?: number } = {}) {
    this.messages.push(clone(message));
    this.delays.push(options.delaySeconds ?? 0);
  }
}

/** SubscriptionStore in memory, with ETags like the Table adapter; counts every call, as the Table one's requests. */
export class MemorySubscriptionStore implements SubscriptionStore {
  readonly subscriptions = new Map<string, Versioned<Subscription>>();
  /** `subscriptionId/actionId` → the claiming message's token. */
  readonly deliveries = new Map<string, string>();
  /** Owner → the start of its creation hour and how many it created in it. */
  readonly rates = new Map<string, { windowStart: number; count: number }>();
  /** Due entries, by `dueDateTime|id`. */
  readonly due = new Map<string, SubscriptionDue>();
  private version = 0;

  async create(subscription: Subscription, limits: { maxPerOwner: number; creationsPerHour: number }, now: Date) {
    const live = this.all()
      .filter((s) => s.ownerId === subscription.ownerId && new Date(s.expirationDateTime) > now)
      .map((s) => s.expirationDateTime)
      .sort();
    const seconds = (time: number) => Math.max(1, Math.ceil((time - now.getTime()) / 1000));
    if (live.length >= limits.maxPerOwner) {
      return {
        created: false as const,
        limit: 'maxPerOwner' as const,
        retryAfterSeconds: seconds(new Date(live[0] ?? now).getTime()),
      };
    }
    const rate = this.rates.get(subscription.ownerId);
    const sameHour = rate !== undefined && now.getTime() - rate.windowStart < 3_600_000;
    if (sameHour && rate.count >= limits.creationsPerHour) {
      return {
        created: false as const,
        limit: 'creationRate' as const,
        retryAfterSeconds: seconds(rate.windowStart + 3_600_000),
      };
    }
    this.rates.set(
      subscription.ownerId,
      sameHour ? { ...rate, count: rate.count + 1 } : { windowStart: now.getTime(), count: 1 },
    );
    this.addDue(subscription, subscription.dueDateTime, false);
    this.subscriptions.set(subscription.id, { value: clone(subscription), etag: `W/"s${++this.version}"` });
    return { created: true as const };
  }

  private addDue(s: Subscription, dueDateTime: string, removal: boolean) {
    this.due.set(`${dueDateTime}|${s.id}`, {
      subscriptionId: s.id,
      dueDateTime,
      ownerId: s.ownerId,
      watched: clone(s.watched),
      removal,
    });
  }

  async get(id: string) {
    const found = this.subscriptions.get(id);
    return found && clone(found);
  }

  private all() {
    return [...this.subscriptions.values()].map((v) => clone(v.value));
  }

  async listByOwner(ownerId: string) {
    return this.all().filter((s) => s.ownerId === ownerId);
  }

  async listAll(query: { top: number; after?: string }) {
    const sorted = this.all()
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .filter((s) => query.after === undefined || s.id > query.after);
    return { items: sorted.slice(0, query.top), more: sorted.length > query.top };
  }

  async listWatchers(deviceId: string, cursor: WatcherCursor, limit: number) {
    const inScope = this.all()
      .filter((s) =>
        cursor.scope === 'all'
          ? s.watched.scope === 'all'
          : s.watched.scope === 'device' && s.watched.deviceId === deviceId,
      )
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .filter((s) => cursor.after === undefined || s.id > cursor.after);
    const watchers = inScope.slice(0, limit).map((s) => ({ subscriptionId: s.id, createdDateTime: s.createdDateTime }));
    const last = watchers[watchers.length - 1]?.subscriptionId;
    if (inScope.length > limit) return { watchers, next: { scope: cursor.scope, after: last } };
    return cursor.scope === 'device' ? { watchers, next: { scope: 'all' as const } } : { watchers };
  }

  async listDue(now: Date, limit: number) {
    return [...this.due.entries()]
      .filter(([, d]) => new Date(d.dueDateTime) <= now)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([, d]) => clone(d));
  }

  async update(next: Subscription, current: Versioned<Subscription>) {
    if (this.subscriptions.get(next.id)?.etag !== current.etag) throw new PreconditionFailedError();
    this.subscriptions.set(next.id, { value: clone(next), etag: `W/"s${++this.version}"` });
    if (next.dueDateTime !== current.value.dueDateTime) {
      this.addDue(next, next.dueDateTime, false);
      this.due.delete(`${current.value.dueDateTime}|${next.id}`);
    }
  }

  async remove(id: string, now: Date, budget: number) {
    const found = this.subscriptions.get(id);
    if (!found) return false;
    this.subscriptions.delete(id);
    this.due.delete(`${found.value.dueDateTime}|${id}`);
    this.addDue(found.value, now.toISOString(), true);
    const [removal] = [...this.due.values()].filter((d) => d.removal && d.subscriptionId === id);
    if (removal) await this.finishRemoval(removal, budget);
    return true;
  }

  async finishRemoval(due: SubscriptionDue, budget: number) {
    const rows = [...this.deliveries.keys()].filter((key) => key.startsWith(`${due.subscriptionId}/`));
    for (const key of rows.slice(0, budget)) this.deliveries.delete(key);
    if (rows.length > budget) return false;
    this.due.delete(`${due.dueDateTime}|${due.subscriptionId}`);
    return true;
  }

  async dropDue(due: SubscriptionDue) {
    this.due.delete(`${due.dueDateTime}|${due.subscriptionId}`);
  }

  async claimDelivery(subscriptionId: string, actionId: string, token: string) {
    const key = `${subscriptionId}/${actionId}`;
    const holder = this.deliveries.get(key);
    if (holder === undefined) this.deliveries.set(key, token);
    return (holder ?? token) === token;
  }

  async pruneDeliveries(subscriptionId: string, cutoff: Date, limit: number) {
    const bound = actionIdUpperBoundFor(cutoff);
    const old = [...this.deliveries.keys()]
      .filter((key) => key.startsWith(`${subscriptionId}/`) && key.slice(subscriptionId.length + 1) >= bound)
      .slice(0, limit);
    for (const key of old) this.deliveries.delete(key);
    return old.length;
  }
}

/** The subscribers' endpoints, as a test scripts them; records every validation and POST. */
export class ScriptedNotifier implements NotificationSender {
  readonly validations: string[] = [];
  readonly posts: Array<{ url: string; body: unknown }> = [];
  /** Whether endpoints pass validation. */
  validates = true;
  /** Statuses (or errors) for the next POSTs, in order; after they run out, 200. */
  script: Array<number | Error> = [];

  async validate(url: string) {
    this.validations.push(url);
    return this.validates;
  }

  async post(url: string, body: string) {
    this.posts.push({ url, body: JSON.parse(body) });
    const next = this.script.shift() ?? 200;
    if (next instanceof Error) throw next;
    return next;
  }
}

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  async record(event: AuditEvent) {
    if (this.events.some((e) => e.id === event.id && e.eventDateTime === event.eventDateTime)) return;
    this.events.push(clone(event));
  }

  async listOlderThan(cutoff: Date, limit: number) {
    return this.events
      .filter((e) => new Date(e.eventDateTime) < cutoff)
      .slice(0, limit)
      .map(clone);
  }

  async remove(events: AuditEvent[]) {
    for (const event of events) {
      const index = this.events.findIndex((e) => e.id === event.id && e.eventDateTime === event.eventDateTime);
      if (index >= 0) this.events.splice(index, 1);
    }
  }

  async list(query: AuditQuery) {
    const matching = [...this.events]
      .reverse()
      .filter((e) => !query.deviceId || e.deviceId === query.deviceId)
      .filter((e) => !query.from || new Date(e.eventDateTime) >= query.from)
      .filter((e) => !query.to || new Date(e.eventDateTime) <= query.to);
    return page(matching, query);
  }
}

/** A reversible stand-in cipher for unit tests (base64 + aad check); the real one is AES-GCM. */
export const fakeCipher: Cipher = {
  seal: (plaintext: string, aad: string): SealedSecret => ({
    keyId: 'test',
    value: Buffer.from(JSON.stringify([aad, plaintext])).toString('base64'),
  }),
  open: (sealed: SealedSecret, aad: string) => {
    const [boundTo, plaintext] = JSON.parse(Buffer.from(sealed.value, 'base64').toString()) as [string, string];
    if (boundTo !== aad) throw new Error('aad mismatch');
    return plaintext;
  },
};

/** A device channel whose behaviour a test scripts, recording every passcode it was given. */
/** A device channel whose answers a test scripts; it records every send, check and cancel. */
export class ScriptedChannel implements DeviceChannel {
  readonly received: ApplyPasscodeRequest[] = [];
  readonly checks: SentCommand[] = [];
  readonly cancels: SentCommand[] = [];
  /** What sends answer (or throw), in order; after they run out, `applied`. */
  script: Array<CommandStatus | Error> = [];
  /** What checks answer (or throw), in order; after they run out, `checkFallback`. */
  checkScript: Array<CommandStatus | Error> = [];
  checkFallback: CommandStatus = { status: 'applied' };
  /** Whether cancel requests are taken. */
  cancelable = true;

  async send(request: ApplyPasscodeRequest): Promise<CommandStatus> {
    this.received.push(clone(request));
    return answer(this.script.shift(), { status: 'applied' });
  }

  async check(command: SentCommand): Promise<CommandStatus> {
    this.checks.push(clone(command));
    return answer(this.checkScript.shift(), this.checkFallback);
  }

  async cancel(command: SentCommand): Promise<boolean> {
    this.cancels.push(clone(command));
    return this.cancelable;
  }
}

function answer(next: CommandStatus | Error | undefined, fallback: CommandStatus): CommandStatus {
  if (next instanceof Error) throw next;
  return clone(next ?? fallback);
}
