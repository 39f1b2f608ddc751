import { newActionId } from '../../lib/core/actionId';
import type { DeviceAction, DeviceInput } from '../../lib/core/model';
import { buildDeps } from '../../lib/deps';
import type { Caller } from '../../lib/security/caller';
import { throwawaySettings } from '../localSettings';
import { forEachLimited } from './stats';

/** App settings for the benchmark: fresh keys, no auth, an instant simulated channel, no daily limit in the way. */
export function benchSettings(
  connectionString: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return throwawaySettings({
    AzureWebJobsStorage: connectionString,
    SIMULATOR_LATENCY_MS: '0',
    // The simulated device's verifier is a test double's cost, not the app's: keep it small here.
    SIMULATOR_VERIFIER_COST: '1024',
    MAX_RESETS_PER_DEVICE_PER_DAY: '1000',
    // host.json overrides (the real host's convention): poll an empty queue at most every 100 ms, retry at once.
    AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.100',
    AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00',
    // Warnings and errors only: the local host writes each log line synchronously to a pipe, two or three per
    // invocation, which on 2 cores takes CPU from Azurite; Azure's host batches its telemetry off the request path.
    // The app's own warnings and errors are still written.
    AzureFunctionsJobHost__logging__logLevel__default: 'Warning',
    ...overrides,
  });
}

/** The caller AUTH_MODE=none gives every request, for in-process use case calls. */
export const BENCH_CALLER: Caller = {
  id: 'bench',
  name: 'Benchmark',
  roles: new Set(['Devices.Read', 'Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read']),
};

/**
 * App settings that switch functions off, the real host's way (`AzureWebJobs.<name>.Disabled`): the accept run must
 * not share its two cores with the queue worker, and no run should meet the minute sweeper.
 */
export const disabled = (...functionNames: string[]): Record<string, string> =>
  Object.fromEntries(functionNames.map((name) => [`AzureWebJobs.${name}.Disabled`, 'true']));

export const QUEUE_FUNCTIONS = ['resetPasscodeWorker', 'resetPasscodePoison', 'notifications'];
export const TIMER_FUNCTIONS = ['sweepDeviceActions'];

const BENCH_DEVICE: DeviceInput = {
  deviceName: 'Benchmark iPhone',
  operatingSystem: 'iOS',
  osVersion: '17.5.1',
  azureADJoined: false,
  userPrincipalName: 'bench@contoso.com',
  passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
};

/** Ids of `count` devices for one phase; distinct across phases so no request ever meets an in-flight guard. */
export const deviceIds = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `bench-${prefix}-${String(i).padStart(6, '0')}`);

/** Registers devices as a PUT does, through the app's own stores (so the entity formats are the app's). */
export async function registerDevices(connectionString: string, ids: readonly string[]): Promise<void> {
  const { services } = buildDeps(benchSettings(connectionString));
  const at = new Date().toISOString();
  await forEachLimited(ids.length, 32, async (i) => {
    const id = ids[i];
    if (id === undefined) return;
    await services.devices.put({ id, ...BENCH_DEVICE, createdDateTime: at, lastUpdatedDateTime: at });
  });
}

/**
 * A reset the benchmarks seed history with: applied (done) at `at`, its id from `at` and `randomHex` (20 hex
 * characters); `overrides` change what a benchmark needs changed.
 */
export function benchAction(
  deviceId: string,
  at: Date,
  randomHex: string,
  overrides: Partial<DeviceAction> = {},
): DeviceAction {
  return {
    id: newActionId(at, randomHex),
    deviceId,
    actionName: 'resetPasscode',
    actionState: 'done',
    startDateTime: at.toISOString(),
    lastUpdatedDateTime: at.toISOString(),
    requestedBy: 'bench@contoso.com',
    requestedById: 'bench',
    target: {
      operatingSystem: 'iOS',
      osVersion: '17.5',
      passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
    },
    attempts: 1,
    appliedDateTime: at.toISOString(),
    ...overrides,
  };
}
