import { InvocationContext } from '@azure/functions';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetPasscode } from '../../../functions/resetPasscode';
import { resetPasscodePoison } from '../../../functions/resetPasscodePoison';
import { simulatorUnlock } from '../../../functions/simulatorUnlock';
import type { SimulatedDeviceChannel } from '../../../lib/adapters/simulatedDeviceChannel';
import { TransientError } from '../../../lib/core/errors';
import type { ResetMessage } from '../../../lib/core/model';
import { getDeps } from '../../../lib/deps';
import { ROUTES } from '../../../lib/http/routes';
import { instrumentServices } from '../../../lib/telemetry/instrument';
import { METRIC_NAMES } from '../../../lib/telemetry/metrics';
import { noTelemetry, useTelemetryForTests } from '../../../lib/telemetry/telemetry';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { as, type HandlerHarness, makeHandlerHarness } from '../../support/handlers';
import { deviceFixture } from '../../support/services';

// The handlers get their dependencies from getDeps; a spy hands them the harness's (as test/support/handlers.ts does).
vi.mock('../../../lib/deps', { spy: true });

// Every metric of docs/operations.md, emitted at its place (the functions and the instrumented services the app runs
// with when telemetry is on), with its documented attributes, read through an in-memory reader.

class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

let reader: CollectingReader;
let harness: HandlerHarness;

beforeEach(() => {
  reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  useTelemetryForTests({ tracing: noTelemetry.tracing, meter: provider.getMeter('test'), flush: async () => {} });
  harness = makeHandlerHarness();
  const services = instrumentServices(harness.deps.services, {
    resets: 'reset-passcode',
    notifications: 'notifications',
  });
  harness = { ...harness, services, deps: { ...harness.deps, services } };
  vi.mocked(getDeps).mockReturnValue(harness.deps);
});

afterEach(() => {
  vi.mocked(getDeps).mockReset();
  useTelemetryForTests(undefined);
});

async function points(name: string): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));
}

/** A counter's value for exactly these attributes (0 when never counted). */
async function count(name: string, attributes: Record<string, unknown> = {}): Promise<number> {
  const found = (await points(name)).find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes));
  return typeof found?.value === 'number' ? found.value : 0;
}

const resetPath = (id: string) => `deviceManagement/managedDevices/${id}/resetPasscode`;
const reset = (deviceId: string, headers: Record<string, string> = {}) =>
  harness.call(resetPasscode, ROUTES.resetPasscode, resetPath(deviceId), {
    headers: { ...as('Passcode.Reset'), ...headers },
  });

/** Accepts a reset of a new iPhone and runs the worker on its message. */
async function acceptAndWork(deviceId: string) {
  harness.addDevice(deviceFixture({ id: deviceId }));
  expect((await reset(deviceId)).status).toBe(202);
  const message = harness.queue.messages.find((m) => m.deviceId === deviceId);
  if (!message) throw new Error('no message was queued');
  return { message, outcome: await applyPasscodeReset(harness.services, message) };
}

