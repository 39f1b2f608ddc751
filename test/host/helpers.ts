import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Agent, type IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { build } from 'esbuild';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';

const SAMPLE_APP = join(process.cwd(), 'test', 'fixtures', 'sample-app');

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

/**
 * A copy of the sample app with its own local.settings.json, under dist/ (so @azure/functions resolves from the
 * repo's node_modules). Returns the folder and a cleanup function.
 */
export function sampleAppWithSettings(localSettings: unknown): { appDir: string; cleanup: () => void } {
  const dir = join(process.cwd(), 'dist', `host-test-app-${randomUUID()}`);
  cpSync(SAMPLE_APP, dir, { recursive: true });
  writeFileSync(join(dir, 'local.settings.json'), JSON.stringify(localSettings));
  return { appDir: dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequestOptions {
  method?: string;
  /** Header values; an array sends the header once per value. */
  headers?: Record<string, string | string[]>;
  body?: string;
  /** Send the body with chunked transfer encoding (no Content-Length). */
  chunked?: boolean;
  agent?: Agent;
  /** false: send no Host header. */
  setHost?: boolean;
}

/** A request through node:http, which (unlike fetch) can send empty and repeated headers and reuse one socket. */
export function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const { body, chunked = false } = options;
  const headers: Record<string, string | string[]> = { ...options.headers };
  if (body !== undefined && !chunked) headers['content-length'] = String(Buffer.byteLength(body));
  // Node frames a GET or DELETE body only when told to (it sends it unframed otherwise).
  if (body !== undefined && chunked) headers['transfer-encoding'] = 'chunked';
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers, agent: options.agent, setHost: options.setHost ?? true },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function uniqueQueueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface SampleHostOptions {
  script: string;
  /** Default: the sample app itself. */
  appDir?: string;
  connectionString: string;
  queue?: string;
  timerSchedule?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts the sample app in a child host with a unique queue and a timer that (by default) never fires. */
export async function startSampleHost(options: SampleHostOptions): Promise<SpawnedHost & { queue: string }> {
  const queue = options.queue ?? uniqueQueueName('sample');
  const host = await spawnHost({
    appDir: options.appDir ?? SAMPLE_APP,
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
