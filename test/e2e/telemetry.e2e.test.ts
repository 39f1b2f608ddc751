import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackGateway } from './gateway';
import { call, pollLikeLogicApps, type Stack, startStack } from './stack';

// One trace per reset, end to end: the local host exports with OpenTelemetry over OTLP http/json to a receiver this
// test serves (OTEL_EXPORTER_OTLP_ENDPOINT), the device channel is a webhook gateway on loopback that fails the first
// send (so the worker runs twice), and a subscriber on loopback gets the notification. The spans must form one trace
// with the right parents, and no span, attribute or log line may carry the passcode, the client state or the
// notification URL's query.

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
  links: Array<{ traceId: string; spanId: string }>;
}

// OTLP's SpanKind numbers (opentelemetry-proto trace.proto).
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

const attributeValue = (v: OtlpValue) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));

/** An OTLP/HTTP receiver (JSON encoding) that keeps every span and every raw body it was sent. */
class OtlpReceiver {
  readonly spans: ExportedSpan[] = [];
  readonly bodies: string[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    this.bodies.push(text);
    if (request.url === '/v1/traces') {
      const body = JSON.parse(text);
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            this.spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentSpanId && { parentSpanId: span.parentSpanId }),
              name: span.name,
              kind: span.kind,
              attributes: Object.fromEntries(
                (span.attributes ?? []).map((a: { key: string; value: OtlpValue }) => [a.key, attributeValue(a.value)]),
              ),
              links: span.links ?? [],
            });
          }
        }
      }
    }
    response.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  }
}

