import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

interface Received {
  actionId: string;
  deviceId: string;
  passcode: string;
  idempotencyKey: string;
  signatureValid: boolean;
}

/** An MDM gateway on loopback that verifies signatures and answers per device as a test scripts it. */
class Gateway {
  readonly received: Received[] = [];
  readonly secret = randomBytes(32).toString('hex');
  /** deviceId → answers in order (status, or 'hang'); after they run out: 200. */
  readonly script = new Map<string, Array<number | 'hang'>>();
  private readonly server: Server = createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/apply`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
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
    });
    const next = this.script.get(body.deviceId)?.shift() ?? 200;
    if (next === 'hang') return; // never answers: the app's timeout must fire
    const json =
      next >= 400 && next < 500
        ? { error: { code: 'deviceNotEnrolled', message: 'The device left management.' } }
        : { status: 'applied' };
    res.writeHead(next, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  }
}

describe('the webhook device channel end to end, against a gateway on loopback', () => {
  const gateway = new Gateway();
  let stack: Stack;
  beforeAll(async () => {
    const url = await gateway.start();
    stack = await startStack({
      DEVICE_CHANNEL: 'webhook',
      DEVICE_CHANNEL_URL: url,
      DEVICE_CHANNEL_SECRET: gateway.secret,
      DEVICE_CHANNEL_TIMEOUT_MS: '300',
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await gateway.stop();
  });

  async function resetDevice(deviceId: string) {
    await call(`${stack.api}/deviceManagement/managedDevices/${deviceId}`, {
      method: 'PUT',
      json: { deviceName: deviceId, operatingSystem: 'iOS', osVersion: '17.5' },
    });
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
      method: 'POST',
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted);
    return { final, calls: gateway.received.filter((r) => r.deviceId === deviceId) };
  }

  it('a 5xx then a 2xx ends done, with the one passcode sent twice and shown to the admin', async () => {
    gateway.script.set('wh-flaky', [503]);
    const { final, calls } = await resetDevice('wh-flaky');
    expect(final.body.actionState).toBe('done');
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.signatureValid)).toBe(true);
    expect(new Set(calls.map((c) => c.passcode))).toEqual(new Set([final.body.passcode]));
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([final.body.id]));
  });

  it("a 4xx ends failed with the gateway's error code, without retrying", async () => {
    gateway.script.set('wh-rejected', [404]);
    const { final, calls } = await resetDevice('wh-rejected');
    expect(final.body).toMatchObject({ actionState: 'failed', error: { code: 'deviceNotEnrolled' } });
    expect(final.body.passcode).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it('a hung gateway times out and the action is retried to done with the same passcode', async () => {
    gateway.script.set('wh-hung', ['hang']);
    const { final, calls } = await resetDevice('wh-hung');
    expect(final.body.actionState).toBe('done');
    expect(calls).toHaveLength(2);
    expect(calls[0]?.passcode).toBe(calls[1]?.passcode);
    expect(calls[1]?.passcode).toBe(final.body.passcode);
  });
});
