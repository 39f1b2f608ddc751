import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import pLimit from 'p-limit';
import { TransientError } from '../core/errors';
import type { CommandStatus } from '../core/model';
import { IdSchema } from '../core/model';
import type {
  ApplyPasscodeRequest,
  Clock,
  DeviceChannel,
  DeviceLockScreen,
  RandomInt,
  SentCommand,
  UnlockResult,
} from '../ports';
import * as z from '../zod';
import { isTransientStorageError, storageStatus } from './storageErrors';
import { ensureTable } from './tableClients';

/** Failure injection and timing of the simulated fleet. */
export interface SimulatedDeviceChannelOptions {
  latencyMs: number;
  /** Probability (0..1) that any apply throws TransientError as if the device did not answer. */
  transientFailureRate: number;
  randomInt: RandomInt;
  clock: Clock;
  sleep?: (ms: number) => Promise<void>;
  /** scrypt N for the passcode verifier (a power of 2; default 16384). The benchmark lowers it: it measures the app. */
  verifierCost?: number;
}

/** Per-device behaviour for tests and demos; each call replaces the device's previous script. */
export interface DeviceScript {
  /** The next N applies throw TransientError. */
  transientFailures?: number;
  /** Every apply (after the transient ones) fails permanently with this error. */
  permanentFailure?: { code: string; message: string };
  /** Every apply (after the transient ones) reports the action as not supported. */
  notSupported?: boolean;
  /**
   * The device is out of reach: a command waits for it (`waiting`) until the script turns this off, and the next
   * status check after that runs it, as a phone that comes back online runs its pending MDM commands.
   */
  offline?: boolean;
}

/** Wrong attempts allowed before the device locks, as an iPhone does. */
const FREE_UNLOCK_ATTEMPTS = 5;
/** How long the device refuses attempts after the 5th, 6th, 7th and later wrong one (minutes, as iOS escalates). */
const LOCKOUT_MINUTES = [1, 5, 15, 60] as const;
/** scrypt verifications at once: each takes ~16 MiB and the libuv thread pool, which the whole app shares. */
const MAX_CONCURRENT_VERIFICATIONS = 2;

/** What tests may see of a simulated device: counters, never the verifier. */
export interface SimulatedDeviceInfo {
  /** Distinct actions (so distinct passcodes) applied. */
  appliedCount: number;
  /** Applies that reached the device, including scripted failures and idempotent repeats. */
  applyCalls: number;
  lastActionId?: string;
}

const ROW_KEY = 'device';
const FAILURE_SCALE = 1_000_000;
// Optimistic-concurrency rounds before giving up; only concurrent applies to one device make a round fail.
const MAX_WRITE_ATTEMPTS = 5;
// scrypt cost: about 16 MiB and tens of milliseconds per hash, so a stolen table is slow to brute-force.
const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 32 } as const;
const SCRYPT_MAX_N = 65_536;

const StoredDeviceSchema = z.lazy(() =>
  z.object({
    etag: z.string(),
    passcodeVerifier: z.optional(z.string()),
    lastActionId: z.optional(z.string()),
    lastAppliedDateTime: z.optional(z.string()),
    appliedCount: z._default(z.number().check(z.int(), z.minimum(0)), 0),
    applyCalls: z._default(z.number().check(z.int(), z.minimum(0)), 0),
    scriptTransientFailures: z._default(z.number().check(z.int(), z.minimum(0)), 0),
    scriptFailureCode: z._default(z.string(), ''),
    scriptFailureMessage: z._default(z.string(), ''),
    scriptNotSupported: z._default(z.boolean(), false),
    /** Wrong unlock attempts in a row (counted before each check, reset by the right passcode). */
    failedUnlocks: z._default(z.number().check(z.int(), z.minimum(0)), 0),
    /** No unlock attempt is checked before this time. */
    unlockBlockedUntil: z.optional(z.string()),
    scriptOffline: z._default(z.boolean(), false),
    /** A command that waits for the (offline) device: its action and a verifier of its passcode. */
    pendingActionId: z.optional(z.string()),
    pendingVerifier: z.optional(z.string()),
    /** The last command canceled before the device ran it. */
    canceledActionId: z.optional(z.string()),
    /** The device's last contact (any command or check while online). */
    lastSeenDateTime: z.optional(z.string()),
  }),
);
type DeviceState = Omit<z.infer<typeof StoredDeviceSchema>, 'etag'>;

const NEW_DEVICE: DeviceState = {
  appliedCount: 0,
  applyCalls: 0,
  failedUnlocks: 0,
  scriptTransientFailures: 0,
  scriptFailureCode: '',
  scriptFailureMessage: '',
  scriptNotSupported: false,
  scriptOffline: false,
};