/** A notification receiver: echoes Graph's validation token, takes notices with 202. */
async function startSubscriber(): Promise<{ url: string; notices: string[]; stop: () => Promise<void> }> {
  const notices: string[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const token = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams.get('validationToken');
    if (token !== null) {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end(token);
      return;
    }
    notices.push(Buffer.concat(chunks).toString('utf8'));
    response.writeHead(202).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/resets?code=query-secret-${randomBytes(6).toString('hex')}`,
    notices,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe('one trace per reset, exported over OTLP from the local host', () => {
  let stack: Stack;
  const otlp = new OtlpReceiver();
  const gateway = new LoopbackGateway();
  let subscriber: Awaited<ReturnType<typeof startSubscriber>>;

  beforeAll(async () => {
    const [endpoint, gatewayUrl] = await Promise.all([otlp.start(), gateway.start()]);
    subscriber = await startSubscriber();
    stack = await startStack({
      ...gateway.settings(gatewayUrl, 2000),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
  });
  afterAll(async () => {
    await Promise.all([stack?.stop(), otlp.stop(), gateway.stop(), subscriber?.stop()]);
  });

  it('links the request, enqueue, both worker runs, channel calls, completion and notification in one trace', async () => {
    const deviceId = 'otel-retried';
    const clientState = `client-state-${randomBytes(8).toString('hex')}`;
    gateway.script.set(deviceId, [503]);
    const put = await call(`${stack.api}/deviceManagement/managedDevices/${deviceId}`, {
      method: 'PUT',
      json: { deviceName: deviceId, operatingSystem: 'iOS', osVersion: '17.5' },
    });
    expect(put.status).toBe(201);
    const subscribed = await call(`${stack.api}/deviceManagement/subscriptions`, {
      method: 'POST',
      json: {
        changeType: 'updated',
        notificationUrl: subscriber.url,
        resource: `deviceManagement/managedDevices/${deviceId}/deviceActionResults`,
        expirationDateTime: new Date(Date.now() + 3_600_000).toISOString(),
        clientState,
      },
    });
    expect(subscribed.status).toBe(201);

    // The caller's own trace context, as Logic Apps or APIM send it: the reset's trace continues it.
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/${deviceId}/resetPasscode`, {
      method: 'POST',
      headers: { traceparent: `00-${traceId}-${callerSpanId}-01` },
    });
    expect(accepted.status).toBe(202);
    const { final } = await pollLikeLogicApps(accepted, { maxPolls: 120 });
    expect(final.body.actionState).toBe('done');
    const passcode: string = final.body.passcode;
    expect(passcode).toMatch(/^\d{4,}$/);
    await waitFor('the notification', () => subscriber.notices.length > 0);

    const inTrace = () => otlp.spans.filter((s) => s.traceId === traceId);
    const named = (name: string) => inTrace().filter((s) => s.name === name);
    await waitFor(
      'the spans of every hop',
      () =>
        named('process reset-passcode').length >= 2 &&
        named('finish reset').length === 1 &&
        named('POST').length >= 1 &&
        named('DeviceChannel/send').length >= 2,
    );
    const byId = new Map(inTrace().map((s) => [s.spanId, s]));
    const parentOf = (span: ExportedSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);

    // The HTTP request: a server span continuing the caller's span.
    const [server] = named('POST /api/deviceManagement/managedDevices/{deviceId}/resetPasscode');
    expect(server?.kind).toBe(KIND.server);
    expect(server?.parentSpanId).toBe(callerSpanId);
    expect(server?.attributes['http.response.status_code']).toBe(202);

    // The enqueue: a producer span under the request.
    const firstSend = named('send reset-passcode').find((s) => s.parentSpanId === server?.spanId);
    expect(firstSend?.kind).toBe(KIND.producer);
    expect(firstSend?.attributes['messaging.destination.name']).toBe('reset-passcode');

    // The worker: a consumer span per delivery, each under the producer of the message it ran for.
    const workers = named('process reset-passcode').sort(
      (a, b) =>
        Number(a.attributes['messaging.message.delivery_count'] ?? 0) -
        Number(b.attributes['messaging.message.delivery_count'] ?? 0),
    );
    for (const worker of workers) {
      expect(worker.kind).toBe(KIND.consumer);
      expect(parentOf(worker)?.kind).toBe(KIND.producer);
    }
    const first = workers.find((w) => w.parentSpanId === firstSend?.spanId);
    expect(first, 'the first worker run is a child of the request’s enqueue').toBeDefined();
    // The retry: the first run sent the message again (a producer under it), and the second run continues that.
    const resend = named('send reset-passcode').find((s) => s.parentSpanId === first?.spanId);
    expect(resend).toBeDefined();
    const retry = workers.find((w) => w.parentSpanId === resend?.spanId);
    expect(retry, 'the retry is a second worker span in the same trace').toBeDefined();

    // Each device channel call: a client span under its worker run, naming the channel.
    const sends = named('DeviceChannel/send');
    const sendOf = (worker: ExportedSpan | undefined) => sends.find((s) => s.parentSpanId === worker?.spanId);
    expect(sendOf(first)?.kind).toBe(KIND.client);
    expect(sendOf(first)?.attributes['device_channel.name']).toBe('webhook');
    expect(sendOf(first)?.attributes['device_channel.outcome']).toBe('transient');
    expect(sendOf(retry)?.attributes['device_channel.outcome']).toBe('applied');
    // The gateway was called within the same trace.
    expect(gateway.callsFor(deviceId).every((r) => r.traceparent?.split('-')[1] === traceId)).toBe(true);

    // The completion, under the run that finished it.
    const [finish] = named('finish reset');
    expect(finish?.parentSpanId).toBe(retry?.spanId);
    expect(finish?.attributes['app.action.state']).toBe('done');

    // The notification: announced (a producer under the completion's run), fanned out, delivered by a client span.
    const [delivery] = named('POST');
    expect(delivery?.kind).toBe(KIND.client);
    expect(parentOf(delivery as ExportedSpan)?.name).toBe('process notifications');
    expect(delivery?.attributes['http.response.status_code']).toBe(202);
    expect(String(delivery?.attributes['url.full'])).toBe(subscriber.url.split('?')[0]);

    // Nothing exported carries a secret: not the passcode, the client state, nor the receiver URL's query.
    const exported = otlp.bodies.join('\n');
    const query = new URL(subscriber.url).search.slice(1);
    for (const secret of [passcode, clientState, query]) expect(exported).not.toContain(secret);
    // The log lines neither.
    const logs = stack.host.logs();
    for (const secret of [passcode, clientState, query]) expect(logs).not.toContain(secret);
    // The worker's log lines name the action and the trace.
    expect(logs).toMatch(new RegExp(`reset ${final.body.id}: done .*trace ${traceId}`));
  }, 180_000);
});
