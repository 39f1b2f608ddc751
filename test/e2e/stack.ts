import { expect } from 'vitest';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';
import { throwawaySettings } from '../../tools/localSettings';

export interface Stack {
  azurite: Azurite;
  host: SpawnedHost;
  /** Base URL including /api. */
  api: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

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
