import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptsGzip,
  type ConsoleBundle,
  consoleResponse,
  loadConsoleBundle,
} from '../../../lib/console/server/consoleAssets';

const CSP = "default-src 'self'";

describe('console assets', () => {
  let dir: string;
  let bundle: ConsoleBundle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(join(dir, 'assets', 'console-ABC.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'console-ABC.js.gz'), gzipSync('console.log(1)'));
    writeFileSync(join(dir, 'assets', 'console-ABC.css'), 'body{}');
    writeFileSync(join(dir, 'assets', 'notes.txt'), 'not an asset type');
    writeFileSync(join(dir, 'secret.json'), '{}');
    bundle = (await loadConsoleBundle(dir)) as ConsoleBundle;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the page for every console path, revalidated, with the CSP and no framing', () => {
    for (const path of ['', 'devices', 'devices/dev-1', 'actions', 'anything/else']) {
      const response = consoleResponse(bundle, path, { acceptEncoding: null, contentSecurityPolicy: CSP });
      expect(response?.status).toBe(200);
      expect(String(response?.body)).toContain('<div id="app">');
      expect(response?.headers).toMatchObject({
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': CSP,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
      });
    }
  });

  it('serves built assets with their type, cached for a year, gzipped when the browser accepts it', () => {
    const plain = consoleResponse(bundle, 'assets/console-ABC.js', {
      acceptEncoding: null,
      contentSecurityPolicy: CSP,
    });
    expect(plain?.headers).toMatchObject({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=31536000, immutable',
      Vary: 'Accept-Encoding',
    });
    expect(String(plain?.body)).toBe('console.log(1)');
    expect(plain?.headers['Content-Encoding']).toBeUndefined();
    const gzipped = consoleResponse(bundle, 'assets/console-ABC.js', {
      acceptEncoding: 'gzip, deflate, br',
      contentSecurityPolicy: CSP,
    });
    expect(gzipped?.headers['Content-Encoding']).toBe('gzip');
    expect(gzipped?.body).toEqual(gzipSync('console.log(1)'));
    // No gzip twin: the plain file, whatever the browser accepts.
    const css = consoleResponse(bundle, 'assets/console-ABC.css', {
      acceptEncoding: 'gzip',
      contentSecurityPolicy: CSP,
    });
    expect(css?.headers).toMatchObject({ 'Content-Type': 'text/css; charset=utf-8' });
    expect(css?.headers['Content-Encoding']).toBeUndefined();
  });

  it('serves nothing but the built assets, by exact name', () => {
    for (const path of [
      'assets/missing.js',
      'assets/notes.txt',
      'assets/console-ABC.js.gz',
      'assets/../secret.json',
      'assets/../index.html',
      'assets/',
    ]) {
      expect(consoleResponse(bundle, path, { acceptEncoding: null, contentSecurityPolicy: CSP }), path).toBeUndefined();
    }
  });

  it('is undefined when the console was not built', async () => {
    expect(await loadConsoleBundle(join(dir, 'nowhere'))).toBeUndefined();
  });
});

describe('acceptsGzip', () => {
  it('follows Accept-Encoding with q-values (RFC 9110 §12.5.3)', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('br, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('GZIP')).toBe(true);
    expect(acceptsGzip(null)).toBe(false);
    expect(acceptsGzip('br')).toBe(false);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('*, gzip;q=0')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
  });
});
