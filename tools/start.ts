// `npm start`: Azurite (data kept in .azurite/), storage provisioning, demo devices, and the local Functions host.
// Ctrl-C stops everything.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureStorage } from '../lib/deps';
import { type Azurite, startAzurite } from './azurite';
import { spawnHost } from './host/spawnHost';
import { seedDemoDevices } from './provision';

const root = process.cwd();
const DEFAULT_PORTS = { blob: 10000, queue: 10001, table: 10002 };

function ensureLocalSettings(): Record<string, string> {
  const path = join(root, 'local.settings.json');
  if (!existsSync(path)) {
    copyFileSync(join(root, 'local.settings.example.json'), path);
    console.log('Created local.settings.json from local.settings.example.json (local values only).');
  }
  const values = (JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  return values;
}

async function startStorage(): Promise<Azurite> {
  const location = join(root, '.azurite');
  try {
    return await startAzurite({ location, ports: DEFAULT_PORTS });
  } catch {
    // Something else (perhaps another Azurite) holds the default ports: use free ones.
    return startAzurite({ location });
  }
}

async function main() {
  const settings = ensureLocalSettings();
  const authMode = process.env.AUTH_MODE ?? settings.AUTH_MODE ?? 'entra';
  console.log('Starting Azurite…');
  const azurite = await startStorage();
  await ensureStorage(azurite.connectionString);
  const seeded = await seedDemoDevices(azurite.connectionString);
  console.log('Starting the local Functions host…');
  const host = await spawnHost({
    appDir: root,
    port: Number(process.env.PORT ?? 7071),
    // Core Tools sets this for local runs too; the app allows AUTH_MODE=none only in Development.
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      AZURE_FUNCTIONS_ENVIRONMENT: process.env.AZURE_FUNCTIONS_ENVIRONMENT ?? 'Development',
    },
    onOutput: (text) => process.stdout.write(text),
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    await host.stop();
    await azurite.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  void host.exited.then(async (code) => {
    if (stopping) return;
    console.error(`The host exited (code ${code}).`);
    await azurite.stop();
    process.exit(1);
  });

  const api = `${host.url}/api`;
  console.log(`
Reset passcode app is running.
  Health:          ${api}/health
  Devices:         ${api}/deviceManagement/managedDevices${seeded ? ` (${seeded} demo devices added)` : ''}
  Device actions:  ${api}/deviceManagement/deviceActionResults
  Support matrix:  ${api}/deviceManagement/resetPasscode/supportMatrix
  OpenAPI:         ${api}/openapi.json
  Storage:         Azurite on ports ${azurite.ports.blob}-${azurite.ports.table}, data in .azurite/
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
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
