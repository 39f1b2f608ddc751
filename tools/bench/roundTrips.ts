import { ResetMessageSchema } from '../../lib/core/model';
import { buildDeps, STORAGE_NAMES } from '../../lib/deps';
import type { DeviceChannel } from '../../lib/ports';
import { applyPasscodeReset } from '../../lib/useCases/applyPasscodeReset';
import { requestPasscodeReset } from '../../lib/useCases/requestPasscodeReset';
import { BENCH_CALLER, registerDevices } from './environment';
import { sdkQueueClient } from './sdkQueueClient';

/** Every storage request a client sent: "GET deviceActions", "POST $batch", "POST reset-passcode/messages"... */
export class RoundTripCounter {
  calls: string[] = [];
  readonly observe = (request: { method: string; url: string }) => {
    this.calls.push(`${request.method} ${resourceOf(request.url)}`);
  };

  take(): string[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }
}

/** The resource of a storage URL without account, keys and query: `deviceActions`, `$batch`, `reset-passcode/messages/{id}`. */
function resourceOf(url: string): string {
  const segments = new URL(url).pathname.split('/').filter(Boolean).slice(1);
  const [first = '', ...rest] = segments;
  const table = first.replace(/\(.*\)$/, '');
  return [table, ...rest.map((s, i) => (i === 1 ? '{id}' : s))].join('/');
}

export interface RoundTripResult {
  /** Storage calls of one accepted reset (HTTP function's use case). */
  accept: { perAction: number; max: number; calls: Record<string, number> };
  /** Storage calls of the worker's use case for one message, without the device channel's own calls. */
  workerUseCase: { perAction: number; max: number; calls: Record<string, number> };
  /** The host's queue calls per message: one receive per batch of up to batchSize, one delete per message. */
  hostQueue: { receivesPerMessageAmortised: number; receivesPerMessageWorstCase: number; deletesPerMessage: number };
  /** Worker total per message (use case + host receive + delete). */
  workerAmortised: number;
  workerWorstCase: number;
  /** For information: what the simulated channel itself sends per apply (excluded from the figures above). */
  simulatedChannelPerApply: number;
  samples: number;
}

const tally = (calls: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const call of calls) counts[call] = (counts[call] ?? 0) + 1;
  return counts;
};

/**
 * Counts round trips deterministically: the accept and worker use cases run in this process with the app's own
 * clients (buildDeps) plus a counting policy, one action at a time; the host's receive/delete sequence is replayed
 * with a counted QueueClient exactly as tools/host/queue.ts does it (one receive per batch, one delete per message).
 */
export async function countRoundTrips(
  env: Record<string, string>,
  deviceIds: readonly string[],
  batchSize: number,
): Promise<RoundTripResult> {
  const connectionString = env.AzureWebJobsStorage ?? '';
  await registerDevices(connectionString, deviceIds);
  const counter = new RoundTripCounter();
  const deps = buildDeps(env, undefined, { onStorageRequest: counter.observe });
  const noopChannel: DeviceChannel = {
    send: async () => ({ status: 'applied' }),
    check: async () => ({ status: 'applied' }),
    cancel: async () => true,
  };
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  const services = { ...deps.services, channel: noopChannel, log: quiet };
  const queue = sdkQueueClient(connectionString, STORAGE_NAMES.queue, counter.observe);
  await queue.clearMessages();
  counter.take();

  const acceptCounts: string[][] = [];
  for (const deviceId of deviceIds) {
    await requestPasscodeReset(services, { deviceId, caller: BENCH_CALLER, reason: 'benchmark' });
    acceptCounts.push(counter.take());
  }

  // The host's loop: receive a batch, run the function for each message, delete each message after success.
  const workerCounts: string[][] = [];
  let receives = 0;
  let deletes = 0;
  let messages = 0;
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: batchSize,
      visibilityTimeout: 60,
    });
    counter.take();
    receives++;
    if (receivedMessageItems.length === 0) break;
    for (const item of receivedMessageItems) {
      const message = ResetMessageSchema.parse(JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')));
      const outcome = await applyPasscodeReset(services, message);
      if (outcome !== 'done') throw new Error(`the worker finished a benchmark action as ${outcome}`);
      workerCounts.push(counter.take());
      await queue.deleteMessage(item.messageId, item.popReceipt);
      deletes += counter.take().length;
      messages++;
    }
  }
  const nonEmptyReceives = receives - 1;

  // The simulated channel's own calls, for information (its first call also creates its table: warm it up first).
  const simulator = deps.simulator;
  let simulatedChannelPerApply = Number.NaN;
  if (simulator) {
    const request = {
      actionId: 'bench-warmup',
      deviceId: deviceIds[0] ?? 'bench',
      operatingSystem: 'iOS' as const,
      osVersion: '17.5.1',
      policy: { minLength: 6, characters: 'numeric' as const, complex: true },
      passcode: '482915',
    };
    await simulator.send(request);
    counter.take();
    await simulator.send({ ...request, actionId: 'bench-counted' });
    simulatedChannelPerApply = counter.take().length;
  }

  const summarise = (runs: string[][]) => ({
    perAction: runs.reduce((sum, r) => sum + r.length, 0) / Math.max(1, runs.length),
    max: Math.max(...runs.map((r) => r.length)),
    calls: Object.fromEntries(Object.entries(tally(runs.flat())).map(([k, v]) => [k, v / Math.max(1, runs.length)])),
  });
  const workerUseCase = summarise(workerCounts);
  const hostQueue = {
    receivesPerMessageAmortised: nonEmptyReceives / Math.max(1, messages),
    receivesPerMessageWorstCase: 1,
    deletesPerMessage: deletes / Math.max(1, messages),
  };
  return {
    accept: summarise(acceptCounts),
    workerUseCase,
    hostQueue,
    workerAmortised: workerUseCase.perAction + hostQueue.receivesPerMessageAmortised + hostQueue.deletesPerMessage,
    workerWorstCase: workerUseCase.max + hostQueue.receivesPerMessageWorstCase + hostQueue.deletesPerMessage,
    simulatedChannelPerApply,
    samples: deviceIds.length,
  };
}
