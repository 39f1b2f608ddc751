// `npm start` (dist/tools/start.js, built by `npm run build`) in a throwaway copy of the project folder, beside
// another Azurite on the default ports 10000-10002, and with AzureWebJobsStorage from the environment.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tableClient } from '../../lib/adapters/tableClients';
import { TableDeviceStore } from '../../lib/adapters/tableDeviceStore';
import { STORAGE_NAMES } from '../../lib/deps';
import { type Azurite, connectionStringFor, PortsInUseError, portsInUse, startAzurite } from '../../tools/azurite';
import { waitFor } from './helpers';

const REPO = process.cwd();
const START = join(REPO, 'dist', 'tools', 'start.js');
const DEFAULT_PORTS = { blob: 10000, queue: 10001, table: 10002 };

interface Started {
  child: ChildProcess;
  output: () => string;
  dir: string;
  api: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A project folder of its own (so .azurite/ and local.settings.json are its own) that uses the repo's build. */
function projectCopy(): string {
  const dir = join(tmpdir(), `npm-start-${randomUUID()}`);
  mkdirSync(dir);
  for (const file of ['package.json', 'host.json', 'local.settings.example.json']) {
    copyFileSync(join(REPO, file), join(dir, file));
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  symlinkSync(join(REPO, 'dist'), join(dir, 'dist'), 'dir');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function npmStart(env: NodeJS.ProcessEnv): Promise<Started> {
  if (!existsSync(START)) throw new Error(`${START} is missing: run npm run build first`);
  const dir = projectCopy();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ...env };
  for (const name of ['AzureWebJobsStorage', 'AZURE_FUNCTIONS_ENVIRONMENT']) {
    if (!(name in env)) delete childEnv[name];
  }
  const child = spawn(process.execPath, [START], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = once(child, 'exit');
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
      return output.includes('Press Ctrl-C to stop.') ? true : undefined;
    },
    90_000,
    'the npm start banner',
  );
  const api = /Health:\s+(http:\/\/\S+)\/health/.exec(output)?.[1];
  if (!api) throw new Error(`No health URL in the banner:\n${output}`);
  return { child, output: () => output, dir, api };
}

const DEVICE = {
  deviceName: 'Test iPhone',
  operatingSystem: 'iOS',
  osVersion: '17.5',
  userPrincipalName: 'test@contoso.com',
};

async function putDevice(api: string, id: string): Promise<number> {
  const response = await fetch(`${api}/deviceManagement/managedDevices/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(DEVICE),
  });
  await response.text();
  return response.status;
}

const devicesIn = (connectionString: string) =>
  new TableDeviceStore(tableClient(connectionString, STORAGE_NAMES.tables.devices));

/** Whether storage at `connectionString` holds the device; a missing table counts as no. */
async function holdsDevice(connectionString: string, id: string): Promise<boolean> {
  try {
    return (await devicesIn(connectionString).get(id)) !== undefined;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

async function stopGracefully(started: Started): Promise<number | null> {
  started.child.kill('SIGTERM');
  const [code] = await once(started.child, 'exit');
  return typeof code === 'number' ? code : null;
}

describe('npm start', () => {
  it('beside another Azurite on 10000-10002, starts its own on other ports and keeps its data there', async () => {
    // The other Azurite: ours if the default ports are free, else whatever already holds them (which proves the
    // point as well: npm start must not use it).
    let other: Azurite | undefined;
    try {
      other = await startAzurite({ ports: DEFAULT_PORTS });
      cleanups.push(() => other?.stop());
    } catch (error) {
      if (!(error instanceof PortsInUseError)) throw error;
    }

    const started = await npmStart({});
    const banner = started.output();
    expect(banner).toMatch(/Port\(s\) 10000, 10001, 10002 are in use/);
    const storageLine = /Storage:\s+Azurite on ports (\d+), (\d+), (\d+) \(10000-10002 are in use/.exec(banner);
    expect(storageLine, banner).not.toBeNull();
    const ports = { blob: Number(storageLine?.[1]), queue: Number(storageLine?.[2]), table: Number(storageLine?.[3]) };
    for (const port of Object.values(ports)) expect([10000, 10001, 10002]).not.toContain(port);
    expect(banner).toMatch(/AZURE_FUNCTIONS_ENVIRONMENT=Development/);

    const id = `start-test-${randomUUID().slice(0, 8)}`;
    expect(await putDevice(started.api, id)).toBe(201);
    expect((await fetch(`${started.api}/deviceManagement/managedDevices/${id}`)).status).toBe(200);
    // The device and the demo devices are in npm start's own Azurite, and not in the other one.
    expect(await holdsDevice(connectionStringFor(ports), id)).toBe(true);
    expect(await holdsDevice(connectionStringFor(ports), 'demo-ios')).toBe(true);
    if (other) {
      expect(await holdsDevice(other.connectionString, id)).toBe(false);
      expect(await holdsDevice(other.connectionString, 'demo-ios')).toBe(false);
    }
    expect(existsSync(join(started.dir, '.azurite'))).toBe(true);

    expect(await stopGracefully(started)).toBe(0);
    // Its Azurite stopped with it.
    expect(await portsInUse(Object.values(ports))).toEqual([]);
  });

  it('with AzureWebJobsStorage in the environment, uses that storage and starts no Azurite', async () => {
    const external = await startAzurite();
    cleanups.push(() => external.stop());

    const started = await npmStart({ AzureWebJobsStorage: external.connectionString });
    const banner = started.output();
    expect(banner).toMatch(
      /Storage:\s+AzureWebJobsStorage from the environment: account devstoreaccount1 .*; no Azurite started/,
    );
    expect(banner).not.toMatch(/Starting Azurite/);
    // The well-known Azurite key is public, but no key of any kind is printed.
    expect(banner).not.toContain('AccountKey');
    expect(banner).not.toContain(connectionStringFor(external.ports).split('AccountKey=')[1]?.split(';')[0] ?? '-');
    expect(existsSync(join(started.dir, '.azurite'))).toBe(false);

    const id = `start-test-${randomUUID().slice(0, 8)}`;
    expect(await putDevice(started.api, id)).toBe(201);
    expect(await holdsDevice(external.connectionString, id)).toBe(true);
    expect(await holdsDevice(external.connectionString, 'demo-ios')).toBe(true);
    expect(await stopGracefully(started)).toBe(0);
    // The storage it did not start is still running.
    expect(await holdsDevice(external.connectionString, id)).toBe(true);
  });
});
