import { afterAll, expect } from 'vitest';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { type SpawnedHost, spawnHost, watchHostOutput } from '../../tools/host/spawnHost';
import { throwawaySettings } from '../../tools/localSettings';

export interface Stack {
  azurite: Azurite;
  host: SpawnedHost;
  /** Base URL including /api. */
  api: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

// No passcode may reach a log (issue 22), in any e2e file: every passcode a JSON response to this file's tests carries
// is recorded (not the ones tests send: a fuzzer's or an attacker's guesses such as "1" are no secret and would match
// anything), every host this file spawns (through startStack or spawnHost itself) is listened to, and once the file is
// done no line any of them wrote may hold one. The hook is registered at import, before the file's own, so it runs
// after them (vitest runs after-hooks in reverse), when the hosts have stopped and said all they say. Azurite runs with
// --silent: it writes no request or body to scan. Vitest isolates each file (a process of its own by default), so the
// fetch wrapper and the records are this file's only.
const seenPasscodes = new Set<string>();
const hostOutput = new Map<string, string>();
const pendingBodies: Promise<void>[] = [];
watchHostOutput((text, source) => hostOutput.set(source, (hostOutput.get(source) ?? '') + text));

function recordPasscodes(value: unknown): void {
  if (Array.isArray(value)) for (const item of value) recordPasscodes(item);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'passcode' && typeof inner === 'string' && inner !== '') seenPasscodes.add(inner);
      else recordPasscodes(inner);
    }
  }
}

function recordPasscodesIn(text: unknown): void {
  if (typeof text !== 'string') return;
  try {
    recordPasscodes(JSON.parse(text));
  } catch {
    // not JSON: no passcode field to record
  }
}

// fetch, not call(): tests and clients (the Graph SDK's middleware, the console pages) also fetch on their own.
const fetchUnwatched = globalThis.fetch;
globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
  const response = await fetchUnwatched(input, init);
  if (/json/i.test(response.headers.get('content-type') ?? '')) {
    pendingBodies.push(
      response
        .clone()
        .text()
        .then(recordPasscodesIn, () => undefined),
    );
  }
  return response;
}) as typeof fetch;

/** The lines of `outputs` that hold one of `passcodes` as a whole token (not inside a longer number or id), masked. */
function linesWithPasscodes(passcodes: Iterable<string>, outputs: Iterable<string>): string[] {
  const escaped = [...passcodes].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (escaped.length === 0) return [];
  const token = new RegExp(`(?<![0-9A-Za-z])(?:${escaped.join('|')})(?![0-9A-Za-z])`, 'g');
  const found: string[] = [];
  for (const output of outputs) {
    for (const line of output.split('\n')) {
      if (token.test(line)) found.push(line.replace(token, '<passcode>'));
      token.lastIndex = 0;
    }
  }
  return found;
}

afterAll(async () => {
  await Promise.all(pendingBodies);
  const leaks = linesWithPasscodes(seenPasscodes, hostOutput.values());
  expect(leaks, `host log lines holding one of the ${seenPasscodes.size} passcodes this file saw`).toEqual([]);
});

/** Settings for a test host: fresh keys, fast queue polling, the simulated channel. */
export function testSettings(overrides: Record<string, string> = {}): Record<string, string> {
  return throwawaySettings({
    SIMULATOR_LATENCY_MS: '20',
    MAX_RESETS_PER_DEVICE_PER_DAY: '10',
    PASSCODE_DISPLAY_HOURS: '168',
    // host.json overrides, the real host's convention: retry fast in tests.
    AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.500',
    AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00.500',
    ...overrides,
  });
}

/** A fresh Azurite (own instance, so queue names never collide between files) and the local host running the app. */
export async function startStack(
  overrides: Record<string, string> = {},
  options: { port?: number } = {},
): Promise<Stack> {
  const azurite = await startAzurite();
  // No provisioning here: the app creates its tables and queues at start-up (resetPasscode.e2e checks it).
  const env = testSettings({ AzureWebJobsStorage: azurite.connectionString, ...overrides });
  let host: SpawnedHost;
  try {
    host = await spawnHost({ appDir: process.cwd(), env, port: options.port ?? 0 });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  const stack: Stack = {
    azurite,
    host,
    api: `${host.url}/api`,
    env,
    // Tests replace `stack.host` (restarts, kills): stop whichever host runs now, or it outlives the test.
    stop: async () => {
      await stack.host.stop();
      await azurite.stop();
    },
  };
  return stack;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * fetch + JSON body. A POST, PUT or PATCH says it is JSON even without a body, as the API requires (docs/API.md); a
 * call that sends a body of its own (`body`) sets its own type.
 */
export async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<JsonResponse> {
  const { json, ...rest } = init;
  const changes = ['POST', 'PUT', 'PATCH'].includes((rest.method ?? 'GET').toUpperCase());
  const declareJson = json !== undefined || (changes && rest.body === undefined);
  const response = await fetch(url, {
    ...rest,
    ...(json !== undefined && { body: JSON.stringify(json) }),
    ...(declareJson && {
      headers: { 'Content-Type': 'application/json', ...(rest.headers as Record<string, string>) },
    }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Registers an iOS 17.5 device and requests a reset of its passcode; the answer must be 202. */
export async function registerAndReset(api: string, deviceId: string): Promise<JsonResponse> {
  await call(`${api}/deviceManagement/managedDevices/${deviceId}`, {
    method: 'PUT',
    json: { deviceName: deviceId, operatingSystem: 'iOS', osVersion: '17.5' },
  });
  const accepted = await call(`${api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, { method: 'POST' });
  expect(accepted.status).toBe(202);
  return accepted;
}

/**
 * A call repeated as an automation's retry policy repeats it (Logic Apps' default retries 429 and 5xx): after a 503,
 * wait its Retry-After and send the same request again, up to `attempts` times. Requests that change something must
 * carry an Idempotency-Key (or be idempotent, as PUT is), which is what makes the repeat safe (docs/API.md).
 */
export async function callRetrying(
  url: string,
  init: RequestInit & { json?: unknown } = {},
  attempts = 5,
): Promise<JsonResponse & { retries: number }> {
  for (let retries = 0; ; retries++) {
    const response = await call(url, init);
    if (response.status !== 503 || retries + 1 >= attempts) return { ...response, retries };
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter > 0, 'a 503 carries Retry-After').toBe(true);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  }
}

/**
 * Polls a status monitor the way Logic Apps' HTTP action does: while the answer is 202, wait Retry-After seconds
 * and GET the Location; stop at the first other status.
 */
export async function pollLikeLogicApps(
  first: JsonResponse,
  options: { headers?: Record<string, string>; maxPolls?: number; rewrite?: (location: string) => string } = {},
): Promise<{ final: JsonResponse; polls: number; waitedSeconds: number }> {
  let current = first;
  let polls = 0;
  let waitedSeconds = 0;
  while (current.status === 202) {
    if (++polls > (options.maxPolls ?? 60)) throw new Error('the action did not finish');
    const location = current.headers.get('location');
    const retryAfter = Number(current.headers.get('retry-after'));
    if (!location || !Number.isFinite(retryAfter)) throw new Error('a 202 without Location or Retry-After');
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    waitedSeconds += retryAfter;
    current = await call(options.rewrite?.(location) ?? location, {
      ...(options.headers && { headers: options.headers }),
    });
  }
  return { final: current, polls, waitedSeconds };
}