describe('metrics', () => {
  it('counts an accepted reset once (a repeat with the same Idempotency-Key is not new) and refusals by code', async () => {
    harness.addDevice(deviceFixture({ id: 'd-1' }));
    expect((await reset('d-1', { 'Idempotency-Key': 'k-1' })).status).toBe(202);
    expect((await reset('d-1', { 'Idempotency-Key': 'k-1' })).status).toBe(202);
    expect(await count(METRIC_NAMES.accepted)).toBe(1);

    const unknown = await reset('no-such-device');
    expect(unknown.status).toBe(404);
    const busy = await reset('d-1');
    expect(busy.status).toBe(409);
    expect(await count(METRIC_NAMES.refused, { 'error.code': unknown.body.error.code })).toBe(1);
    expect(await count(METRIC_NAMES.refused, { 'error.code': 'actionInProgress' })).toBe(1);
  });

  it('records a finished reset by state and error code, its time from accepted, and the channel call', async () => {
    const { outcome } = await acceptAndWork('d-2');
    expect(outcome).toBe('done');
    expect(await count(METRIC_NAMES.finished, { 'action.state': 'done', 'error.code': 'none' })).toBe(1);
    const [duration] = await points(METRIC_NAMES.duration);
    expect(duration?.attributes).toEqual({ 'action.state': 'done', 'error.code': 'none' });
    expect(duration?.value).toMatchObject({ count: 1 });
    expect(
      await count(METRIC_NAMES.channelCalls, {
        'device_channel.name': 'simulated',
        'device_channel.operation': 'send',
        outcome: 'applied',
      }),
    ).toBe(1);
    const [latency] = await points(METRIC_NAMES.channelDuration);
    expect(latency?.value).toMatchObject({ count: 1 });
  });

  it('counts a failed reset by its error code, and a transient channel failure as such', async () => {
    harness.channel.script = [new TransientError('the device did not answer', 5)];
    expect((await acceptAndWork('d-3')).outcome).toBe('retrying');
    expect(
      await count(METRIC_NAMES.channelCalls, {
        'device_channel.name': 'simulated',
        'device_channel.operation': 'send',
        outcome: 'transient',
      }),
    ).toBe(1);
    harness.channel.script = [{ status: 'failed', code: 'deviceRejected', message: 'no' }];
    expect((await acceptAndWork('d-4')).outcome).toBe('failed');
    expect(await count(METRIC_NAMES.finished, { 'action.state': 'failed', 'error.code': 'deviceRejected' })).toBe(1);
  });

  it('follows commands waiting for their device: up when the channel takes one, down when it is applied', async () => {
    harness.channel.script = [{ status: 'waiting', reference: 'op-1' }];
    const { message, outcome } = await acceptAndWork('d-5');
    expect(outcome).toBe('waiting');
    expect(await count(METRIC_NAMES.commandsWaiting, { 'device_channel.name': 'simulated' })).toBe(1);
    harness.clock.advance({ hours: 1 });
    expect(await applyPasscodeReset(harness.services, message)).toBe('done');
    expect(await count(METRIC_NAMES.commandsWaiting, { 'device_channel.name': 'simulated' })).toBe(0);
    expect(
      await count(METRIC_NAMES.channelCalls, {
        'device_channel.name': 'simulated',
        'device_channel.operation': 'check',
        outcome: 'applied',
      }),
    ).toBe(1);
  });

  it('counts notification deliveries by outcome', async () => {
    harness.notifier.script = [204, 500, new TransientError('no answer')];
    const post = () => harness.services.notifier.post('https://receiver.example/hook?sig=secret', '{}');
    await post();
    await post();
    await expect(post()).rejects.toThrow(TransientError);
    expect(await count(METRIC_NAMES.notifications, { outcome: 'delivered' })).toBe(1);
    expect(await count(METRIC_NAMES.notifications, { outcome: 'rejected' })).toBe(1);
    expect(await count(METRIC_NAMES.notifications, { outcome: 'unreachable' })).toBe(1);
  });

  it('counts each message the poison handler takes, by queue', async () => {
    const message: ResetMessage = { v: 1, deviceId: 'gone', actionId: 'a-gone' };
    await resetPasscodePoison(message, new InvocationContext({ invocationId: 'i-1', functionName: 'poison' }));
    expect(await count(METRIC_NAMES.poison, { 'messaging.destination.name': 'reset-passcode-poison' })).toBe(1);
  });

  it('counts unlock attempts refused by a locked simulated device', async () => {
    const lockScreen = { unlock: async () => ({ outcome: 'locked' as const, retryAfterSeconds: 60 }) };
    vi.mocked(getDeps).mockReturnValue({ ...harness.deps, simulator: lockScreen as unknown as SimulatedDeviceChannel });
    const result = await harness.call(
      simulatorUnlock,
      ROUTES.simulatorUnlock,
      ROUTES.simulatorUnlock.route.replace('{deviceId}', 'd-6'),
      { json: { passcode: '123456' }, headers: as('Passcode.Reset', 'Passcode.Read', 'Devices.Manage') },
    );
    expect(result.status).toBe(429);
    expect(await count(METRIC_NAMES.lockouts)).toBe(1);
  });
});
