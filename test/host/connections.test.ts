import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SpawnedHost } from '../../tools/host/spawnHost';
import { buildHost, type RawRequestOptions, type RawResponse, rawRequest, startSampleHost, waitFor } from './helpers';

const connectionString = inject('storageConnectionString');
let script: string;
let cleanup: () => void;
let host: SpawnedHost;
let api: string;

beforeAll(async () => {
  ({ script, cleanup } = await buildHost());
  host = await startSampleHost({
    script,
    connectionString,
    env: {
      FUNCTIONS_HOST_KEY: 'k-123',
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1024',
      LOCAL_FUNCTIONS_HOST_HEADERS_TIMEOUT_MS: '1000',
    },
  });
  api = `${host.url}/api`;
});

afterAll(async () => {
  await host?.stop();
  cleanup?.();
});

const hostError = (code: string) => ({
  error: {
    code,
    message: expect.any(String),
    innerError: { 'request-id': expect.any(String), date: expect.any(String) },
  },
});

// A body over the sample host's 1024-byte limit (for the 413 case) and well under the 64 KiB the host drains.
const BODY = JSON.stringify({ pad: 'x'.repeat(2000) });

const EARLY_ANSWERS: { status: number; code: string; path: string; options: RawRequestOptions }[] = [
  { status: 404, code: 'notFound', path: '/no/such/route', options: { method: 'POST' } },
  { status: 405, code: 'methodNotAllowed', path: '/items/1', options: { method: 'DELETE' } },
  { status: 413, code: 'payloadTooLarge', path: '/size', options: { method: 'POST' } },
  { status: 400, code: 'invalidRequest', path: '/items/1', options: { method: 'POST', setHost: false } },
  { status: 401, code: 'unauthorized', path: '/secret', options: { method: 'GET' } },
  { status: 421, code: 'misdirectedRequest', path: '/items/1', options: { headers: { host: 'evil.example' } } },
];

describe('local host keep-alive safety', () => {
  for (const { status, code, path, options } of EARLY_ANSWERS) {
    for (const chunked of [false, true]) {
      it(`answers ${status} to a request with a ${chunked ? 'chunked' : 'sized'} body without breaking the pooled connection`, async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const failures: string[] = [];
        const answers: RawResponse[] = [];
        try {
          for (let round = 0; round < 20; round++) {
            answers.push(
              await rawRequest(`${api}${path}`, {
                ...options,
                headers: { 'content-type': 'application/json', ...options.headers },
                body: BODY,
                chunked,
                agent,
              }),
            );
            try {
              const next = await rawRequest(`${api}/items/1`, { agent });
              if (next.status !== 200) failures.push(`round ${round}: ${next.status}`);
            } catch (error) {
              failures.push(`round ${round}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
            }
          }
        } finally {
          agent.destroy();
        }
        expect(failures).toEqual([]);
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => status));
        // A small body is read and discarded, so the connection stays usable.
        expect(answers.map((a) => a.headers.connection)).toEqual(answers.map(() => 'keep-alive'));
        expect(JSON.parse(answers[0]?.body ?? '')).toEqual(hostError(code));
      });
    }
  }

  it('answers a body sent without framing (no Content-Length, not chunked) with 400 and Connection: close', async () => {
    // Node's client sends a DELETE body unframed unless told otherwise: the server sees a bodiless DELETE followed
    // by bytes that are no request. The client must learn that the connection is finished.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const failures: string[] = [];
    try {
      for (let round = 0; round < 20; round++) {
        const early = await new Promise<RawResponse>((resolve, reject) => {
          const req = request(`${api}/items/1`, { method: 'DELETE', agent }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          });
          req.on('error', reject);
          req.end(JSON.stringify({ a: 1 }));
        });
        if (early.status === 400) {
          expect(early.headers.connection).toBe('close');
          expect(JSON.parse(early.body)).toEqual(hostError('invalidRequest'));
        } else if (early.status !== 405) failures.push(`round ${round}: early ${early.status}`);
        try {
          const next = await rawRequest(`${api}/items/1`, { agent });
          if (next.status !== 200) failures.push(`round ${round}: ${next.status}`);
        } catch (error) {
          failures.push(`round ${round}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
      }
    } finally {
      agent.destroy();
    }
    expect(failures).toEqual([]);
  });

  it('closes the connection, saying so, when an early answer leaves a large body unread', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const early = await rawRequest(`${api}/items/1`, { method: 'DELETE', body: 'x'.repeat(200_000), agent });
      expect(early.status).toBe(405);
      expect(early.headers.connection).toBe('close');
      expect((await rawRequest(`${api}/items/1`, { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});

describe('local host limits for clients on the internet', () => {
  it('answers a header section above 16 KiB with 431 in the error shape, and the client can go on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const response = await rawRequest(`${api}/items/1`, { headers: { 'x-big': 'a'.repeat(20 * 1024) }, agent });
      expect(response.status).toBe(431);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.headers.connection).toBe('close');
      expect(JSON.parse(response.body)).toEqual(hostError('requestHeaderFieldsTooLarge'));
      expect((await rawRequest(`${api}/items/1`, { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('cuts off a client that never finishes its headers (headersTimeout), with a 408', async () => {
    const { hostname, port } = new URL(host.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    let closed = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
    });
    socket.write(`GET /api/items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
    try {
      await waitFor(async () => (closed ? true : undefined), 15_000, 'the host to close the slow connection');
    } finally {
      socket.destroy();
    }
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toEqual(hostError('requestTimeout'));
  });
});
