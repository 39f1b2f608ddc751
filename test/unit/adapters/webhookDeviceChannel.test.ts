import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  redactPasscode,
  retryAfterSeconds,
  signWebhookPayload,
  WebhookDeviceChannel,
  type WebhookDeviceChannelOptions,
} from '../../../lib/adapters/webhookDeviceChannel';
import { TransientError } from '../../../lib/core/errors';
import { applyRequest, describeDeviceChannelContract } from '../../support/deviceChannelContract';

const SECRET = Buffer.from('test-secret-for-the-webhook-channel-0001', 'utf8');
const NOW = new Date('2026-01-01T00:00:00Z');
const clock = { now: () => NOW };

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
}
type Handler = (request: Received, res: ServerResponse) => void;

/** A gateway on a loopback port that records every request and answers with the current handler. */
class TestGateway {
  readonly received: Received[] = [];
  handler: Handler = (_request, res) => reply(res, 200, { status: 'applied' });
  private readonly server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawBody: Buffer.concat(chunks).toString('utf8'),
    };
    this.received.push(request);
    this.handler(request, res);
  });

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/reset-passcode`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections(); // the hung-gateway test leaves a request open
    this.server.close();
    await once(this.server, 'close');
  }
}

function reply(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** The gateway side of idempotency, as docs/device-gateway.md asks: one apply per key, mismatch is a 409. */
function idempotentHandler(appliedPerDevice: Map<string, number>): Handler {
  const applied = new Map<string, string>();
  return ({ method, url: target, headers, rawBody }, res) => {
    if (method === 'GET') {
      const key = new URL(target, 'http://gateway').searchParams.get('actionId') ?? '';
      if (applied.has(key)) return reply(res, 200, { status: 'applied' });
      return reply(res, 404, { error: { code: 'actionNotFound', message: 'this gateway never received it' } });
    }
    const body = JSON.parse(rawBody) as { deviceId: string; passcode: string };
    const key = String(headers['idempotency-key']);
    const fingerprint = createHash('sha256').update(`${key}\n${body.passcode}`).digest('hex');
    const previous = applied.get(key);
    if (previous === undefined) {
      applied.set(key, fingerprint);
      appliedPerDevice.set(body.deviceId, (appliedPerDevice.get(body.deviceId) ?? 0) + 1);
    } else if (previous !== fingerprint) {
      return reply(res, 409, { error: { code: 'passcodeMismatch', message: 'another passcode' } });
    }
    reply(res, 200, { status: 'applied' });
  };
}

const gateway = new TestGateway();
let url: string;
const channel = (options: Partial<WebhookDeviceChannelOptions> = {}) =>
  new WebhookDeviceChannel({ url, secret: SECRET, clock, ...options });

beforeAll(async () => {
  url = await gateway.start();
});
afterEach(() => {
  gateway.received.length = 0;
  gateway.handler = (_request, res) => reply(res, 200, { status: 'applied' });
});
afterAll(() => gateway.stop());

describe('WebhookDeviceChannel request', () => {
  it('POSTs the action as JSON with the idempotency and signature headers', async () => {
    const request = applyRequest();
    await expect(channel().send(request)).resolves.toEqual({ status: 'applied' });

    expect(gateway.received).toHaveLength(1);
    const [{ headers, rawBody }] = gateway.received as [Received];
    expect(headers['content-type']).toBe('application/json');
    expect(headers['idempotency-key']).toBe(request.actionId);
    expect(headers['x-signature-timestamp']).toBe('1767225600');
    expect(JSON.parse(rawBody)).toEqual({
      actionId: request.actionId,
      deviceId: request.deviceId,
      operatingSystem: request.operatingSystem,
      osVersion: request.osVersion,
      passcodePolicy: request.policy,
      passcode: request.passcode,
    });
  });

  it("passes the reset's trace on: same trace id, a fresh parent id (W3C trace context)", async () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await channel().send({ ...applyRequest(), traceparent: parent });
    const sent = String(gateway.received.at(-1)?.headers.traceparent);
    expect(sent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(sent).not.toBe(parent);
    await channel().send(applyRequest());
    expect(gateway.received.at(-1)?.headers.traceparent).toBeUndefined();
  });

  it('signs timestamp.rawBody with HMAC-SHA256 of the shared secret, as the gateway recomputes it', async () => {
    await channel().send(applyRequest());
    const [{ headers, rawBody }] = gateway.received as [Received];
    const expected = createHmac('sha256', SECRET)
      .update(`${headers['x-signature-timestamp']}.${rawBody}`)
      .digest('hex');
    expect(headers['x-signature']).toBe(`sha256=${expected}`);

    const forged = createHmac('sha256', Buffer.alloc(32)).update(`1767225600.${rawBody}`).digest('hex');
    expect(headers['x-signature']).not.toBe(`sha256=${forged}`);
  });

  it('sends the same Idempotency-Key and passcode when one action is sent twice', async () => {
    const request = applyRequest();
    await channel().send(request);
    await channel({ clock: { now: () => new Date(NOW.getTime() + 60_000) } }).send({ ...request });

    const [first, second] = gateway.received as [Received, Received];
    expect(second.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(JSON.parse(second.rawBody).passcode).toBe(JSON.parse(first.rawBody).passcode);
    expect(second.rawBody).toBe(first.rawBody);
    // A retry is signed afresh: new timestamp, new signature.
    expect(second.headers['x-signature-timestamp']).toBe('1767225660');
    expect(second.headers['x-signature']).not.toBe(first.headers['x-signature']);
  });
});

describe('WebhookDeviceChannel response classification', () => {
  it('throws TransientError on a 5xx, honouring Retry-After, and applies on the next 2xx', async () => {
    const request = applyRequest();
    gateway.handler = (_r, res) => reply(res, 503, { error: { code: 'busy' } }, { 'Retry-After': '7' });
    const error = await channel()
      .send(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterSeconds).toBe(7);
    expect((error as Error).message).not.toContain(request.passcode);

    gateway.handler = (_r, res) => reply(res, 200, { status: 'applied' });
    await expect(channel().send(request)).resolves.toEqual({ status: 'applied' });
  });

  it.each([408, 429, 500, 502])('treats %i as transient', async (status) => {
    gateway.handler = (_r, res) => reply(res, status);
    await expect(channel().send(applyRequest())).rejects.toBeInstanceOf(TransientError);
  });

  it("reports a 4xx with an error body as failed with the gateway's code and message", async () => {
    gateway.handler = (_r, res) =>
      reply(res, 422, { error: { code: 'deviceNotEnrolled', message: 'device left the MDM' } });
    await expect(channel().send(applyRequest())).resolves.toEqual({
      status: 'failed',
      code: 'deviceNotEnrolled',
      message: 'device left the MDM',
    });
  });

  it('falls back to gatewayRejected and the status for a 4xx without a valid error body', async () => {
    gateway.handler = (_r, res) => {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<h1>Not found</h1>');
    };
    await expect(channel().send(applyRequest())).resolves.toEqual({
      status: 'failed',
      code: 'gatewayRejected',
      message: 'the device gateway rejected the request (404)',
    });

    gateway.handler = (_r, res) => reply(res, 400, { error: { code: 'has spaces!', message: 'x' } });
    await expect(channel().send(applyRequest())).resolves.toMatchObject({ code: 'gatewayRejected' });
  });

  it('keeps the first 500 characters of a message and codes of 1-64 characters, a letter first (as documented)', async () => {
    gateway.handler = (_r, res) => reply(res, 409, { error: { code: `c${'d'.repeat(63)}`, message: 'm'.repeat(900) } });
    await expect(channel().send(applyRequest())).resolves.toEqual({
      status: 'failed',
      code: `c${'d'.repeat(63)}`,
      message: 'm'.repeat(500),
    });

    for (const code of [`c${'d'.repeat(64)}`, '9lives', '']) {
      gateway.handler = (_r, res) => reply(res, 409, { error: { code, message: 'x' } });
      await expect(channel().send(applyRequest())).resolves.toMatchObject({ code: 'gatewayRejected' });
    }
  });

  it('parses an error body of up to 64 KiB; past it only the status code counts', async () => {
    // JSON whitespace pads the body to an exact length without changing what it says.
    const padded = (length: number) => {
      const json = JSON.stringify({ error: { code: 'deviceWiped', message: 'gone' } });
      return `${json}${' '.repeat(length - json.length)}`;
    };
    gateway.handler = (_r, res) => {
      res.writeHead(422, { 'Content-Type': 'application/json' });
      res.end(padded(64 * 1024));
    };
    await expect(channel().send(applyRequest())).resolves.toMatchObject({ code: 'deviceWiped' });

    gateway.handler = (_r, res) => {
      res.writeHead(422, { 'Content-Type': 'application/json' });
      res.end(padded(64 * 1024 + 1));
    };
    await expect(channel().send(applyRequest())).resolves.toMatchObject({ code: 'gatewayRejected' });
  });

  it('redacts the passcode when a gateway echoes it in an error message', async () => {
    const request = applyRequest({ passcode: '902716' });
    gateway.handler = (_r, res) => reply(res, 400, { error: { code: 'badPasscode', message: 'rejected 902716' } });
    const outcome = await channel().send(request);
    expect(outcome).toEqual({ status: 'failed', code: 'badPasscode', message: 'rejected [redacted]' });
  });

  it('redacts the passcode however the gateway echoes it: case, URL or JSON encoding, spacing, base64', async () => {
    const passcode = 'Xk7-p9Qz';
    const echoes = [
      'xk7-P9QZ',
      encodeURIComponent(passcode),
      '%58%6b%37%2d%70%39%51%7a',
      JSON.stringify(passcode).slice(1, -1),
      '\\u0058\\u006b\\u0037\\u002d\\u0070\\u0039\\u0051\\u007a',
      'X k 7 - p 9 Q z',
      'Xk7-.p9.Qz',
      Buffer.from(passcode).toString('base64'),
      Buffer.from(`user:${passcode}`).toString('base64url'),
    ];
    for (const echo of echoes) {
      gateway.handler = (_r, res) => reply(res, 400, { error: { code: 'badPasscode', message: `rejected ${echo}` } });
      const outcome = await channel().send(applyRequest({ passcode }));
      expect(outcome, echo).toMatchObject({ status: 'failed', code: 'badPasscode' });
      expect((outcome as { message: string }).message, echo).toContain('[redacted]');
      expect((outcome as { message: string }).message, echo).not.toContain(echo);
    }
    // A code that carries the passcode in any of those forms is replaced as a whole.
    gateway.handler = (_r, res) => reply(res, 400, { error: { code: `bad_${passcode.toUpperCase()}`, message: 'x' } });
    await expect(channel().send(applyRequest({ passcode }))).resolves.toMatchObject({ code: 'gatewayRejected' });
  });

  it('reports notSupported when a 2xx body says so', async () => {
    gateway.handler = (_r, res) =>
      reply(res, 200, { status: 'notSupported', code: 'supervisedOnly', message: 'needs a supervised device' });
    await expect(channel().send(applyRequest())).resolves.toEqual({
      status: 'notSupported',
      code: 'supervisedOnly',
      message: 'needs a supervised device',
    });
  });

  it('counts any other 2xx, with or without a body, as applied', async () => {
    gateway.handler = (_r, res) => {
      res.writeHead(204);
      res.end();
    };
    await expect(channel().send(applyRequest())).resolves.toEqual({ status: 'applied' });
  });

  it('stops reading a gateway body past 64 KiB: an endless 2xx body still counts as applied, quickly', async () => {
    let written = 0;
    gateway.handler = (_request, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (written < 512 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
        if (written < 512 * 1024 * 1024) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    };
    await expect(channel().send(applyRequest())).resolves.toEqual({ status: 'applied' });
    // The client hung up after the limit: the gateway got to write only a little more than 64 KiB (socket buffers).
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('does not follow a redirect, so the passcode is not resent elsewhere', async () => {
    gateway.handler = (request, res) => {
      if (gateway.received.length > 1) return reply(res, 200, { status: 'applied', rawBody: request.rawBody });
      reply(res, 307, undefined, { Location: `${url}/elsewhere` });
    };
    await expect(channel().send(applyRequest())).resolves.toMatchObject({
      status: 'failed',
      code: 'gatewayRedirected',
    });
    expect(gateway.received).toHaveLength(1);
  });

  it('times out a gateway that never answers and throws TransientError', async () => {
    gateway.handler = () => {}; // never responds
    const started = performance.now();
    const error = await channel({ timeoutMs: 200 })
      .send(applyRequest())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('did not answer within 200 ms');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('throws TransientError when the gateway cannot be reached', async () => {
    const closed = new TestGateway();
    const closedUrl = await closed.start();
    await closed.stop();
    await expect(channel({ url: closedUrl }).send(applyRequest())).rejects.toBeInstanceOf(TransientError);
  });
});

describe('WebhookDeviceChannel: commands that finish later', () => {
  const sent = { actionId: 'action-1', deviceId: 'device-1' };
  const signatureOf = (request: Received) =>
    createHmac('sha256', SECRET)
      .update(`${request.headers['x-signature-timestamp']}.${request.method} action-1`)
      .digest('hex');

  it('reads a 2xx { status: "accepted" } as waiting for the device, with the times the gateway gave', async () => {
    gateway.handler = (_request, res) =>
      reply(res, 202, {
        status: 'accepted',
        expirationDateTime: '2026-01-02T00:00:00Z',
        deviceLastContactDateTime: '2025-12-31T23:00:00+00:00',
      });
    await expect(channel().send(applyRequest({ actionId: 'action-1' }))).resolves.toEqual({
      status: 'waiting',
      reference: 'action-1',
      expiresDateTime: '2026-01-02T00:00:00.000Z',
      deviceLastSeenDateTime: '2025-12-31T23:00:00.000Z',
    });
  });

  it('asks with a signed GET on the gateway URL plus ?actionId=, signing "<timestamp>.GET <actionId>"', async () => {
    gateway.handler = (_request, res) => reply(res, 200, { status: 'applied' });
    await expect(channel().check(sent)).resolves.toEqual({ status: 'applied' });
    const [request] = gateway.received;
    expect(request?.method).toBe('GET');
    expect(request?.url).toBe('/reset-passcode?actionId=action-1');
    expect(request?.rawBody).toBe('');
    expect(request?.headers['x-signature']).toBe(`sha256=${signatureOf(request as Received)}`);
  });

  it.each([
    [{ status: 'accepted' }, { status: 'waiting', reference: 'action-1' }],
    [{ status: 'canceled' }, { status: 'canceled' }],
    [
      { status: 'failed', code: 'deviceWiped', message: 'echo 729403' },
      // The GET carries no passcode to redact with: the message is the app's own.
      { status: 'failed', code: 'deviceWiped', message: 'the device gateway could not apply the passcode' },
    ],
    [
      { status: 'notSupported', code: 'bad code!' },
      { status: 'notSupported', code: 'gatewayNotSupported', message: expect.any(String) },
    ],
  ])('reads the status body %j', async (body, expected) => {
    gateway.handler = (_request, res) => reply(res, 200, body);
    await expect(channel().check(sent)).resolves.toEqual(expected);
  });

  it('404 actionNotFound: never received, so it failed (the passcode may go); other answers: unknown', async () => {
    gateway.handler = (_request, res) => reply(res, 404, { error: { code: 'actionNotFound', message: 'no such key' } });
    await expect(channel().check(sent)).resolves.toMatchObject({ status: 'failed', code: 'deviceUnreachable' });
    // An older gateway without the status GET: the app cannot learn the outcome, and never guesses "not applied".
    gateway.handler = (_request, res) => reply(res, 405, { error: { code: 'methodNotAllowed', message: 'POST only' } });
    await expect(channel().check(sent)).resolves.toMatchObject({ status: 'unknown' });
    gateway.handler = (_request, res) => reply(res, 404);
    await expect(channel().check(sent)).resolves.toMatchObject({ status: 'unknown' });
    gateway.handler = (_request, res) => reply(res, 200, { whatever: true });
    await expect(channel().check(sent)).resolves.toMatchObject({ status: 'unknown' });
  });

  it('a 5xx or no answer to the GET is transient, with Retry-After', async () => {
    gateway.handler = (_request, res) => reply(res, 503, undefined, { 'Retry-After': '40' });
    const error = await channel()
      .check(sent)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ retryAfterSeconds: 40 });
  });

  it('cancels with a signed DELETE; 2xx or actionNotFound: asked; 405: this gateway cannot cancel', async () => {
    gateway.handler = (_request, res) => reply(res, 202, { status: 'accepted' });
    await expect(channel().cancel(sent)).resolves.toBe(true);
    const [request] = gateway.received;
    expect(request?.method).toBe('DELETE');
    expect(request?.url).toBe('/reset-passcode?actionId=action-1');
    expect(request?.headers['x-signature']).toBe(`sha256=${signatureOf(request as Received)}`);
    gateway.handler = (_request, res) => reply(res, 404, { error: { code: 'actionNotFound', message: 'no such key' } });
    await expect(channel().cancel(sent)).resolves.toBe(true);
    gateway.handler = (_request, res) => reply(res, 405);
    await expect(channel().cancel(sent)).resolves.toBe(false);
    gateway.handler = (_request, res) => reply(res, 500);
    await expect(channel().cancel(sent)).rejects.toBeInstanceOf(TransientError);
  });

  it('keeps the configured query when adding actionId', async () => {
    gateway.handler = (_request, res) => reply(res, 200, { status: 'applied' });
    await channel({ url: `${url}?tenant=contoso` }).check(sent);
    expect(gateway.received[0]?.url).toBe('/reset-passcode?tenant=contoso&actionId=action-1');
  });
});

describe('WebhookDeviceChannel configuration', () => {
  it('requires https except for loopback hosts', () => {
    expect(() => channel({ url: 'http://gateway.example.com/reset' })).toThrow(/must use https/);
    expect(() => channel({ url: 'http://10.0.0.5/reset' })).toThrow(/must use https/);
    expect(() => channel({ url: 'ftp://gateway.example.com/reset' })).toThrow(/must use https/);
    expect(() => channel({ url: 'not a url' })).toThrow(/not a valid absolute URL/);
    expect(() => channel({ url: 'https://user:pw@gateway.example.com/' })).toThrow(/credentials/);
    for (const ok of [
      'https://gateway.example.com/reset',
      'http://127.0.0.1:9/x',
      'http://localhost:9',
      'http://[::1]:9',
    ]) {
      expect(() => channel({ url: ok })).not.toThrow();
    }
  });

  it('refuses a secret shorter than 32 bytes and a bad timeout', () => {
    expect(() => channel({ secret: Buffer.alloc(31) })).toThrow(/at least 32 bytes/);
    expect(() => channel({ timeoutMs: 0 })).toThrow(/timeout/);
  });

  it('reads Retry-After as seconds or an HTTP date, clamped', () => {
    expect(retryAfterSeconds(null, NOW)).toBeUndefined();
    expect(retryAfterSeconds('garbage', NOW)).toBeUndefined();
    expect(retryAfterSeconds('30', NOW)).toBe(30);
    expect(retryAfterSeconds('0', NOW)).toBe(1);
    expect(retryAfterSeconds('999999', NOW)).toBe(3600);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:02:00 GMT', NOW)).toBe(120);
  });
});

describe('docs/device-gateway.md', () => {
  const EXAMPLE = {
    secret: 'example-shared-secret-0123456789',
    timestamp: 1767225600,
    body:
      '{"actionId":"7b1e9c2a-4f5d-4e8a-9b3c-2d1f0e6a5b47","deviceId":"3f0c8d2e-1a4b-4c6d-8e9f-0a1b2c3d4e5f",' +
      '"operatingSystem":"iOS","osVersion":"16.4.1","passcodePolicy":{"minLength":6,"characters":"numeric",' +
      '"complex":true},"passcode":"729403"}',
    signature: '415a5b73e61dcc445cb31bceaa64d8c35b5cd499466963b28d15cb0e609f304e',
  };
  let doc: string;
  beforeAll(async () => {
    doc = await readFile(join(import.meta.dirname, '../../../docs/device-gateway.md'), 'utf8');
  });

  it('states the worked example that the channel really produces', async () => {
    for (const value of [EXAMPLE.secret, String(EXAMPLE.timestamp), EXAMPLE.body, EXAMPLE.signature]) {
      expect(doc).toContain(value);
    }
    expect(doc).toContain(`X-Signature: sha256=${EXAMPLE.signature}`);
    expect(signWebhookPayload(Buffer.from(EXAMPLE.secret, 'utf8'), EXAMPLE.timestamp, EXAMPLE.body)).toBe(
      EXAMPLE.signature,
    );

    let sent: { headers: Headers; body: string } | undefined;
    const fakeFetch: typeof fetch = async (_input, init) => {
      sent = { headers: new Headers(init?.headers), body: String(init?.body) };
      return new Response(null, { status: 204 });
    };
    const exampleChannel = new WebhookDeviceChannel({
      url: 'https://gateway.example.com/reset-passcode',
      secret: Buffer.from(EXAMPLE.secret, 'utf8'),
      clock: { now: () => new Date(EXAMPLE.timestamp * 1000) },
      fetch: fakeFetch,
    });
    await exampleChannel.send({
      actionId: '7b1e9c2a-4f5d-4e8a-9b3c-2d1f0e6a5b47',
      deviceId: '3f0c8d2e-1a4b-4c6d-8e9f-0a1b2c3d4e5f',
      operatingSystem: 'iOS',
      osVersion: '16.4.1',
      policy: { minLength: 6, characters: 'numeric', complex: true },
      passcode: '729403',
    });
    expect(sent?.body).toBe(EXAMPLE.body);
    expect(sent?.headers.get('x-signature')).toBe(`sha256=${EXAMPLE.signature}`);
    expect(sent?.headers.get('x-signature-timestamp')).toBe(String(EXAMPLE.timestamp));
    expect(sent?.headers.get('idempotency-key')).toBe('7b1e9c2a-4f5d-4e8a-9b3c-2d1f0e6a5b47');
  });

  describe('minimal receiver, run as documented', () => {
    let receiver: ChildProcess;
    let receiverUrl: string;
    let dir: string;
    const receiverChannel = (secret = SECRET) =>
      new WebhookDeviceChannel({ url: receiverUrl, secret, clock: { now: () => new Date() } });

    beforeAll(async () => {
      const code = /## Minimal receiver[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
      if (code === undefined) throw new Error('the doc has no minimal receiver code block');
      dir = await mkdtemp(join(tmpdir(), 'receiver-'));
      await writeFile(join(dir, 'receiver.mjs'), code);
      receiver = spawn(process.execPath, [join(dir, 'receiver.mjs')], {
        env: { ...process.env, GATEWAY_SECRET: SECRET.toString('utf8'), PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const [line] = (await once(receiver.stdout!, 'data')) as [Buffer];
      const port = /port (\d+)/.exec(line.toString())?.[1];
      receiverUrl = `http://127.0.0.1:${port}/reset-passcode`;
    });
    afterAll(async () => {
      receiver.kill();
      await rm(dir, { recursive: true, force: true });
    });

    it('applies a signed action, answers a retry 2xx, and refuses another passcode for the same key', async () => {
      const request = applyRequest();
      await expect(receiverChannel().send(request)).resolves.toEqual({ status: 'applied' });
      await expect(receiverChannel().send(request)).resolves.toEqual({ status: 'applied' });
      await expect(receiverChannel().send({ ...request, passcode: '480351' })).resolves.toMatchObject({
        status: 'failed',
        code: 'passcodeMismatch',
      });
    });

    it('answers the status GET from its records: applied, or actionNotFound for a key it never received', async () => {
      const request = applyRequest();
      await receiverChannel().send(request);
      const sent = { actionId: request.actionId, deviceId: request.deviceId };
      await expect(receiverChannel().check(sent)).resolves.toEqual({ status: 'applied' });
      await expect(receiverChannel().check({ ...sent, actionId: 'never-sent' })).resolves.toMatchObject({
        status: 'failed',
        code: 'deviceUnreachable',
      });
      // A GET signed with another secret is refused: the app cannot learn anything from it (unknown).
      await expect(receiverChannel(Buffer.alloc(32, 7)).check(sent)).resolves.toMatchObject({ status: 'unknown' });
    });

    it('rejects a wrong signature with 401, which the app treats as permanent', async () => {
      await expect(receiverChannel(Buffer.alloc(32, 7)).send(applyRequest())).resolves.toMatchObject({
        status: 'failed',
        code: 'badSignature',
      });
    });

    it('rejects a timestamp more than 5 minutes old', async () => {
      const stale = new WebhookDeviceChannel({
        url: receiverUrl,
        secret: SECRET,
        clock: { now: () => new Date(Date.now() - 301_000) },
      });
      await expect(stale.send(applyRequest())).resolves.toMatchObject({ status: 'failed', code: 'badSignature' });
    });
  });
});

