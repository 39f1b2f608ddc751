import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SpawnedHost } from '../../tools/host/spawnHost';
import { buildHost, getJson, rawRequest, startSampleHost } from './helpers';

/** The docs/API.md error body; the host generates its own request id and date. */
const hostError = (code: string) => ({
  error: {
    code,
    message: expect.any(String),
    innerError: { 'request-id': expect.any(String), date: expect.any(String) },
  },
});

/** Sends `bytes` on a fresh connection and returns everything the host writes until it closes or 2 s pass. */
function exchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

const connectionString = inject('storageConnectionString');
let script: string;
let cleanup: () => void;
let host: SpawnedHost & { queue: string };
let api: string;

beforeAll(async () => {
  ({ script, cleanup } = await buildHost());
  host = await startSampleHost({ script, connectionString, env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1024' } });
  api = `${host.url}/api`;
});

afterAll(async () => {
  await host?.stop();
  cleanup?.();
});

describe('local host HTTP triggers', () => {
  it('routes templates with constraints, preferring literal segments, case-insensitively', async () => {
    expect(await getJson(`${api}/items/42`)).toEqual({ handler: 'itemById', id: '42' });
    expect(await getJson(`${api}/items/abc`)).toEqual({ handler: 'itemByName', name: 'abc' });
    expect(await getJson(`${api}/ITEMS/Special`)).toEqual({ handler: 'itemSpecial' });
    expect(await getJson(`${api}/things/0f8fad5b-d9cb-469f-a165-70867728950e`)).toMatchObject({
      handler: 'thingByGuid',
    });
    expect(await getJson(`${api}/pages/7/abc`)).toEqual({ handler: 'page', n: '7', code: 'abc' });
    expect(await getJson(`${api}/files`)).toEqual({ handler: 'files', name: null });
    expect(await getJson(`${api}/files/readme`)).toEqual({ handler: 'files', name: 'readme' });
    for (const path of ['items/4a2', 'things/not-a-guid', 'pages/11/abc', 'pages/0/abc', 'pages/5/abcd']) {
      expect((await fetch(`${api}/${path}`)).status, path).toBe(404);
    }
  });

  it('answers 404 and 405 with the JSON error body', async () => {
    const notFound = await fetch(`${api}/no/such/route`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await notFound.json()).toEqual(hostError('notFound'));

    const outsidePrefix = await fetch(`${host.url}/items/42`);
    expect(outsidePrefix.status).toBe(404);

    const wrongMethod = await fetch(`${api}/items/42`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('content-type')).toMatch(/^application\/json/);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toEqual(hostError('methodNotAllowed'));
  });

  it('answers CONNECT with 405, ignores an unknown Expect as Kestrel does, and answers a HEAD it cannot parse with no body', async () => {
    const { host: authority } = new URL(api);
    const tunnel = await exchange(api, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    expect(tunnel).toMatch(/^HTTP\/1\.1 405 /);
    expect(JSON.parse(tunnel.slice(tunnel.indexOf('\r\n\r\n') + 4))).toEqual(hostError('methodNotAllowed'));

    const expecting = await rawRequest(`${api}/items/42`, { headers: { expect: 'junk' } });
    expect(expecting.status).toBe(200);
    expect(JSON.parse(expecting.body)).toEqual({ handler: 'itemById', id: '42' });

    const head = await exchange(
      api,
      `HEAD /api/items/42 HTTP/1.1\r\nHost: ${authority}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    const get = await exchange(
      api,
      `GET /api/items/42 HTTP/1.1\r\nHost: ${authority}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(JSON.parse(get.slice(get.indexOf('\r\n\r\n') + 4))).toEqual(hostError('requestHeaderFieldsTooLarge'));
  });

  it('converts the request and response through @azure/functions (status, headers, cookies, JSON, query)', async () => {
    const response = await fetch(`${api}/echo/d-1?x=1&x=2&y=z`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'abc' },
      body: JSON.stringify({ hello: 'world', n: 1 }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-sample')).toBe('yes');
    // jsonBody makes the library set the content type; the host passes it through.
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
    expect(await response.json()).toEqual({
      id: 'd-1',
      method: 'POST',
      query: { x: '1,2', y: 'z' },
      header: 'abc',
      contentType: 'application/json',
      body: { hello: 'world', n: 1 },
      url: `${api}/echo/d-1?x=1&x=2&y=z`,
    });
    expect(host.logs()).toMatch(/Functions\.echo \(Id=[0-9a-f-]{36}\): echo d-1/);
  });

  it('answers a function error with a bare 500 and logs it with the invocation id', async () => {
    const response = await fetch(`${api}/boom`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    expect(host.logs()).toMatch(
      /Functions\.boom \(Id=[0-9a-f-]{36}\): Exception while executing function.*boom from the sample app/,
    );
  });

  it('enforces the request body limit with 413 and the JSON error body', async () => {
    const small = await fetch(`${api}/size`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(await small.text()).toBe('1024');
    const large = await fetch(`${api}/size`, { method: 'POST', body: 'x'.repeat(1025) });
    expect(large.status).toBe(413);
    expect(await large.json()).toEqual(hostError('payloadTooLarge'));
  });

  it('forwards a header whose value is empty, as the real host does', async () => {
    const response = await rawRequest(`${api}/headers`, { headers: { 'idempotency-key': '', 'x-empty': '' } });
    expect(response.status).toBe(200);
    const seen = JSON.parse(response.body) as Record<string, string>;
    expect(seen['idempotency-key']).toBe('');
    expect(seen['x-empty']).toBe('');
  });

  it('joins a repeated request header with "," and no space, as the real host does', async () => {
    const response = await rawRequest(`${api}/headers`, {
      headers: { 'x-multi': ['a', 'b c', 'd'], accept: ['application/json', 'text/plain'] },
    });
    const seen = JSON.parse(response.body) as Record<string, string>;
    expect(seen['x-multi']).toBe('a,b c,d');
    expect(seen.accept).toBe('application/json,text/plain');
    // One header line holding a list stays as the client wrote it.
    const single = await rawRequest(`${api}/headers`, { headers: { 'x-multi': 'a, b' } });
    expect((JSON.parse(single.body) as Record<string, string>)['x-multi']).toBe('a, b');
  });

  it('runs appStart before indexing: a function registered by an appStart hook is served', async () => {
    expect(await getJson(`${api}/registered-in-app-start`)).toEqual({ handler: 'registeredInAppStart' });
    expect(host.logs()).toMatch(/registeredInAppStart: httpTrigger \[GET\]/);
  });

  it('runs appStart, preInvocation and postInvocation hooks in order, sharing hookData', async () => {
    expect(await getJson(`${api}/hooked`)).toEqual({ handled: 'yes' });
    expect(await getJson(`${api}/events`)).toEqual(['appStart', 'preInvocation', 'handler', 'postInvocation:pre:yes']);
  });

  it('does not check keys when none is configured, as Core Tools', async () => {
    expect(await (await fetch(`${api}/secret`)).text()).toBe('secret ok');
  });
});

describe('local host configuration and lifecycle', () => {
  it('requires a key for authLevel function when FUNCTIONS_HOST_KEY is set', async () => {
    const keyed = await startSampleHost({ script, connectionString, env: { FUNCTIONS_HOST_KEY: 'k-123' } });
    try {
      const base = `${keyed.url}/api`;
      const missing = await fetch(`${base}/secret`);
      expect(missing.status).toBe(401);
      expect(await missing.json()).toEqual(hostError('unauthorized'));
      expect((await fetch(`${base}/secret?code=wrong`)).status).toBe(401);
      expect(await (await fetch(`${base}/secret?code=k-123`)).text()).toBe('secret ok');
      expect(await (await fetch(`${base}/secret`, { headers: { 'x-functions-key': 'k-123' } })).text()).toBe(
        'secret ok',
      );
      expect((await fetch(`${base}/items/1`)).status).toBe(200);
    } finally {
      await keyed.stop();
    }
  });

  it('skips a function disabled by the AzureWebJobs.<name>.Disabled app setting', async () => {
    const custom = await startSampleHost({
      script,
      connectionString,
      env: { 'AzureWebJobs.itemById.Disabled': 'true' },
    });
    try {
      expect((await fetch(`${custom.url}/api/items/5`)).status).toBe(404);
      expect(await getJson(`${custom.url}/api/items/abc`)).toEqual({ handler: 'itemByName', name: 'abc' });
      expect(custom.logs()).toMatch(/itemById: \S+ disabled/);
    } finally {
      await custom.stop();
    }
  });

  it('takes host.json overrides from AzureFunctionsJobHost__ variables (routePrefix)', async () => {
    const custom = await startSampleHost({
      script,
      connectionString,
      env: { AzureFunctionsJobHost__extensions__http__routePrefix: 'v2' },
    });
    try {
      expect(await getJson(`${custom.url}/v2/items/5`)).toEqual({ handler: 'itemById', id: '5' });
      expect((await fetch(`${custom.url}/api/items/5`)).status).toBe(404);
    } finally {
      await custom.stop();
    }
  });

  it('answers 504 with the JSON error body when an invocation exceeds functionTimeout', async () => {
    const limited = await startSampleHost({
      script,
      connectionString,
      env: { AzureFunctionsJobHost__functionTimeout: '00:00:01' },
    });
    try {
      const response = await fetch(`${limited.url}/api/slow?ms=2500`);
      expect(response.status).toBe(504);
      expect(await response.json()).toEqual(hostError('functionTimeout'));
      expect(await (await fetch(`${limited.url}/api/slow?ms=10`)).text()).toBe('slept 10');
    } finally {
      await limited.stop();
    }
  });

  it('on SIGTERM refuses new requests, finishes the running one, then runs appTerminate and exits 0', async () => {
    const stopping = await startSampleHost({ script, connectionString });
    const inFlight = fetch(`${stopping.url}/api/slow?ms=1500`).then(async (r) => ({
      status: r.status,
      text: await r.text(),
    }));
    await new Promise((r) => setTimeout(r, 400));
    const stopped = stopping.stop();
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${stopping.url}/api/items/1`)).rejects.toThrow();
    expect(await inFlight).toEqual({ status: 200, text: 'slept 1500' });
    await stopped;
    expect(await stopping.exited).toBe(0);
    const logs = stopping.logs();
    const finished = logs.indexOf("Executed 'Functions.slow' (Succeeded");
    const terminated = logs.indexOf('SAMPLE appTerminate hook ran');
    expect(finished).toBeGreaterThan(0);
    expect(terminated).toBeGreaterThan(finished);
  });
});
