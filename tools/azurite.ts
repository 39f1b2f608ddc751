import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  connectionStringParts,
  DEVELOPMENT_ACCOUNT,
  DEVELOPMENT_KEY,
  serviceEndpoint,
} from '../lib/adapters/connectionString';

export interface Ports {
  blob: number;
  queue: number;
  table: number;
}

export interface AzuriteOptions {
  /** Folder for persistent data; omit to keep everything in memory (tests). */
  location?: string;
  /** Fixed ports; omit to let Azurite bind free ones (it reports which). */
  ports?: Ports;
  /** Forward Azurite's access log to this process's stdout. */
  verbose?: boolean;
  /** Serve HTTPS with this PEM certificate and key (files), as OAuth needs. */
  https?: { cert: string; key: string };
  /** Accept bearer tokens (`--oauth basic`: issuer, audience and lifetime checked, not signatures); needs https. */
  oauth?: boolean;
  /** Write Azurite's debug log (every request, its headers and how it was authenticated) to this file. */
  debugLog?: string;
}

export interface Azurite {
  connectionString: string;
  ports: Ports;
  stop(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but never answered, as in an outage. */
  pause(): void;
  /** Lets a paused Azurite run again (SIGCONT). */
  resume(): void;
}

/** Something already listens on one of the requested ports (another Azurite, perhaps). */
export class PortsInUseError extends Error {
  constructor(readonly ports: number[]) {
    super(`Port(s) ${ports.join(', ')} on 127.0.0.1 are already in use`);
    this.name = 'PortsInUseError';
  }
}
export function connectionStringFor(ports: Ports, protocol: 'http' | 'https' = 'http'): string {
  const base = `${protocol}://127.0.0.1`;
  return [
    `DefaultEndpointsProtocol=${protocol}`,
    `AccountName=${DEVELOPMENT_ACCOUNT}`,
    `AccountKey=${DEVELOPMENT_KEY}`,
    `BlobEndpoint=${base}:${ports.blob}/${DEVELOPMENT_ACCOUNT}`,
    `QueueEndpoint=${base}:${ports.queue}/${DEVELOPMENT_ACCOUNT}`,
    `TableEndpoint=${base}:${ports.table}/${DEVELOPMENT_ACCOUNT}`,
  ].join(';');
}

/** Whether something already listens on 127.0.0.1:`port` (the address Azurite binds): a bind attempt tells. */
async function isPortInUse(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
    throw error;
  } finally {
    server.close();
  }
}

/** The ports among `ports` that are already taken on 127.0.0.1. */
export async function portsInUse(ports: number[]): Promise<number[]> {
  const taken: number[] = [];
  for (const port of ports) if (await isPortInUse(port)) taken.push(port);
  return taken;
}

// Azurite prints one of these per service once it listens; with port 0 the line carries the port it bound.
const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at https?:\/\/[^:\s]+:(\d+)/g;
const MAX_OUTPUT = 8 * 1024;

/**
 * Waits until the child itself says that its three services listen, and returns their ports. Readiness comes from
 * the child's own output, never from probing the ports: a probe would also succeed against someone else's Azurite.
 */
function waitForListening(child: ChildProcess, verbose: boolean, timeoutMs: number): Promise<Ports> {
  return new Promise((resolve, reject) => {
    let output = '';
    const found: Partial<Ports> = {};
    const timer = setTimeout(
      () => fail(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      child.stderr?.off('data', onStderr);
      child.off('exit', onExit);
    };
    const fail = (error: Error) => {
      done();
      reject(error);
    };
    const remember = (text: string) => {
      output = (output + text).slice(-MAX_OUTPUT);
    };
    const onStdout = (text: string) => {
      remember(text);
      for (const [, service, port] of text.matchAll(LISTENING)) {
        if (service === 'Blob') found.blob = Number(port);
        else if (service === 'Queue') found.queue = Number(port);
        else found.table = Number(port);
      }
      if (found.blob !== undefined && found.queue !== undefined && found.table !== undefined) {
        done();
        resolve({ blob: found.blob, queue: found.queue, table: found.table });
      }
    };
    const onStderr = (text: string) => remember(text);
    const onExit = (code: number | null) => {
      const taken = [...output.matchAll(/EADDRINUSE[^\n]*?:(\d+)/g)].map((m) => Number(m[1]));
      fail(
        taken.length > 0
          ? new PortsInUseError(taken)
          : new Error(`Azurite exited with code ${code} before it was ready:\n${output}`),
      );
    };
    child.stdout?.setEncoding('utf8').on('data', onStdout);
    child.stderr?.setEncoding('utf8').on('data', onStderr);
    child.once('exit', onExit);
    // Keep the pipes flowing after start-up, forwarding them when asked to.
    if (verbose) child.stdout?.on('data', (text: string) => process.stdout.write(text));
    else child.stdout?.resume();
    child.stderr?.on('data', (text: string) => process.stderr.write(text));
  });
}

/**
 * Starts Azurite as a child process and resolves once it reports its three services listening. With fixed ports,
 * refuses (PortsInUseError) when one is taken, so it never runs beside, or talks to, another Azurite.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  if (options.ports) {
    const taken = await portsInUse([options.ports.blob, options.ports.queue, options.ports.table]);
    if (taken.length > 0) throw new PortsInUseError(taken);
  }
  const requested = options.ports ?? { blob: 0, queue: 0, table: 0 };
  const args = [
    // Resolved from the project root so this works both bundled (CJS) and under vitest (ESM).
    createRequire(join(process.cwd(), 'package.json')).resolve('azurite/dist/src/azurite.js'),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(requested.blob),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(requested.queue),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(requested.table),
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
  if (options.https) args.push('--cert', options.https.cert, '--key', options.https.key);
  if (options.oauth) args.push('--oauth', 'basic');
  if (options.debugLog) args.push('--debug', options.debugLog);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // If this process exits without stopping it (an uncaught error, a test runner that bails), take Azurite along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a paused Azurite would not act on SIGTERM
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit');
    clearTimeout(timer);
  };
  let ports: Ports;
  try {
    ports = await waitForListening(child, options.verbose ?? false, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    connectionString: connectionStringFor(ports, options.https ? 'https' : 'http'),
    ports,
    stop,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
  };
}

/**
 * Which storage a connection string names, for people: the account and endpoints, never a key or a signature.
 * https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string
 */
export function describeConnectionString(connectionString: string): string {
  const parts = connectionStringParts(connectionString);
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return 'development storage (Azurite at 127.0.0.1:10000-10002)';
  }
  const account = parts.get('accountname');
  const table = serviceEndpoint(parts, 'table');
  const queue = serviceEndpoint(parts, 'queue');
  const credential = parts.has('sharedaccesssignature')
    ? 'a SAS'
    : parts.has('accountkey')
      ? 'an account key'
      : 'no key';
  const where = [table && `tables ${table}`, queue && `queues ${queue}`].filter(Boolean).join(', ');
  return `account ${account ?? '(not named)'}${where ? ` (${where})` : ''}, with ${credential}`;
}
