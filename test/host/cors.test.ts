import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SpawnedHost } from '../../tools/host/spawnHost';
import { buildHost, rawRequest, sampleAppWithSettings, startSampleHost } from './helpers';

const connectionString = inject('storageConnectionString');
let script: string;
let cleanupScript: () => void;
let cleanupApp: () => void;
/** CORS from local.settings.json (Host.CORS, Host.CORSCredentials) and a PUBLIC_BASE_URL. */
let configured: SpawnedHost;
/** CORS "*" from LOCAL_FUNCTIONS_HOST_CORS. */
let wildcard: SpawnedHost;
/** No CORS, no PUBLIC_BASE_URL. */
let plain: SpawnedHost;

const PORTAL = 'https://portal.example.com';
const LOCAL_SPA = 'http://localhost:3000';

beforeAll(async () => {
  ({ script, cleanup: cleanupScript } = await buildHost());
  const app = sampleAppWithSettings({
    IsEncrypted: false,
    Values: { PUBLIC_BASE_URL: 'https://reset.example.net' },
    Host: { CORS: `${PORTAL},${LOCAL_SPA}`, CORSCredentials: true },
  });
  cleanupApp = app.cleanup;
  [configured, wildcard, plain] = await Promise.all([
    startSampleHost({ script, connectionString, appDir: app.appDir }),
    startSampleHost({ script, connectionString, env: { LOCAL_FUNCTIONS_HOST_CORS: '*' } }),
    startSampleHost({ script, connectionString }),
  ]);
});

afterAll(async () => {
  await Promise.all([configured?.stop(), wildcard?.stop(), plain?.stop()]);
  cleanupApp?.();
  cleanupScript?.();
});

const list = (value: string | string[] | undefined) =>
  String(value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

function preflight(base: string, path: string, origin: string) {
  return rawRequest(`${base}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'content-type, x-custom',
    },
  });
}

describe('local host CORS (Host.CORS and Host.CORSCredentials, as func start)', () => {
  it('answers a preflight from an allowed origin with 204 and the allow headers', async () => {
    const response = await preflight(configured.url, '/api/echo/d-1', LOCAL_SPA);
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(LOCAL_SPA);
    expect(list(response.headers['access-control-allow-methods'])).toEqual(['put']);
    expect(list(response.headers['access-control-allow-headers'])).toEqual(['content-type', 'x-custom']);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(list(response.headers.vary)).toContain('origin');
  });

  it('gives a disallowed origin no allow headers, on a preflight or an actual request', async () => {
    const refused = await preflight(configured.url, '/api/echo/d-1', 'https://evil.example');
    expect(refused.status).toBe(204);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect(refused.headers['access-control-allow-methods']).toBeUndefined();

    const actual = await rawRequest(`${configured.url}/api/items/1`, { headers: { origin: 'https://evil.example' } });
    expect(actual.status).toBe(200);
    expect(actual.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds the allow-origin header to the responses of allowed origins, host errors included', async () => {
    const ok = await rawRequest(`${configured.url}/api/items/1`, { headers: { origin: PORTAL } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ handler: 'itemById', id: '1' });
    expect(ok.headers['access-control-allow-origin']).toBe(PORTAL);
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(list(ok.headers.vary)).toContain('origin');

    const notFound = await rawRequest(`${configured.url}/api/nothing/here`, { headers: { origin: PORTAL } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers['access-control-allow-origin']).toBe(PORTAL);
  });

  it('takes "*" from LOCAL_FUNCTIONS_HOST_CORS: any origin, without credentials', async () => {
    const response = await preflight(wildcard.url, '/api/items/1', 'https://anywhere.example');
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    const actual = await rawRequest(`${wildcard.url}/api/items/1`, { headers: { origin: 'https://anywhere.example' } });
    expect(actual.headers['access-control-allow-origin']).toBe('*');
  });

  it('without CORS settings answers no preflight and adds no CORS header', async () => {
    const response = await preflight(plain.url, '/api/items/1', PORTAL);
    // The OPTIONS request goes to routing like any other: items/{id} only allows GET.
    expect(response.status).toBe(405);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const actual = await rawRequest(`${plain.url}/api/items/1`, { headers: { origin: PORTAL } });
    expect(actual.headers['access-control-allow-origin']).toBeUndefined();
  });
});

/** Sends one raw HTTP/1.1 request and returns the status line. */
function rawStatusLine(url: string, requestText: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(requestText));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\r\n')) {
        socket.destroy();
        resolve(received.slice(0, received.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

describe('local host Host header check (DNS rebinding)', () => {
  it('answers 421 misdirectedRequest to a Host that is not the loopback', async () => {
    for (const host of ['evil.example', 'evil.example:7071', '127.0.0.1.evil.example', 'localhost.evil.example']) {
      const response = await rawRequest(`${plain.url}/api/items/1`, { headers: { host } });
      expect(response.status, host).toBe(421);
      expect(JSON.parse(response.body)).toEqual({
        error: {
          code: 'misdirectedRequest',
          message: expect.any(String),
          innerError: { 'request-id': expect.any(String), date: expect.any(String) },
        },
      });
    }
  });

  it('serves the loopback names with any port', async () => {
    for (const host of ['localhost', 'LocalHost:1234', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:7071']) {
      const response = await rawRequest(`${plain.url}/api/items/1`, { headers: { host } });
      expect(response.status, host).toBe(200);
    }
  });

  it('also serves the host of PUBLIC_BASE_URL when it is set, and only then', async () => {
    for (const host of ['reset.example.net', 'reset.example.net:443']) {
      expect((await rawRequest(`${configured.url}/api/items/1`, { headers: { host } })).status, host).toBe(200);
    }
    expect(
      (await rawRequest(`${configured.url}/api/items/1`, { headers: { host: 'reset.example.net:8443' } })).status,
    ).toBe(421);
    expect((await rawRequest(`${plain.url}/api/items/1`, { headers: { host: 'reset.example.net' } })).status).toBe(421);
  });

  it('checks the authority of an absolute-form request target, which replaces the Host header', async () => {
    const line = await rawStatusLine(
      plain.url,
      'GET http://evil.example/api/items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(line).toBe('HTTP/1.1 421 Misdirected Request');
    const allowed = await rawStatusLine(
      plain.url,
      'GET http://localhost/api/items/1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(allowed).toBe('HTTP/1.1 200 OK');
  });
});
