import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTerminal } from '../../../lib/core/actionLifecycle';
import { ApiError, PreconditionFailedError, StorageUnavailableError, TransientError } from '../../../lib/core/errors';
import type { CommandStatus, ResetMessage } from '../../../lib/core/model';
import type { ActionQueue } from '../../../lib/ports';
import { applyPasscodeReset, failUndeliveredReset } from '../../../lib/useCases/applyPasscodeReset';
import { cancelAction } from '../../../lib/useCases/deviceActions';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { passcodeAad } from '../../../lib/useCases/services';
import { sweepActions } from '../../../lib/useCases/sweepActions';
import { callerWith, deviceFixture, makeTestServices } from '../../support/services';

// The lifecycle with lost answers as an extra step (issue 19). Every storage write of the use cases may, by a generated
// plan, commit and then lose its answer (the adapter's retries and read-back ran out: a StorageUnavailableError after
// the write took effect) or fail without taking effect. Clients repeat with the same Idempotency-Key as Logic Apps does,
// the queue redelivers what a worker threw on and moves a message to the poison handler after maxDequeueCount, the
// sweeper runs. Then the faults stop, everything drains, and the invariants must hold whatever the plan was.

type Fault = 'ok' | 'lost' | 'refused';
const MAX_DEQUEUE_COUNT = 5;
const VISIBILITY_TIMEOUT_MS = 5_000;
const DEVICES = ['device-a', 'device-b'] as const;
const KEYS_PER_DEVICE = 3;
/** Fewer than the keys, so that some requests meet the limit (429). */
const DAILY_LIMIT = 2;

/** Hands out the plan's faults in order; past its end (or once stopped), every write succeeds. */
class FaultPlan {
  #next = 0;
  stopped = false;
  readonly injected: Record<Fault, number> = { ok: 0, lost: 0, refused: 0 };
  constructor(private readonly plan: readonly Fault[]) {}
  draw(): Fault {
    const fault = this.stopped ? 'ok' : (this.plan[this.#next++] ?? 'ok');
    this.injected[fault]++;
    return fault;
  }
}

/** Wraps the named write methods of `target` so that each call takes its fate from the plan. */
function faulty<T extends object>(target: T, methods: readonly (keyof T)[], plan: FaultPlan): void {
  for (const method of methods) {
    const original = target[method] as (...args: unknown[]) => Promise<unknown>;
    target[method] = (async (...args: unknown[]) => {
      const fault = plan.draw();
      if (fault === 'refused') throw new StorageUnavailableError(`${String(method)}: no answer, nothing written`);
      const result = await original.apply(target, args);
      if (fault === 'lost') throw new StorageUnavailableError(`${String(method)}: written, answer lost`);
      return result;
    }) as T[typeof method];
  }
}

interface QueuedMessage {
  id: string;
  message: ResetMessage;
  visibleAt: number;
  dequeueCount: number;
}

/** A storage queue: delayed sends, a delivery hides a message until it is deleted or the delivery fails. */
class SimulatedQueue implements ActionQueue {
  readonly messages: QueuedMessage[] = [];
  #ids = 0;
  constructor(private readonly now: () => number) {}
  async enqueue(message: ResetMessage, options: { delaySeconds?: number } = {}) {
    this.messages.push({
      id: `message-${++this.#ids}`,
      message: structuredClone(message),
      visibleAt: this.now() + (options.delaySeconds ?? 0) * 1000,
      dequeueCount: 0,
    });
  }
  nextVisible(): QueuedMessage | undefined {
    return this.messages.find((m) => m.visibleAt <= this.now());
  }
  delete(entry: QueuedMessage) {
    this.messages.splice(this.messages.indexOf(entry), 1);
  }
}

type Step =
  | { kind: 'request'; device: number; key: number }
  | { kind: 'deliver' }
  | { kind: 'sweep' }
  | { kind: 'cancel'; device: number }
  | { kind: 'advance'; seconds: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      device: fc.nat(DEVICES.length - 1),
      key: fc.nat(KEYS_PER_DEVICE - 1),
    }),
  },
  { weight: 5, arbitrary: fc.constant({ kind: 'deliver' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), device: fc.nat(DEVICES.length - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 600 }) }),
  },
);
const faultArbitrary: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('ok' as const) },
  { weight: 2, arbitrary: fc.constant('lost' as const) },
  { weight: 1, arbitrary: fc.constant('refused' as const) },
);
const channelArbitrary: fc.Arbitrary<CommandStatus | Error> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<CommandStatus>({ status: 'applied' }) },
  { weight: 1, arbitrary: fc.constant<CommandStatus>({ status: 'waiting', reference: 'operations/1' }) },
  { weight: 1, arbitrary: fc.constant(new TransientError('the device is busy', 30)) },
);

/** Errors a use case may end with: refusals (4xx), and storage or device trouble the caller retries (503). */
const expected = (error: unknown) =>
  (error instanceof ApiError && error.status < 500) ||
  error instanceof TransientError ||
  error instanceof PreconditionFailedError;

