import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

export interface SpawnHostOptions {
  appDir: string;
  /** Merged over process.env for the child. */
  env?: NodeJS.ProcessEnv;
  /** Default 0: a free port. */
  port?: number;
  /** The bundled host; default dist/tools/host.js under the current directory. */
  hostScript?: string;
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /** Called with every chunk the host writes to stdout or stderr (e.g. to forward it). */
  onOutput?: (text: string) => void;
}

export interface SpawnedHost {
  url: string;
  /** Everything the host wrote to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM (graceful shutdown), then SIGKILL if the host has not exited in time. */
  stop(): Promise<void>;
  /** SIGKILL, for crash tests. */
  kill(): void;
  /** Settles with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

const READY = /Host ready at (http:\/\/\S+)/;

type OutputWatcher = (text: string, source: string) => void;
const watchers = new Set<OutputWatcher>();

/**
 * Calls `watcher` with every chunk that any host this process spawns writes from now on, whoever spawned it, with its
 * source (the host's pid and stream: chunks of two streams interleave). The e2e stack scans it all for leaked
 * passcodes. Returns the function that stops the calls.
 */
export function watchHostOutput(watcher: OutputWatcher): () => void {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

// logs() keeps the most recent output only, so a long benchmark run does not grow without bound.
const MAX_LOG_CHARS = 16 * 1024 * 1024;

/** Starts the local host as a child process and resolves once it prints its ready line. */
export async function spawnHost(options: SpawnHostOptions): Promise<SpawnedHost> {
  const script = options.hostScript ?? join(process.cwd(), 'dist', 'tools', 'host.js');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--enable-source-maps', script, '--app', options.appDir, '--port', String(options.port ?? 0)],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let ready = false;
  const exited = once(child, 'exit').then(([code]) => (typeof code === 'number' ? code : null));
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  // If this process exits without stopping the host (a test that fails before its clean-up), take the host along:
  // a stray host would go on polling queues on ports a later Azurite may take.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The host did not get ready within ${options.readyTimeoutMs ?? 60_000} ms. Output:\n${output}`));
    }, options.readyTimeoutMs ?? 60_000);
    const onData = (text: string, stream: 'stdout' | 'stderr') => {
      output += text;
      if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
      options.onOutput?.(text);
      for (const watcher of watchers) watcher(text, `${child.pid}/${stream}`);
      if (ready) return;
      const match = READY.exec(output);
      if (match?.[1]) {
        ready = true;
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.setEncoding('utf8').on('data', (text: string) => onData(text, 'stdout'));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => onData(text, 'stderr'));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The host exited with code ${code} before it was ready. Output:\n${output}`));
    });
  });

  return {
    url,
    logs: () => output,
    exited,
    kill: () => {
      if (isRunning()) child.kill('SIGKILL');
    },
    stop: async () => {
      if (!isRunning()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 45_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
