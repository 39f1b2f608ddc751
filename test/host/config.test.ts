import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostConfigError, loadHostConfig, loadLocalSettings, parseTimeSpan } from '../../tools/host/config';
import { PollingBackoff } from '../../tools/host/queue';

const dirs: string[] = [];
function appDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'host-config-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('host.json', () => {
  it('fills in the real host defaults', () => {
    const config = loadHostConfig(appDir({ 'host.json': { version: '2.0' } }), {});
    expect(config.http).toEqual({ routePrefix: 'api', maxRequestBodySize: 104_857_600 });
    expect(config.queues).toEqual({
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      visibilityTimeoutMs: 0,
      maxPollingIntervalMs: 60_000,
      messageEncoding: 'base64',
    });
    expect(config.functionTimeoutMs).toBe(30 * 60_000);
  });

  it('reads the settings and derives newBatchThreshold from batchSize', () => {
    const dir = appDir({
      'host.json': {
        version: '2.0',
        functionTimeout: '00:05:00',
        extensions: {
          http: { routePrefix: '' },
          queues: {
            batchSize: 4,
            visibilityTimeout: '00:00:05',
            maxPollingInterval: '00:00:02',
            messageEncoding: 'none',
          },
        },
      },
    });
    const config = loadHostConfig(dir, {});
    expect(config.functionTimeoutMs).toBe(300_000);
    expect(config.http.routePrefix).toBe('');
    expect(config.queues).toMatchObject({
      batchSize: 4,
      newBatchThreshold: 2,
      visibilityTimeoutMs: 5_000,
      maxPollingIntervalMs: 2_000,
      messageEncoding: 'none',
    });
  });

  it('applies AzureFunctionsJobHost__ overrides, case-insensitively and creating missing levels', () => {
    const dir = appDir({ 'host.json': { version: '2.0', extensions: { queues: { maxDequeueCount: 5 } } } });
    const config = loadHostConfig(dir, {
      AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '2',
      azurefunctionsjobhost__Extensions__Queues__VisibilityTimeout: '00:00:01',
      AzureFunctionsJobHost__extensions__http__routePrefix: 'v2',
      AzureFunctionsJobHost__functionTimeout: '-1',
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1024',
    });
    expect(config.queues.maxDequeueCount).toBe(2);
    expect(config.queues.visibilityTimeoutMs).toBe(1_000);
    expect(config.http).toEqual({ routePrefix: 'v2', maxRequestBodySize: 1024 });
    expect(config.functionTimeoutMs).toBeUndefined();
  });

  it('reads host.json keys case-insensitively, as the .NET configuration does', () => {
    const dir = appDir({
      'host.json': { Version: '2.0', Extensions: { Queues: { BatchSize: 4, MaxDequeueCount: 3 } } },
    });
    expect(loadHostConfig(dir, {}).queues).toMatchObject({ batchSize: 4, newBatchThreshold: 2, maxDequeueCount: 3 });
  });

  it('refuses invalid values with the path of each bad setting', () => {
    const dir = appDir({ 'host.json': { version: '2.0', extensions: { queues: { batchSize: 64 } } } });
    expect(() => loadHostConfig(dir, {})).toThrow(/extensions\.queues\.batchSize/);
    const bad = appDir({ 'host.json': { version: '2.0', extensions: { queues: { visibilityTimeout: '5s' } } } });
    expect(() => loadHostConfig(bad, {})).toThrow(HostConfigError);
    expect(() => loadHostConfig(appDir({ 'host.json': { version: '1.0' } }), {})).toThrow(/version/);
  });

  it('parses .NET TimeSpan text', () => {
    expect(parseTimeSpan('00:00:30')).toBe(30_000);
    expect(parseTimeSpan('1.02:03:04.5')).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    expect(parseTimeSpan('30')).toBeUndefined();
  });
});

describe('local.settings.json', () => {
  it('loads Values without overriding variables that are already set', () => {
    const dir = appDir({
      'local.settings.json': {
        IsEncrypted: false,
        Values: { A: 'from-file', B: 'from-file', N: 3 },
        Host: { LocalHttpPort: 7075 },
      },
    });
    const env: NodeJS.ProcessEnv = { A: 'from-env' };
    const settings = loadLocalSettings(dir, env);
    expect(env).toEqual({ A: 'from-env', B: 'from-file', N: '3' });
    expect(settings.localHttpPort).toBe(7075);
  });

  it('is optional', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(loadLocalSettings(appDir({}), env)).toEqual({
      values: {},
      cors: undefined,
      corsCredentials: false,
      localHttpPort: undefined,
    });
    expect(env).toEqual({});
  });
});

describe('queue polling backoff', () => {
  it('grows exponentially from 100 ms with jitter, caps at maxPollingInterval and resets', () => {
    const backoff = new PollingBackoff(1_000, () => 0.5);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
    const low = new PollingBackoff(1_000, () => 0);
    const high = new PollingBackoff(1_000, () => 0.999);
    expect(low.next()).toBe(80);
    expect(high.next()).toBe(120);
  });
});