async function run(steps: Step[], plan: FaultPlan, channelScript: (CommandStatus | Error)[]) {
  const t = makeTestServices({ settings: { maxResetsPerDevicePerDay: DAILY_LIMIT } });
  const { services, clock, channel, actions } = t;
  const queue = new SimulatedQueue(() => clock.now().getTime());
  const poison = new SimulatedQueue(() => clock.now().getTime());
  services.queue = queue;
  for (const id of DEVICES) t.addDevice(deviceFixture({ id }));
  channel.script = [...channelScript];
  faulty(actions, ['create', 'update', 'remove'], plan);
  faulty(t.idempotencyKeys, ['reserve', 'remove'], plan);
  faulty(t.schedule, ['add', 'reschedule', 'remove'], plan);
  faulty(t.audit, ['record'], plan);
  faulty(queue, ['enqueue'], plan);

  const unexpected: unknown[] = [];
  const caller = callerWith('Passcode.Reset');
  /** Per Idempotency-Key: the ids its 202s named, and whether its last answer was final (not a 503). */
  const keys = new Map<string, { device: string; accepted: Set<string>; settled: boolean }>();

  async function request(device: string, key: string) {
    const state = keys.get(key) ?? { device, accepted: new Set<string>(), settled: false };
    keys.set(key, state);
    try {
      const result = await requestPasscodeReset(services, { deviceId: device, idempotencyKey: key, caller });
      state.accepted.add(result.action.id);
      state.settled = true;
    } catch (error) {
      if (!expected(error)) unexpected.push(error);
      state.settled = error instanceof ApiError;
    }
  }

  async function deliver(): Promise<boolean> {
    const entry = queue.nextVisible();
    if (!entry) return false;
    entry.dequeueCount++;
    try {
      await applyPasscodeReset(services, entry.message, { messageId: entry.id });
      queue.delete(entry);
    } catch (error) {
      if (!(error instanceof TransientError)) unexpected.push(error);
      if (entry.dequeueCount >= MAX_DEQUEUE_COUNT) {
        queue.delete(entry);
        await poison.enqueue(entry.message);
      } else {
        entry.visibleAt = clock.now().getTime() + VISIBILITY_TIMEOUT_MS;
      }
    }
    return true;
  }

  async function deliverPoison(): Promise<boolean> {
    const entry = poison.nextVisible();
    if (!entry) return false;
    try {
      await failUndeliveredReset(services, entry.message);
      poison.delete(entry);
    } catch (error) {
      if (!(error instanceof TransientError)) unexpected.push(error);
      entry.visibleAt = clock.now().getTime() + VISIBILITY_TIMEOUT_MS;
    }
    return true;
  }

  async function sweep() {
    try {
      await sweepActions(services);
    } catch (error) {
      if (!(error instanceof TransientError)) unexpected.push(error);
    }
  }

  for (const step of steps) {
    const device = 'device' in step ? (DEVICES[step.device] ?? DEVICES[0]) : DEVICES[0];
    if (step.kind === 'request') await request(device, `${device}-key-${step.key}`);
    else if (step.kind === 'deliver') await deliver();
    else if (step.kind === 'sweep') await sweep();
    else if (step.kind === 'advance') clock.advance({ seconds: step.seconds });
    else {
      const latest = actions
        .all()
        .filter((a) => a.deviceId === DEVICES[step.device])
        .at(-1);
      if (latest) {
        await cancelAction(services, latest.deviceId, latest.id, caller).catch((error: unknown) => {
          if (!expected(error)) unexpected.push(error);
        });
      }
    }
  }

  // The faults stop. Clients repeat what was answered 503 until they get a final answer; workers, the poison handler
  // and the sweeper (every minute) run until every action has ended, for at most two simulated days.
  plan.stopped = true;
  for (const [key, state] of keys) {
    for (let repeat = 0; !state.settled && repeat < 5; repeat++) await request(state.device, key);
  }
  for (let minute = 0; minute < 48 * 60; minute++) {
    if (actions.all().every((a) => isTerminal(a.actionState)) && queue.messages.length === 0) break;
    while ((await deliver()) || (await deliverPoison())) {}
    await sweep();
    clock.advance({ seconds: 60 });
  }
  return { t, keys, unexpected };
}

describe('the lifecycle with lost storage answers (property)', () => {
  it('one action per key, every action ends, the shown passcode is the one sent, attempts and sends bounded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 15, maxLength: 60 }),
        fc.array(faultArbitrary, { minLength: 20, maxLength: 150 }),
        fc.array(channelArbitrary, { maxLength: 6 }),
        async (steps, faults, channelScript) => {
          const plan = new FaultPlan(faults);
          const { t, keys, unexpected } = await run(steps, plan, channelScript);
          const { actions, channel, cipher } = t;
          const stored = actions.all();

          // No 500: every error was a refusal or a "try again".
          expect(unexpected).toEqual([]);
          for (const [key, state] of keys) {
            // A key names at most one action in all its answers, and that action is the one stored for it.
            expect(state.settled, key).toBe(true);
            expect(state.accepted.size, key).toBeLessThanOrEqual(1);
          }
          const answered = new Set([...keys.values()].flatMap((s) => [...s.accepted]));
          expect(new Set(stored.map((a) => a.id))).toEqual(answered);
          const hashes = stored.map((a) => a.idempotencyKeyHash);
          expect(new Set(hashes).size).toBe(hashes.length);

          for (const action of stored) {
            expect(isTerminal(action.actionState), action.id).toBe(true);
            // Bounded work: a claim per delivery at most, and the channel never sent a second, different passcode.
            expect(action.attempts).toBeLessThanOrEqual(MAX_DEQUEUE_COUNT * 4);
            const sent = channel.received.filter((r) => r.actionId === action.id).map((r) => r.passcode);
            expect(new Set(sent).size).toBeLessThanOrEqual(1);
            if (action.actionState === 'done') {
              expect(sent.length).toBeGreaterThan(0);
              if (action.sealedPasscode) {
                expect(cipher.open(action.sealedPasscode, passcodeAad(action.deviceId, action.id))).toBe(sent[0]);
              }
            }
          }
          // Nothing holds a device once everything ended; the daily limit held.
          for (const device of DEVICES) {
            expect(actions.guardOf(device)).toBeUndefined();
            expect(stored.filter((a) => a.deviceId === device).length).toBeLessThanOrEqual(DAILY_LIMIT);
          }
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
  }, 120_000);
});
