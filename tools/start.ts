// `npm start`: storage (Azurite with data kept in .azurite/, or AzureWebJobsStorage from the environment), storage
// provisioning, demo devices, and the local Functions host. Ctrl-C stops everything.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureStorage } from '../lib/deps';
import { describeConnectionString, PortsInUseError, portsInUse, startAzurite } from './azurite';
import { spawnHost } from './host/spawnHost';
import { seedDemoDevices } from './provision';

const root = process.cwd();
const DEFAULT_PORTS = { blob: 10000, queue: 10001, table: 10002 };

interface Storage {
  connectionString: string;
  /** The banner's storage line (never a key). */
  description: string;
  stop(): Promise<void>;
}

function ensureLocalSettings(): Record<string, string> {
  const path = join(root, 'local.settings.json');
  if (!existsSync(path)) {
    copyFileSync(join(root, 'local.settings.example.json'), path);
    console.log('Created local.settings.json from local.settings.example.json (local values only).');
  }
  const values = (JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  return values;
}

/**
 * One `npm start` per data folder: two Azurites writing the same .azurite/ files would corrupt them. The lock holds
 * this process's id and goes away when it exits.
 */
function lockDataFolder(location: string): void {
  const lock = join(location, 'npm-start.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    let alive = false;
    try {
      alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
    } catch {
      // No such process: a stale lock from a run that was killed.
    }
    if (alive && pid !== process.pid) {
      throw new Error(`Another npm start (process ${pid}) is using ${location}; stop it first.`);
    }
  }
  writeFileSync(lock, String(process.pid));
  process.once('exit', () => rmSync(lock, { force: true }));
}

async function startStorage(): Promise<Storage> {
  // A storage account (or an Azurite someone already runs) named by the environment: use it, start nothing.
  const external = process.env.AzureWebJobsStorage;
  if (external) {
    return {
      connectionString: external,
      description: `AzureWebJobsStorage from the environment: ${describeConnectionString(external)}; no Azurite started`,
      stop: async () => {},
    };
  }
  const location = join(root, '.azurite');
  mkdirSync(location, { recursive: true });
  lockDataFolder(location);
  const data = 'data in .azurite/';
  // Check the default ports first: Azurite would otherwise fail on them while something else (another Azurite, with
  // other data) answers there.
  const taken = await portsInUse(Object.values(DEFAULT_PORTS));
  if (taken.length === 0) {
    try {
      const azurite = await startAzurite({ location, ports: DEFAULT_PORTS });
      return { ...azurite, description: `Azurite on ports 10000-10002, ${data}` };
    } catch (error) {
      // Taken between the check and the start: fall through to free ports.
      if (!(error instanceof PortsInUseError)) throw error;
      taken.push(...error.ports);
    }
  }
  const azurite = await startAzurite({ location });
  const { blob, queue, table } = azurite.ports;
  console.log(`Port(s) ${taken.join(', ')} are in use (another Azurite?); starting Azurite on other ports.`);
  return {
    ...azurite,
    description: `Azurite on ports ${blob}, ${queue}, ${table} (10000-10002 are in use by another program), ${data}`,
  };
}

function parsePort(text: string | undefined): number {
  const port = Number(text ?? 7071);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT="${text}" is not a port number`);
  return port;
}

async function main() {
  const settings = ensureLocalSettings();
  const authMode = process.env.AUTH_MODE ?? settings.AUTH_MODE ?? 'entra';
  // Core Tools runs the host in the Development environment; the app relaxes some checks only there.
  const environment = process.env.AZURE_FUNCTIONS_ENVIRONMENT ?? settings.AZURE_FUNCTIONS_ENVIRONMENT ?? 'Development';
  const port = parsePort(process.env.PORT);
  if (port !== 0 && (await portsInUse([port])).length > 0) {
    throw new Error(`Port ${port} is in use (another npm start or func start?). Stop it, or set PORT to another port.`);
  }

  console.log(
    process.env.AzureWebJobsStorage ? 'Using AzureWebJobsStorage from the environment…' : 'Starting Azurite…',
  );
  const storage = await startStorage();
  let stopping = false;
  try {
    await ensureStorage(storage.connectionString);
    const seeded = await seedDemoDevices(storage.connectionString);
    console.log('Starting the local Functions host…');
    const host = await spawnHost({
      appDir: root,
      port,
      env: { AzureWebJobsStorage: storage.connectionString, AZURE_FUNCTIONS_ENVIRONMENT: environment },
      onOutput: (text) => process.stdout.write(text),
    });

    const stop = async () => {
      if (stopping) return;
      stopping = true;
      console.log('\nStopping…');
      await host.stop();
      await storage.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    void host.exited.then(async (code) => {
      if (stopping) return;
      console.error(`The host exited (code ${code}).`);
      await storage.stop();
      process.exit(1);
    });

    const api = `${host.url}/api`;
    console.log(`
Reset passcode app is running.
  Admin console:   ${api}/console   (open it in a browser: All devices → a device → Reset passcode)
  Health:          ${api}/health
  Devices:         ${api}/deviceManagement/managedDevices${seeded ? ` (${seeded} demo devices added)` : ''}
  Device actions:  ${api}/deviceManagement/deviceActionResults
  Support matrix:  ${api}/deviceManagement/resetPasscode/supportMatrix
  OpenAPI:         ${api}/openapi.json
  Storage:         ${storage.description}
  Environment:     AZURE_FUNCTIONS_ENVIRONMENT=${environment}
${
  authMode === 'none'
    ? '  Auth:            AUTH_MODE=none: every request acts as "Local developer" with every role (local use only).'
    : `  Auth:            AUTH_MODE=${authMode}: send a bearer token.`
}

Try it:
  curl -i -X POST ${api}/deviceManagement/managedDevices/demo-ios/resetPasscode \\
       -H 'Content-Type: application/json' -d '{"reason":"user locked out"}'
  curl -s <the Location header of that response>            # 202 while in flight, 200 with the passcode when done
  curl -s -X POST ${api}/simulator/managedDevices/demo-ios/unlock \\
       -H 'Content-Type: application/json' -d '{"passcode":"<the passcode>"}'

Press Ctrl-C to stop.
`);
  } catch (error) {
    await storage.stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