const contractGateway = new TestGateway();
const appliedPerDevice = new Map<string, number>();
let contractUrl: string;
beforeAll(async () => {
  contractUrl = await contractGateway.start();
  contractGateway.handler = idempotentHandler(appliedPerDevice);
});
afterAll(() => contractGateway.stop());

describeDeviceChannelContract('webhook (idempotent test gateway)', async () => ({
  channel: new WebhookDeviceChannel({ url: contractUrl, secret: SECRET, clock }),
  appliedCount: async (deviceId) => appliedPerDevice.get(deviceId) ?? 0,
}));

describe('redactPasscode', () => {
  const encodings: [string, (passcode: string) => string][] = [
    ['as is', (p) => p],
    ['upper case', (p) => p.toUpperCase()],
    ['lower case', (p) => p.toLowerCase()],
    ['URL-encoded', (p) => encodeURIComponent(p)],
    ['every byte percent-encoded', (p) => [...Buffer.from(p)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')],
    ['JSON-escaped', (p) => JSON.stringify(p).slice(1, -1)],
    ['spaced out', (p) => [...p].join(' ')],
    ['base64', (p) => Buffer.from(p).toString('base64')],
    ['base64url after 1 byte', (p) => Buffer.from(`:${p}`).toString('base64url')],
    ['base64 after 2 bytes', (p) => Buffer.from(`a:${p}`).toString('base64')],
  ];
  const passcodes = fc.oneof(
    fc.stringMatching(/^[0-9]{4,16}$/),
    fc.stringMatching(/^[A-Za-z0-9!#$%&*+\-=?@^_"\\]{6,16}$/),
  );

  it.each(encodings)('leaves no copy of a passcode %s in the text around it', (_name, encode) => {
    fc.assert(
      fc.property(passcodes, fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (passcode, before, after) => {
        const redacted = redactPasscode(`${before} ${encode(passcode)} ${after}`, passcode);
        expect(redacted).toContain('[redacted]');
        expect(redacted).not.toContain(encode(passcode));
      }),
      { numRuns: 100 },
    );
  });

  it('leaves text without the passcode alone', () => {
    expect(redactPasscode('the device is offline (code 7)', '902716')).toBe('the device is offline (code 7)');
    expect(redactPasscode('902 71 ok', '902716')).toBe('902 71 ok');
    expect(redactPasscode('anything', '')).toBe('anything');
  });
});
