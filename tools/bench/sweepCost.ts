import { toEntity } from '../../lib/adapters/tableActionStore';
import { auditEntity } from '../../lib/adapters/tableAuditLog';
import { tableClient } from '../../lib/adapters/tableClients';
import { acceptedResetEvent } from '../../lib/core/auditEvents';
import type { DeviceAction } from '../../lib/core/model';
import { buildDeps, ensureStorage, STORAGE_NAMES } from '../../lib/deps';
import type { Clock } from '../../lib/ports';
import { requestPasscodeReset } from '../../lib/useCases/requestPasscodeReset';
import { sweepActions } from '../../lib/useCases/sweepActions';
import { BENCH_CALLER, benchAction, benchSettings, deviceIds, registerDevices } from './environment';
import { RoundTripCounter } from './roundTrips';

/** How the sweeper's cost was measured: storage requests of one run, with a history of `history` finished actions. */
export interface SweepCost {
  history: number;
  /** Actions in flight and due for review in the measured run. */
  due: number;
  requests: number;
  calls: Record<string, number>;
}

const PER_DEVICE = 100;
const DUE = 20;

/**
 * Finished actions as months of history leave them: done, passcode purged, accepted event in the audit trail, and
 * no schedule entry left (their reviews are over). Written in entity-group transactions of 100, in the app's formats.
 */
async function seedHistory(connectionString: string, count: number, clock: Clock): Promise<void> {
  const actions = tableClient(connectionString, STORAGE_NAMES.tables.actions);
  const audit = tableClient(connectionString, STORAGE_NAMES.tables.audit);
  const started = clock.now().getTime() - 30 * 24 * 3600_000;
  const history: DeviceAction[] = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(started + i * 60_000);
    history.push(
      benchAction(
        `history-${String(Math.floor(i / PER_DEVICE)).padStart(5, '0')}`,
        at,
        i.toString(16).padStart(20, '0'),
        {
          passcodeExpirationDateTime: new Date(at.getTime() + 168 * 3600_000).toISOString(),
        },
      ),
    );
  }
  for (let i = 0; i < history.length; i += PER_DEVICE) {
    const batch = history.slice(i, i + PER_DEVICE);
    await actions.submitTransaction(batch.map((a) => ['create', toEntity(a)]));
    await audit.submitTransaction(batch.map((a) => ['create', auditEntity(acceptedResetEvent(a))]));
  }
}

/**
 * The sweeper's storage requests in one run, over a history of `history` finished actions plus DUE actions that are
 * stuck (their message lost) and so due for review. The history must not show in the count (invariant 8).
 */
export async function measureSweepCost(connectionString: string, history: number): Promise<SweepCost> {
  let now = new Date();
  const clock: Clock = { now: () => now };
  const counter = new RoundTripCounter();
  let counting = false;
  const { services } = buildDeps(benchSettings(connectionString), clock, {
    onStorageRequest: (request) => {
      if (counting) counter.observe(request);
    },
  });
  await ensureStorage(connectionString);
  await seedHistory(connectionString, history, clock);
  const devices = deviceIds(`sweep${history}`, DUE);
  await registerDevices(connectionString, devices);
  // Accepted resets whose messages are dropped: the sweeper must find them by their schedule entries.
  const queue = services.queue.enqueue;
  services.queue.enqueue = async () => {};
  for (const deviceId of devices) await requestPasscodeReset(services, { deviceId, caller: BENCH_CALLER });
  services.queue.enqueue = queue;

  now = new Date(now.getTime() + (services.settings.stuckAfterSeconds + 1) * 1000);
  counting = true;
  const report = await sweepActions(services);
  counting = false;
  if (report.reviewed !== DUE || report.requeued !== DUE) {
    throw new Error(`the sweep reviewed ${report.reviewed} and requeued ${report.requeued}, expected ${DUE} each`);
  }
  const calls = counter.take();
  const byKind: Record<string, number> = {};
  for (const call of calls) byKind[call] = (byKind[call] ?? 0) + 1;
  return { history, due: DUE, requests: calls.length, calls: byKind };
}
