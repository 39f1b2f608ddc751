import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpNotificationSender } from '../../../lib/adapters/httpNotificationSender';
import { TransientError } from '../../../lib/core/errors';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let handler: Handler = (_req, _body, res) => res.end();
const received: Array<{ url: string; body: string; type: string }> = [];
const server: Server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  received.push({ url: req.url ?? '', body, type: String(req.headers['content-type']) });
  handler(req, body, res);
});
let base = '';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

const echoToken: Handler = (req, _body, res) => {
  const token = new URL(req.url ?? '/', base).searchParams.get('validationToken') ?? '';
  res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
};

describe('HttpNotificationSender', () => {
  const local = new HttpNotificationSender({ refusePrivateAddresses: false, timeoutMs: 500 });

  it('validates an endpoint that echoes the token as text/plain with 200, as Graph requires', async () => {
    handler = echoToken;
    await expect(local.validate(`${base}/notify?x=1`, 'abc123')).resolves.toBe(true);
    expect(received.at(-1)?.url).toBe('/notify?x=1&validationToken=abc123');
  });

  it('refuses an endpoint that answers anything else, or too late', async () => {
    const answers: Handler[] = [
      (_req, _body, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('wrong'),
      (req, _body, res) =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(new URL(req.url ?? '/', base).searchParams.get('validationToken') ?? ''),
      (_req, _body, res) => res.writeHead(202).end(),
      () => {}, // never answers
    ];
    for (const answer of answers) {
      handler = answer;
      await expect(local.validate(`${base}/notify`, 'abc123')).resolves.toBe(false);
    }
  });

  it('POSTs JSON and returns the status; no answer is a TransientError', async () => {
    handler = (_req, _body, res) => res.writeHead(410).end();
    await expect(local.post(`${base}/notify`, '{"value":[]}')).resolves.toBe(410);
    expect(received.at(-1)).toMatchObject({ body: '{"value":[]}', type: 'application/json; charset=utf-8' });
    handler = () => {};
    await expect(local.post(`${base}/notify`, '{}')).rejects.toBeInstanceOf(TransientError);
  });

  it('does not follow redirects', async () => {
    handler = (_req, _body, res) => res.writeHead(307, { location: `${base}/elsewhere` }).end();
    await expect(local.post(`${base}/notify`, '{}')).resolves.toBe(307);
    expect(received.at(-1)?.url).toBe('/notify');
  });

  it('in production refuses to connect to loopback, private and link-local addresses, by name or by number', async () => {
    const production = new HttpNotificationSender({ refusePrivateAddresses: true, timeoutMs: 500 });
    handler = echoToken;
    const before = received.length;
    await expect(production.post(`${base}/notify`, '{}')).rejects.toBeInstanceOf(TransientError);
    await expect(production.post(base.replace('127.0.0.1', 'localhost'), '{}')).rejects.toBeInstanceOf(TransientError);
    await expect(production.validate(`${base}/notify`, 'abc123')).resolves.toBe(false);
    expect(received.length).toBe(before);
  });

  it('in production refuses any address literal outside global unicast space before connecting, in any spelling', async () => {
    const production = new HttpNotificationSender({ refusePrivateAddresses: true, timeoutMs: 500 });
    const port = new URL(base).port;
    // The URL parser writes these as [::ffff:7f00:1], [::7f00:1], [64:ff9b::7f00:1], [2002:7f00:1::]: spellings a
    // block list of 127.0.0.0/8 and ::1 let through.
    for (const host of [
      '[::ffff:127.0.0.1]',
      '[::127.0.0.1]',
      '[64:ff9b::127.0.0.1]',
      '[2002:7f00:1::]',
      '168.63.129.16',
    ]) {
      await expect(production.post(`http://${host}:${port}/notify`, '{}'), host).rejects.toThrow(
        'the notification URL names a non-public address',
      );
    }
  });
});
