import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../tools/azurite';
import { DEMO_DEVICES } from '../../tools/demoDevices';
import { type SpawnedHost, spawnHost } from '../../tools/host/spawnHost';
import { buildPackage } from '../../tools/package';
import { call, pollLikeLogicApps, testSettings } from './stack';

/** Every folder from `dir` up to the root, where Node would look for node_modules. */
function ancestors(dir: string): string[] {
  const all = [dir];
  while (dirname(all.at(-1) ?? '/') !== all.at(-1)) all.push(dirname(all.at(-1) ?? '/'));
  return all;
}

// The package `npm run package` writes is all that `az functionapp deploy` uploads: unzipped into an empty folder
// with no node_modules, it must start on the local host and serve a reset.
describe('the deployment package (dist/package.zip)', () => {
  let work: string;
  let app: string;
  let azurite: Azurite;
  let host: SpawnedHost;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'package-e2e-'));
    const zip = join(work, 'package.zip');
    buildPackage(process.cwd(), zip);
    app = join(work, 'wwwroot');
    for (const [name, data] of Object.entries(unzipSync(readFileSync(zip)))) {
      mkdirSync(dirname(join(app, name)), { recursive: true });
      writeFileSync(join(app, name), data);
    }
    azurite = await startAzurite();
    host = await spawnHost({
      appDir: app,
      port: 0,
      env: testSettings({ AzureWebJobsStorage: azurite.connectionString }),
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds exactly host.json, package.json, the bundle, the API documents and the console, and no dependencies', () => {
    const all = readdirSync(app, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.'));
    const consoleFiles = all.filter((f) => f.startsWith('dist/console/'));
    expect(consoleFiles).toEqual(
      expect.arrayContaining([expect.stringMatching(/^dist\/console\/index\.html$/), expect.stringMatching(/\.js$/)]),
    );
    const files = all.filter((f) => !f.startsWith('dist/console/')).sort();
    expect(files).toEqual([
      'dist/androidManagement.js',
      'dist/identity.js',
      'dist/main.js',
      'dist/openapi.json',
      'dist/storageQueue.js',
      'dist/swagger.json',
      'host.json',
      'package.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    expect(manifest).toEqual({
      name: 'intune-reset-passcode',
      version: expect.any(String),
      private: true,
      main: 'dist/main.js',
      engines: { node: '>=22' },
    });
    expect(readFileSync(join(app, 'host.json'), 'utf8')).toBe(readFileSync('host.json', 'utf8'));
    // Nothing to resolve modules from, anywhere Node would look from the unzipped app.
    expect(ancestors(app).filter((dir) => existsSync(join(dir, 'node_modules')))).toEqual([]);
  });

  it('starts on the local host and resets a demo device to done', async () => {
    const api = `${host.url}/api`;
    const { id, ...device } = DEMO_DEVICES[0] ?? { id: '' };
    expect((await call(`${api}/deviceManagement/managedDevices/${id}`, { method: 'PUT', json: device })).status).toBe(
      201,
    );
    const accepted = await call(`${api}/deviceManagement/managedDevices/${id}/resetPasscode`, {
      method: 'POST',
      json: { reason: 'package e2e' },
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted);
    expect(final.body).toMatchObject({ actionState: 'done', passcode: expect.stringMatching(/^\d{6,}$/) });
    expect(host.logs()).toContain('resetPasscodeWorker');
  });

  it('serves the admin console it carries', async () => {
    const page = await fetch(`${host.url}/api/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).toMatch(/<script[^>]+src=/);
  });

  it('serves the API documents it carries, pointed at the app', async () => {
    const api = `${host.url}/api`;
    const openApi = await call(`${api}/openapi.json`);
    expect(openApi.status).toBe(200);
    expect(openApi.body.servers).toEqual([{ url: api }]);
    expect((await call(`${api}/swagger.json`)).body).toMatchObject({ swagger: '2.0', basePath: '/api' });
  });

  it('loads its @azure/identity bundle with nothing but Node (no node_modules)', () => {
    const script =
      "import('./dist/identity.js').then((m) => console.log(typeof m.ManagedIdentityCredential, typeof m.DefaultAzureCredential))";
    const child = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function function');
  });

  it("loads its Android Management bundle (Google's client libraries) with nothing but Node", () => {
    const script = "import('./dist/androidManagement.js').then((m) => console.log(typeof m.createAndroidManagement))";
    const child = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  });

  it('loads its queue SDK bundle (@azure/storage-queue and XML) with nothing but Node', () => {
    const script = "import('./dist/storageQueue.js').then((m) => console.log(typeof m.createQueueClient))";
    const child = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  });
});
