import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { build } from 'esbuild';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';

export const SAMPLE_APP = join(process.cwd(), 'test', 'fixtures', 'sample-app');

/**
 * Bundles tools/host/cli.ts the way tools/build.mjs does, into a private folder under dist/ (inside the
 * repo, so the external packages resolve from node_modules). Returns the script and a cleanup function.
 */
export async function buildHost(): Promise<{ script: string; cleanup: () => void }> {
  const dir = join(process.cwd(), 'dist', `host-test-${randomUUID()}`);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'host.js');
  await build({
    entryPoints: ['tools/host/cli.ts'],
    outfile: script,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    logLevel: 'warning',
    packages: 'external',
  });
  return { script, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function uniqueQueueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface SampleHostOptions {
  script: string;
  connectionString: string;
  queue?: string;
  timerSchedule?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts the sample app in a child host with a unique queue and a timer that (by default) never fires. */
export async function startSampleHost(options: SampleHostOptions): Promise<SpawnedHost & { queue: string }> {
  const queue = options.queue ?? uniqueQueueName('sample');
  const host = await spawnHost({
    appDir: SAMPLE_APP,
    hostScript: options.script,
    env: {
      AzureWebJobsStorage: options.connectionString,
      SAMPLE_QUEUE: queue,
      SAMPLE_TIMER_SCHEDULE: options.timerSchedule ?? '0 0 0 1 1 *',
      ...options.env,
    },
  });
  return { ...host, queue };
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function sendBase64(connectionString: string, queue: string, body: unknown) {
  const client = new QueueClient(connectionString, queue);
  return client.sendMessage(Buffer.from(JSON.stringify(body)).toString('base64'));
}