const APPLIED: CommandStatus = { status: 'applied' };
const NOT_SUPPORTED: CommandStatus = {
  status: 'notSupported',
  code: 'simulatedNotSupported',
  message: 'the simulated device does not support passcode reset',
};
// Same action, other passcode: the worker generated a second passcode for one action (docs/DESIGN.md invariant 2).
const PASSCODE_MISMATCH: CommandStatus = {
  status: 'failed',
  code: 'passcodeMismatch',
  message: 'this action was already applied to the device with a different passcode',
};
const NEVER_RECEIVED: CommandStatus = {
  status: 'failed',
  code: 'deviceUnreachable',
  message: 'the simulated device never received the passcode command',
};
const NO_ANSWER = 'simulated device did not answer';

interface Decision {
  next: DeviceState;
  result: CommandStatus | TransientError;
}

/**
 * A fleet of simulated devices in Table Storage (one entity per device, created on first use). The passcode is
 * kept only as a salted scrypt verifier, enough for `unlock` to prove the shown passcode is the applied one.
 */
export class SimulatedDeviceChannel implements DeviceChannel, DeviceLockScreen {
  private tableReady: Promise<void> | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly verifications = pLimit(MAX_CONCURRENT_VERIFICATIONS);

  constructor(
    private readonly table: TableClient,
    private readonly options: SimulatedDeviceChannelOptions,
  ) {
    if (!(options.transientFailureRate >= 0 && options.transientFailureRate <= 1)) {
      throw new Error('transientFailureRate must be between 0 and 1');
    }
    if (!(options.latencyMs >= 0)) throw new Error('latencyMs must not be negative');
    const cost = options.verifierCost ?? SCRYPT.N;
    if (!(cost >= 2 && cost <= SCRYPT_MAX_N && (cost & (cost - 1)) === 0)) {
      throw new Error('verifierCost must be a power of 2 within the verifier limits');
    }
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async send(request: ApplyPasscodeRequest): Promise<CommandStatus> {
    if (this.options.latencyMs > 0) await this.sleep(this.options.latencyMs);
    if (this.options.randomInt(0, FAILURE_SCALE) < this.options.transientFailureRate * FAILURE_SCALE) {
      throw new TransientError(NO_ANSWER);
    }
    const cost = this.options.verifierCost ?? SCRYPT.N;
    const result = await this.update(request.deviceId, (state) => decide(state, request, this.options.clock, cost));
    if (result instanceof TransientError) throw result;
    return result;
  }

  /** How the device stands with a command: an online device runs the command that waited for it now. */
  async check(command: SentCommand): Promise<CommandStatus> {
    const result = await this.update(command.deviceId, async (state) => ({
      next: contact(runPending(state, command.actionId), this.options.clock),
      result: statusOf(state, command.actionId),
    }));
    if (result instanceof TransientError) throw result;
    return result;
  }

  /** Takes a waiting command off the device; a command the device already ran stays applied (check tells). */
  async cancel(command: SentCommand): Promise<boolean> {
    await this.update(command.deviceId, async (state) => ({
      next:
        state.pendingActionId === command.actionId
          ? { ...state, pendingActionId: undefined, pendingVerifier: undefined, canceledActionId: command.actionId }
          : state,
      result: APPLIED,
    }));
    return true;
  }

  /** Sets how the device answers from now on (test and demo hook). */
  async script(deviceId: string, script: DeviceScript): Promise<void> {
    await this.update(deviceId, async (state) => ({
      next: {
        ...state,
        scriptTransientFailures: script.transientFailures ?? 0,
        scriptFailureCode: script.permanentFailure?.code ?? '',
        scriptFailureMessage: script.permanentFailure?.message ?? '',
        scriptNotSupported: script.notSupported ?? false,
        scriptOffline: script.offline ?? false,
      },
      result: APPLIED,
    }));
  }

  /**
   * Tries `passcode` on the device as its lock screen would: after FREE_UNLOCK_ATTEMPTS wrong ones in a row, attempts
   * are refused for an escalating time (1, 5, 15, then 60 minutes), even the right passcode. Each attempt is counted
   * (a conditional write) before it is checked, so parallel guesses cannot get more tries than that. Unknown devices
   * and devices without a passcode answer wrongPasscode.
   */
  async unlock(deviceId: string, passcode: string): Promise<UnlockResult> {
    if (!IdSchema.safeParse(deviceId).success) return { outcome: 'wrongPasscode' };
    const now = this.options.clock.now();
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const stored = await this.read(deviceId);
      const verifier = stored?.state.passcodeVerifier;
      if (!stored || verifier === undefined) return { outcome: 'wrongPasscode' };
      const blockedUntil = stored.state.unlockBlockedUntil ? new Date(stored.state.unlockBlockedUntil) : undefined;
      if (blockedUntil && now < blockedUntil) {
        return { outcome: 'locked', retryAfterSeconds: Math.ceil((blockedUntil.getTime() - now.getTime()) / 1000) };
      }
      const failures = stored.state.failedUnlocks + 1;
      const counted: DeviceState = {
        ...stored.state,
        failedUnlocks: failures,
        ...(failures >= FREE_UNLOCK_ATTEMPTS && { unlockBlockedUntil: lockoutEnd(now, failures) }),
      };
      if (!(await this.write(deviceId, counted, stored.etag))) continue;
      if (!(await this.verifications(() => verifyPasscode(passcode, verifier)))) return { outcome: 'wrongPasscode' };
      await this.clearFailedUnlocks(deviceId);
      return { outcome: 'unlocked' };
    }
    // Other attempts kept winning the race to be counted: this one is refused like any attempt over the limit, with a
    // short wait (a lock screen takes one attempt at a time). Never a 503: nothing is broken, and never a free check.
    return { outcome: 'locked', retryAfterSeconds: 1 };
  }

