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

/** One scripted answer: a status (with an optional Retry-After in seconds), or never answering. */
export type Answer = number | { status: number; retryAfter?: number } | 'hang';

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

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const expected = `sha256=${createHmac('sha256', this.secret).update(`${req.headers['x-signature-timestamp']}.${raw}`).digest('hex')}`;
    const given = String(req.headers['x-signature'] ?? '');
    const body = JSON.parse(raw);
    this.received.push({
      actionId: body.actionId,
      deviceId: body.deviceId,
      passcode: body.passcode,
      idempotencyKey: String(req.headers['idempotency-key']),
      signatureValid: given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected)),
      ...(typeof req.headers.traceparent === 'string' && { traceparent: req.headers.traceparent }),
      at: Date.now(),
    });
    const next = this.script.get(body.deviceId)?.shift() ?? this.fallback(body.deviceId);
    if (next === 'hang') return; // never answers: the app's timeout must fire
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const { status, retryAfter } = typeof next === 'number' ? { status: next, retryAfter: undefined } : next;
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
