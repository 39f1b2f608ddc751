// Entry point of the local Functions host: `node dist/tools/host.js [--app <dir>] [--port <n>]`.
import { parseArgs } from 'node:util';
import { loadLocalSettings } from './config';
import { startHost } from './host';

const READY = 'Host ready at';

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port "${text}"`);
  return port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { app: { type: 'string' }, port: { type: 'string' } },
    strict: true,
  });
  const appDir = values.app ?? process.cwd();
  const settings = loadLocalSettings(appDir, process.env);
  const port = parsePort(values.port) ?? parsePort(process.env.PORT) ?? settings.localHttpPort ?? 7071;
  const leaseSeconds = parsePort(process.env.LOCAL_FUNCTIONS_HOST_QUEUE_LEASE_SECONDS);

  const host = await startHost({
    appDir,
    port,
    queueLeaseMs: leaseSeconds === undefined ? undefined : leaseSeconds * 1000,
  });

  const lines = ['', 'Functions:', ''];
  for (const f of host.functions) lines.push(`        ${f.name}: ${f.trigger} ${f.detail}`);
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n${READY} ${host.url}\n`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stdout.write(`Received ${signal} again; exiting now\n`);
      process.exit(1);
    }
    process.stdout.write(`Received ${signal}; shutting down gracefully\n`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((error: unknown) => {
  process.stderr.write(`The host could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