  /**
   * The right passcode clears the count of wrong ones. Concurrent right attempts race to clear it: once it reads clear
   * there is nothing to do, and a clear that keeps losing the race leaves the count to the next one. Never an error:
   * the passcode was right.
   */
  private async clearFailedUnlocks(deviceId: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const stored = await this.read(deviceId);
      if (!stored || (stored.state.failedUnlocks === 0 && stored.state.unlockBlockedUntil === undefined)) return;
      const cleared = { ...stored.state, failedUnlocks: 0, unlockBlockedUntil: undefined };
      if (await this.write(deviceId, cleared, stored.etag)) return;
    }
  }

  /** Counters of one device for tests (no secrets); undefined when the device was never touched. */
  async inspect(deviceId: string): Promise<SimulatedDeviceInfo | undefined> {
    const stored = await this.read(deviceId);
    if (stored === undefined) return undefined;
    const { appliedCount, applyCalls, lastActionId } = stored.state;
    return lastActionId === undefined ? { appliedCount, applyCalls } : { appliedCount, applyCalls, lastActionId };
  }

  /** Read, decide, conditionally write; a lost race re-reads so concurrent applies serialise per device. */
  private async update(
    deviceId: string,
    decideNext: (state: DeviceState) => Promise<Decision>,
  ): Promise<Decision['result']> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const stored = await this.read(deviceId);
      const decision = await decideNext(stored?.state ?? NEW_DEVICE);
      if (await this.write(deviceId, decision.next, stored?.etag)) return decision.result;
    }
    throw new TransientError('simulated device is busy with concurrent applies');
  }

  private async read(deviceId: string): Promise<{ state: DeviceState; etag: string } | undefined> {
    await this.ready();
    let entity: unknown;
    try {
      entity = await this.table.getEntity(deviceId, ROW_KEY);
    } catch (error) {
      if (storageStatus(error) === 404) return undefined;
      throw translate(error);
    }
    const parsed = StoredDeviceSchema.safeParse(entity);
    if (!parsed.success) throw new Error(`simulated device entity is malformed: ${z.prettifyError(parsed.error)}`);
    const { etag, ...state } = parsed.data;
    return { state, etag };
  }

  /** Creates (no etag) or replaces if unchanged (etag); false when another writer got there first. */
  private async write(deviceId: string, state: DeviceState, etag: string | undefined): Promise<boolean> {
    const entity = { partitionKey: deviceId, rowKey: ROW_KEY, ...withoutUndefined(state) };
    try {
      if (etag === undefined) await this.table.createEntity(entity);
      else await this.table.updateEntity(entity, 'Replace', { etag });
      return true;
    } catch (error) {
      const status = storageStatus(error);
      if (status === 404 || status === 409 || status === 412) return false;
      throw translate(error);
    }
  }

  private ready(): Promise<void> {
    this.tableReady ??= ensureTable(this.table).catch((error: unknown) => {
      this.tableReady = undefined; // let the next call try again
      throw translate(error);
    });
    return this.tableReady;
  }
}

