import { actionIdUpperBoundFor } from '../../lib/core/actionId';
import { isTerminal } from '../../lib/core/actionState';
import { acceptedResetEvent } from '../../lib/core/auditEvents';
import { invalidRequest, PreconditionFailedError } from '../../lib/core/errors';
import type { Device, DeviceAction, ResetMessage, SealedSecret } from '../../lib/core/model';
import type {
  ActionQueue,
  ActionStore,
  ApplyOutcome,
  ApplyPasscodeRequest,
  AuditEvent,
  AuditLog,
  AuditQuery,
  Cipher,
  CreateActionResult,
  DeviceChannel,
  DeviceProfile,
  DeviceStore,
  IdempotencyRecord,
  InFlightGuard,
  ListActionsQuery,
  Page,
  ResetContext,
  Versioned,
} from '../../lib/ports';

const clone = <T>(value: T): T => structuredClone(value);

/** Pages an in-memory list with a numeric offset as the skip token; a forged token is a 400, as with the adapters. */
function page<T>(items: T[], query: { top: number; skipToken?: string }): Page<T> {
  if (query.skipToken !== undefined && !/^\d{1,9}$/.test(query.skipToken)) {
    throw invalidRequest(
      'The $skipToken is not valid; use the @odata.nextLink of the previous page as is.',
      [],
      '$skipToken',
    );
  }
  const start = query.skipToken ? Number(query.skipToken) : 0;
  const end = start + query.top;
  return { items: items.slice(start, end), ...(end < items.length && { nextToken: String(end) }) };
}

/** ActionStore in memory with the same ETag and atomicity rules as the Table adapter. */
export class MemoryActionStore implements ActionStore {
  private readonly actions = new Map<string, Versioned<DeviceAction>>();
  private readonly guards = new Map<string, InFlightGuard>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  readonly profiles = new Map<string, DeviceProfile>();

  /** `audit`, when given, receives the accepted event of each created action, as the Table adapter writes it. */
  constructor(private readonly audit?: AuditLog) {}
  private version = 0;
  /** Every write, for tests that assert what was (not) written. */
  writes = 0;

  private key = (deviceId: string, actionId: string) => `${deviceId}/${actionId}`;
  private nextEtag = () => `W/"${++this.version}"`;

  async create(action: DeviceAction): Promise<CreateActionResult> {
    const guard = this.guards.get(action.deviceId);
    if (guard) return { created: false, inFlightActionId: guard.actionId };
    const etag = this.nextEtag();
    this.writes++;
    this.actions.set(this.key(action.deviceId, action.id), { value: clone(action), etag });
    this.guards.set(action.deviceId, {
      deviceId: action.deviceId,
      actionId: action.id,
      createdDateTime: action.startDateTime,
    });
    await this.audit?.record(acceptedResetEvent(action));
    return { created: true, etag };
  }

  async get(deviceId: string, actionId: string) {
    const found = this.actions.get(this.key(deviceId, actionId));
    return found && clone(found);
  }

  async update(action: DeviceAction, read: Versioned<DeviceAction>): Promise<Versioned<DeviceAction>> {
    const k = this.key(action.deviceId, action.id);
    const current = this.actions.get(k);
    if (!current || current.etag !== read.etag) throw new PreconditionFailedError();
    const releasing = isTerminal(action.actionState) && !isTerminal(current.value.actionState);
    if (releasing && this.guards.get(action.deviceId)?.actionId !== action.id) throw new PreconditionFailedError();
    const next = { value: clone(action), etag: this.nextEtag() };
    this.writes++;
    this.actions.set(k, next);
    if (releasing) this.guards.delete(action.deviceId);
    return clone(next);
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
    const profile = this.profiles.get(deviceId);
    return { ...(profile && { profile: clone(profile) }), recentStarts };
  }

  async putDeviceProfile(deviceId: string, profile: DeviceProfile): Promise<void> {
    this.writes++;
    this.profiles.set(deviceId, clone(profile));
  }

  async listInFlight() {
    return [...this.guards.values()].map(clone);
  }

  async listWithExpiredPasscodes(before: Date) {
    return [...this.actions.values()]
      .filter(
        (v) =>
          v.value.sealedPasscode &&
          v.value.passcodeExpirationDateTime &&
          new Date(v.value.passcodeExpirationDateTime) < before,
      )
      .map(clone);
  }

  async reserveIdempotencyKey(keyHash: string, record: IdempotencyRecord) {
    const existing = this.idempotency.get(keyHash);
    if (existing) return clone(existing);
    this.writes++;
    this.idempotency.set(keyHash, clone(record));
    return undefined;
  }

  /** Test helper: every action. */
  all(): DeviceAction[] {
    return [...this.actions.values()].map((v) => clone(v.value));
  }
}

export class MemoryDeviceStore implements DeviceStore {
  readonly devices = new Map<string, Device>();

  async get(deviceId: string) {
    const d = this.devices.get(deviceId);
    return d && clone(d);
  }

  async put(device: Device) {
    const created = !this.devices.has(device.id);
    this.devices.set(device.id, clone(device));
    return created ? ('created' as const) : ('updated' as const);
  }

  async list(query: { operatingSystem?: string; top: number; skipToken?: string }) {
    const all = [...this.devices.values()]
      .filter((d) => !query.operatingSystem || d.operatingSystem === query.operatingSystem)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return page(all.map(clone), query);
  }
}

export class MemoryQueue implements ActionQueue {
  readonly messages: ResetMessage[] = [];

  async enqueue(message: ResetMessage) {
    this.messages.push(clone(message));
  }
}

export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  async record(event: AuditEvent) {
    if (this.events.some((e) => e.id === event.id && e.eventDateTime === event.eventDateTime)) return;
    this.events.push(clone(event));
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
export class ScriptedChannel implements DeviceChannel {
  readonly received: ApplyPasscodeRequest[] = [];
  /** Outcomes to return (or errors to throw) in order; after they run out, `applied`. */
  script: Array<ApplyOutcome | Error> = [];

  async apply(request: ApplyPasscodeRequest): Promise<ApplyOutcome> {
    this.received.push(clone(request));
    const next = this.script.shift();
    if (next instanceof Error) throw next;
    return next ?? { outcome: 'applied' };
  }
}
