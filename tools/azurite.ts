import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

export interface AzuriteOptions {
  /** Folder for persistent data; omit to keep everything in memory (tests). */
  location?: string;
  /** Fixed ports (blob, queue, table); omit to pick free ones. */
  ports?: { blob: number; queue: number; table: number };
  /** Forward Azurite's access log to this process's stdout. */
  verbose?: boolean;
}

export interface Azurite {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
// Azurite's well-known development key (public, documented by Microsoft; not a secret).
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function connectionStringFor(ports: { blob: number; queue: number; table: number }): string {
  const base = 'http://127.0.0.1';
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${ACCOUNT}`,
    `AccountKey=${KEY}`,
    `BlobEndpoint=${base}:${ports.blob}/${ACCOUNT}`,
    `QueueEndpoint=${base}:${ports.queue}/${ACCOUNT}`,
    `TableEndpoint=${base}:${ports.table}/${ACCOUNT}`,
  ].join(';');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} before it was ready`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Azurite did not open port ${port} in time`);
}

/** Starts Azurite as a child process and resolves once its three ports answer. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const ports = options.ports ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const args = [
    // Resolved from the project root so this works both bundled (CJS) and under vitest (ESM).
    createRequire(join(process.cwd(), 'package.json')).resolve('azurite/dist/src/azurite.js'),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(ports.blob),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(ports.queue),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(ports.table),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  if (!options.verbose) args.push('--silent');
  const child = spawn(process.execPath, args, { stdio: ['ignore', options.verbose ? 'inherit' : 'ignore', 'inherit'] });
  // If this process exits without stopping it (an uncaught error, a test runner that bails), take Azurite along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit');
    clearTimeout(timer);
  };
  try {
    const deadline = Date.now() + 30_000;
    await Promise.all([ports.blob, ports.queue, ports.table].map((p) => waitForPort(p, child, deadline)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { connectionString: connectionStringFor(ports), ports, stop };
}