async function decide(
  state: DeviceState,
  request: ApplyPasscodeRequest,
  clock: Clock,
  verifierCost: number,
): Promise<Decision> {
  const next = { ...state, applyCalls: state.applyCalls + 1 };
  if (state.scriptTransientFailures > 0) {
    return { next: { ...next, scriptTransientFailures: state.scriptTransientFailures - 1 }, result: noAnswer() };
  }
  if (state.scriptFailureCode !== '') {
    return { next, result: { status: 'failed', code: state.scriptFailureCode, message: state.scriptFailureMessage } };
  }
  if (state.scriptNotSupported) return { next, result: NOT_SUPPORTED };
  // A command sent again (a lost answer, a retry) must carry the passcode it had: the device checks it.
  const known =
    state.lastActionId === request.actionId
      ? { verifier: state.passcodeVerifier, result: APPLIED }
      : state.pendingActionId === request.actionId
        ? { verifier: state.pendingVerifier, result: waitingFor(state, request.actionId) }
        : undefined;
  if (known) {
    const same = known.verifier !== undefined && (await verifyPasscode(request.passcode, known.verifier));
    return { next: contact(next, clock), result: same ? known.result : PASSCODE_MISMATCH };
  }
  const verifier = await createVerifier(request.passcode, verifierCost);
  if (state.scriptOffline) {
    return {
      next: { ...next, pendingActionId: request.actionId, pendingVerifier: verifier },
      result: waitingFor(state, request.actionId),
    };
  }
  // Only the latest action is remembered: the app allows one non-terminal reset per device (invariant 3), so an
  // older action is not re-applied once a newer one exists.
  return { next: contact(applied(next, request.actionId, verifier), clock), result: APPLIED };
}

/** The device now has the passcode of `actionId`. */
function applied(state: DeviceState, actionId: string, verifier: string): DeviceState {
  return {
    ...state,
    passcodeVerifier: verifier,
    lastActionId: actionId,
    appliedCount: state.appliedCount + 1,
    pendingActionId: undefined,
    pendingVerifier: undefined,
  };
}

/** An online device notes the contact (an offline one is not in contact). */
const contact = (state: DeviceState, clock: Clock): DeviceState =>
  state.scriptOffline ? state : { ...state, lastSeenDateTime: clock.now().toISOString() };

/** An online device runs the command that waited for it. */
const runPending = (state: DeviceState, actionId: string): DeviceState =>
  !state.scriptOffline && state.pendingActionId === actionId && state.pendingVerifier !== undefined
    ? applied(state, actionId, state.pendingVerifier)
    : state;

const waitingFor = (state: DeviceState, actionId: string): CommandStatus => ({
  status: 'waiting',
  reference: actionId,
  ...(state.lastSeenDateTime && { deviceLastSeenDateTime: state.lastSeenDateTime }),
});

/** What the device says of a command, before the check's own contact (runPending) is stored. */
function statusOf(state: DeviceState, actionId: string): CommandStatus {
  if (state.lastActionId === actionId) return APPLIED;
  if (state.pendingActionId === actionId) return state.scriptOffline ? waitingFor(state, actionId) : APPLIED;
  if (state.canceledActionId === actionId) return { status: 'canceled' };
  return NEVER_RECEIVED;
}

const noAnswer = () => new TransientError(NO_ANSWER);

/** When a lockout that starts at `now` ends, for the `failures`-th wrong attempt in a row. */
function lockoutEnd(now: Date, failures: number): string {
  const step = Math.min(failures - FREE_UNLOCK_ATTEMPTS, LOCKOUT_MINUTES.length - 1);
  return new Date(now.getTime() + (LOCKOUT_MINUTES[step] ?? 60) * 60_000).toISOString();
}

function translate(error: unknown): unknown {
  return isTransientStorageError(error) ? new TransientError('simulated device store is unavailable') : error;
}

function withoutUndefined(state: DeviceState): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(state).filter(([, value]) => value !== undefined));
}

function scryptKey(passcode: string, salt: Buffer, N: number, r: number, p: number, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(passcode, salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$<salt b64>$<key b64>`: parameters travel with the hash so the cost can change later. */
async function createVerifier(passcode: string, N: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptKey(passcode, salt, N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return ['scrypt', N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

const VerifierSchema = z.lazy(() =>
  z.tuple([
    z.literal('scrypt'),
    z.coerce.number().check(
      z.int(),
      z.minimum(2),
      z.maximum(SCRYPT_MAX_N),
      z.refine((n) => (n & (n - 1)) === 0, 'N must be a power of 2'),
    ),
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(16)),
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(4)),
    z.base64(),
    z.base64(),
  ]),
);

async function verifyPasscode(passcode: string, verifier: string): Promise<boolean> {
  const parsed = VerifierSchema.safeParse(verifier.split('$'));
  if (!parsed.success) return false;
  const [, N, r, p, salt, key] = parsed.data;
  const expected = Buffer.from(key, 'base64');
  if (expected.length === 0) return false;
  const actual = await scryptKey(passcode, Buffer.from(salt, 'base64'), N, r, p, expected.length);
  return timingSafeEqual(actual, expected);
}
