import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  actionId: string;
  deviceId: string;
  passcode: string;
  idempotencyKey: string;
  signatureValid: boolean;
  /** The W3C traceparent the app sent, if any. */
  traceparent?: string;
  /** When the request arrived (ms since the epoch). */
  at: number;
}

/**
 * One scripted answer to a POST: a status (with an optional Retry-After in seconds), never answering, `accepted` (202
 * `{ "status": "accepted" }`: the gateway finishes later), or `applyThen503` (applies the passcode, then answers 503: the
 * answer is lost for the app).
 */
export type Answer = number | { status: number; retryAfter?: number } | 'hang' | 'accepted' | 'applyThen503';

/** What a status GET answers: the gateway's own record (default), a status, or nothing. */
export type StatusAnswer = 'record' | number | 'hang';

/** A status GET or cancel DELETE the gateway received. */
export interface StatusRequest {
  method: string;
  actionId: string;
  signatureValid: boolean;
  at: number;
}

/** An MDM gateway on loopback that verifies signatures and answers per device as a test scripts it. */
export class LoopbackGateway {
  readonly received: Received[] = [];
  readonly secret = randomBytes(32).toString('hex');
  /** deviceId → answers in order; after they run out, `fallback`. */
  readonly script = new Map<string, Answer[]>();
  /** What every request gets once its device's script ran out (200 by default). */
  fallback: (deviceId: string) => Answer = () => 200;
  /** Milliseconds the gateway takes before answering. */
  latencyMs = 0;
  /** Status GETs and cancel DELETEs, in order. */
  readonly statusRequests: StatusRequest[] = [];
  /** How a status GET for a device is answered (its record by default). */
  statusFallback: (deviceId: string) => StatusAnswer = () => 'record';
  /** Passcodes applied, by action id; actions accepted and not finished yet. */
  readonly applied = new Map<string, string>();
  readonly accepted = new Map<string, string>();
  private readonly deviceOf = new Map<string, string>();

  /** An accepted action is applied now (its device came online). */
  complete(actionId: string): void {
    const passcode = this.accepted.get(actionId);
    if (passcode === undefined) throw new Error(`action ${actionId} was not accepted`);
    this.accepted.delete(actionId);
    this.applied.set(actionId, passcode);
  }
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/apply`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** App settings for the webhook channel against this gateway. */
  settings(url: string, timeoutMs = 2000): Record<string, string> {
    return {
      DEVICE_CHANNEL: 'webhook',
      DEVICE_CHANNEL_URL: url,
      DEVICE_CHANNEL_SECRET: this.secret,
      DEVICE_CHANNEL_TIMEOUT_MS: String(timeoutMs),
    };
  }

  /** The requests for one device, in order. */
  callsFor(deviceId: string): Received[] {
    return this.received.filter((r) => r.deviceId === deviceId);
  }

  private signatureValid(req: IncomingMessage, signed: string): boolean {
    const expected = `sha256=${createHmac('sha256', this.secret).update(`${req.headers['x-signature-timestamp']}.${signed}`).digest('hex')}`;
    const given = String(req.headers['x-signature'] ?? '');
    return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  }

  /** A status GET (or cancel DELETE) by `?actionId=`: answered from the gateway's record unless scripted otherwise. */
  private answerStatus(req: IncomingMessage, res: ServerResponse) {
    const actionId = new URL(req.url ?? '/', 'http://gateway').searchParams.get('actionId') ?? '';
    const method = req.method ?? '';
    this.statusRequests.push({
      method,
      actionId,
      signatureValid: this.signatureValid(req, `${method} ${actionId}`),
      at: Date.now(),
    });
    const answer = this.statusFallback(this.deviceOf.get(actionId) ?? '');
    if (answer === 'hang') return;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (typeof answer === 'number') return send(answer, { error: { code: 'unavailable', message: 'try later' } });
    if (method === 'DELETE') this.accepted.delete(actionId);
    if (this.applied.has(actionId)) return send(200, { status: 'applied' });
    if (this.accepted.has(actionId)) return send(200, { status: 'accepted' });
    if (method === 'DELETE') return send(200, { status: 'canceled' });
    return send(404, { error: { code: 'actionNotFound', message: 'this gateway never received it' } });
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST') return this.answerStatus(req, res);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(raw);
    this.deviceOf.set(body.actionId, body.deviceId);
    this.received.push({
      actionId: body.actionId,
      deviceId: body.deviceId,
      passcode: body.passcode,
      idempotencyKey: String(req.headers['idempotency-key']),
      signatureValid: this.signatureValid(req, raw),
      ...(typeof req.headers.traceparent === 'string' && { traceparent: req.headers.traceparent }),
      at: Date.now(),
    });
    const next = this.script.get(body.deviceId)?.shift() ?? this.fallback(body.deviceId);
    if (next === 'hang') return; // never answers: the app's timeout must fire
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (next === 'accepted') {
      if (!this.applied.has(body.actionId)) this.accepted.set(body.actionId, body.passcode);
      res.writeHead(202, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ status: this.applied.has(body.actionId) ? 'applied' : 'accepted' }));
    }
    if (next === 'applyThen503') {
      this.applied.set(body.actionId, body.passcode);
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'unavailable', message: 'try later' } }));
    }
    const { status, retryAfter } = typeof next === 'number' ? { status: next, retryAfter: undefined } : next;
    if (status >= 200 && status < 300) this.applied.set(body.actionId, body.passcode);
    const json =
      status >= 400 && status < 500
        ? { error: { code: 'deviceNotEnrolled', message: 'The device left management.' } }
        : { status: 'applied' };
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(retryAfter !== undefined && { 'retry-after': String(retryAfter) }),
    });
    res.end(JSON.stringify(json));
  }
}
