import { createHmac, randomBytes } from 'node:crypto';
import { TransientError } from '../core/errors';
import { isLoopbackHttpUrl } from '../core/loopback';
import type { CommandStatus } from '../core/model';
import type { ApplyPasscodeRequest, Clock, DeviceChannel, SentCommand } from '../ports';
import { readAtMost } from '../streams';
import * as z from '../zod';

/** Options of the webhook channel; `secret` is the HMAC key shared with the gateway (docs/device-gateway.md). */
export interface WebhookDeviceChannelOptions {
  url: string;
  secret: Buffer;
  /** Per request, covering connect, headers and body (default 10000). */
  timeoutMs?: number;
  clock: Clock;
  fetch?: typeof fetch;
}

/** Shortest accepted secret: an HMAC-SHA256 key should carry at least 256 bits. */
const MIN_SECRET_BYTES = 32;
const DEFAULT_TIMEOUT_MS = 10_000;
// Gateways answer with small JSON; a larger body is neither read nor parsed (it still counts by its status code).
const MAX_PARSED_BODY_CHARS = 64 * 1024;
const MAX_MESSAGE_CHARS = 500;
const MAX_RETRY_AFTER_SECONDS = 3600;

/** The gateway's error body on a 4xx: the docs/API.md error shape (extra properties ignored). */
const GatewayErrorBodySchema = z.lazy(() =>
  z.object({
    error: z.object({ code: z.string(), message: z.optional(z.string()) }),
  }),
);

/**
 * A 2xx body that says how the command stands: the POST's answer (a gateway that declines the device, or takes the
 * command to finish later) or the status GET's. Other properties are ignored.
 */
const GatewayStatusBodySchema = z.lazy(() =>
  z.object({
    status: z.enum(['applied', 'accepted', 'failed', 'notSupported', 'canceled']),
    code: z.optional(z.string()),
    message: z.optional(z.string()),
    expirationDateTime: z.optional(z.iso.datetime({ offset: true })),
    deviceLastContactDateTime: z.optional(z.iso.datetime({ offset: true })),
  }),
);

// A stable camelCase-ish identifier; anything else from the gateway is replaced by our own code.
const GatewayCodeSchema = z.lazy(() => z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/)));

/** The hex HMAC-SHA256 of `${timestamp}.${rawBody}` under `secret`; sent as `X-Signature: sha256=<hex>`. */
export function signWebhookPayload(secret: Buffer, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

/** The JSON body POSTed to the gateway, in this property order (docs/device-gateway.md). */
function webhookPayload(request: ApplyPasscodeRequest): string {
  return JSON.stringify({
    actionId: request.actionId,
    deviceId: request.deviceId,
    operatingSystem: request.operatingSystem,
    osVersion: request.osVersion,
    passcodePolicy: request.policy,
    passcode: request.passcode,
  });
}

/**
 * Sends passcodes through an MDM gateway over HTTPS: a signed, idempotent POST per action, a signed GET that asks how
 * an action's command stands, and a signed DELETE that asks the gateway to cancel one (docs/device-gateway.md).
 */
export class WebhookDeviceChannel implements DeviceChannel {
  private readonly url: URL;
  private readonly secret: Buffer;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;

  constructor(options: WebhookDeviceChannelOptions) {
    this.url = parseGatewayUrl(options.url);
    if (options.secret.length < MIN_SECRET_BYTES) {
      throw new Error(`the device gateway secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.secret = options.secret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new Error('the device gateway timeout must be a positive whole number of milliseconds');
    }
    this.clock = options.clock;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async send(request: ApplyPasscodeRequest): Promise<CommandStatus> {
    const rawBody = webhookPayload(request);
    const response = await this.call('POST', this.url, rawBody, {
      'Idempotency-Key': request.actionId,
      // The gateway call is a child of the reset's trace (W3C trace context: same trace id, a new parent id).
      ...(request.traceparent && { traceparent: childTraceparent(request.traceparent) }),
    });
    return classifySend(response, request.actionId, request.passcode, this.clock.now());
  }

  async check(command: SentCommand): Promise<CommandStatus> {
    const response = await this.call('GET', this.actionUrl(command.actionId), signedTarget('GET', command.actionId));
    return classifyCheck(response, command.actionId, this.clock.now());
  }

  async cancel(command: SentCommand): Promise<boolean> {
    const response = await this.call(
      'DELETE',
      this.actionUrl(command.actionId),
      signedTarget('DELETE', command.actionId),
    );
    if (isRetriable(response.status)) throw gatewayTransient(response, this.clock.now());
    // 2xx: asked (the GET tells whether it will apply); 404 actionNotFound: the gateway never had it, nothing to apply.
    return (response.status >= 200 && response.status < 300) || isActionNotFound(response);
  }

  /** The gateway URL with `actionId` added to its query (the URL is otherwise used exactly as configured). */
  private actionUrl(actionId: string): URL {
    const url = new URL(this.url);
    url.searchParams.set('actionId', actionId);
    return url;
  }

  /** One signed request: the signature covers the timestamp and `signed` (the raw body, or method and action id). */
  private async call(
    method: 'POST' | 'GET' | 'DELETE',
    url: URL,
    signed: string,
    headers: Record<string, string> = {},
  ): Promise<GatewayResponse> {
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    try {
      const response = await this.fetch(url, {
        method,
        headers: {
          ...(method === 'POST' && { 'Content-Type': 'application/json' }),
          ...headers,
          'X-Signature-Timestamp': String(timestamp),
          'X-Signature': `sha256=${signWebhookPayload(this.secret, timestamp, signed)}`,
        },
        ...(method === 'POST' && { body: signed }),
        // A redirected POST would resend the passcode to wherever the Location points; never follow one.
        redirect: 'manual',
        // Covers reading the body too: a gateway that sends headers and then stalls still times out.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Gateways answer with small JSON: past the limit the body is not read on (its status still counts).
      const body = await readAtMost(response.body, MAX_PARSED_BODY_CHARS);
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        text: body?.toString('utf8') ?? '',
      };
    } catch (error) {
      // The cause is not attached: fetch errors can quote the request, and the request holds the passcode.
      throw new TransientError(
        isTimeout(error)
          ? `the device gateway did not answer within ${this.timeoutMs} ms`
          : 'the device gateway could not be reached',
      );
    }
  }
}

/**
 * What a GET or DELETE signs: the method and the action id. A POST signs its raw body, a JSON object, so neither can
 * pass for the other, nor a GET for a DELETE.
 */
const signedTarget = (method: 'GET' | 'DELETE', actionId: string) => `${method} ${actionId}`;

const isRetriable = (status: number) => status === 408 || status === 429 || status >= 500 || status < 200;

const gatewayTransient = (response: GatewayResponse, now: Date) =>
  new TransientError(`the device gateway answered ${response.status}`, retryAfterSeconds(response.retryAfter, now));

/** The POST's answer: 2xx applied (or notSupported, or accepted to finish later), 4xx refused, 408/429/5xx retried. */
function classifySend(response: GatewayResponse, actionId: string, passcode: string, now: Date): CommandStatus {
  const { status } = response;
  if (status >= 200 && status < 300) {
    return statusFromBody(response.text, actionId, passcode) ?? { status: 'applied' };
  }
  if (isRetriable(status)) throw gatewayTransient(response, now);
  if (status < 400) {
    return { status: 'failed', code: 'gatewayRedirected', message: `the device gateway redirected (${status})` };
  }
  return failureFrom(response, passcode);
}

/**
 * The status GET's answer: 200 with a status body; 404 `actionNotFound`: the gateway never received the action (and,
 * per the contract, will refuse it from now on); 408/429/5xx retried; anything else means the gateway cannot report
 * outcomes (an older gateway), so the outcome stays unknown.
 */
function classifyCheck(response: GatewayResponse, actionId: string, now: Date): CommandStatus {
  const { status } = response;
  if (isRetriable(status)) throw gatewayTransient(response, now);
  if (isActionNotFound(response)) {
    return { status: 'failed', code: 'deviceUnreachable', message: 'the device gateway never received the command' };
  }
  const known = status === 200 ? statusFromBody(response.text, actionId, undefined) : undefined;
  return known ?? { status: 'unknown', message: `the device gateway cannot report the command's outcome (${status})` };
}

function isActionNotFound(response: GatewayResponse): boolean {
  if (response.status !== 404) return false;
  const parsed = GatewayErrorBodySchema.safeParse(parseJson(response.text));
  return parsed.success && parsed.data.error.code === 'actionNotFound';
}

interface GatewayResponse {
  status: number;
  retryAfter: string | null;
  text: string;
}

/** `traceparent` for a call made within `parent`'s trace: the same trace id and flags, a fresh parent (span) id. */
const childTraceparent = (parent: string): string => {
  const [version, traceId, , flags] = parent.split('-');
  return `${version}-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
};

function parseGatewayUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('the device gateway URL is not a valid absolute URL');
  }
  if (url.username || url.password) throw new Error('the device gateway URL must not contain credentials');
  if (url.protocol === 'https:') return url;
  if (isLoopbackHttpUrl(url)) return url;
  throw new Error('the device gateway URL must use https (http only for 127.0.0.1, localhost or ::1)');
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

function parseJson(text: string): unknown {
  if (text.length === 0 || text.length > MAX_PARSED_BODY_CHARS) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The command's status from a gateway's 2xx body, or undefined when the body says none. Codes and messages pass the
 * checks of `safeError`; the status GET does not carry the passcode to redact with, so its messages are the app's own.
 */
function statusFromBody(text: string, actionId: string, passcode: string | undefined): CommandStatus | undefined {
  const parsed = GatewayStatusBodySchema.safeParse(parseJson(text));
  if (!parsed.success) return undefined;
  const body = parsed.data;
  switch (body.status) {
    case 'applied':
      return { status: 'applied' };
    case 'canceled':
      return { status: 'canceled' };
    case 'accepted':
      return {
        status: 'waiting',
        reference: actionId,
        ...(body.expirationDateTime && { expiresDateTime: new Date(body.expirationDateTime).toISOString() }),
        ...(body.deviceLastContactDateTime && {
          deviceLastSeenDateTime: new Date(body.deviceLastContactDateTime).toISOString(),
        }),
      };
    case 'failed':
    case 'notSupported': {
      const fallback =
        body.status === 'failed'
          ? { code: 'gatewayFailed', message: 'the device gateway could not apply the passcode' }
          : {
              code: 'gatewayNotSupported',
              message: 'the device gateway does not support passcode reset on this device',
            };
      const error =
        passcode === undefined
          ? {
              code: GatewayCodeSchema.safeParse(body.code).success ? (body.code as string) : fallback.code,
              message: fallback.message,
            }
          : safeError(body.code ?? '', body.message, passcode, fallback);
      return { status: body.status, ...error };
    }
  }
}

function failureFrom(response: GatewayResponse, passcode: string): CommandStatus {
  const fallback = { code: 'gatewayRejected', message: `the device gateway rejected the request (${response.status})` };
  const parsed = GatewayErrorBodySchema.safeParse(parseJson(response.text));
  const error = parsed.success
    ? safeError(parsed.data.error.code, parsed.data.error.message, passcode, fallback)
    : fallback;
  return { status: 'failed', ...error };
}

/**
 * The gateway's code and message end up in the action's error, which callers read: a malformed code is replaced,
 * and a gateway that echoes the passcode has it redacted (docs/DESIGN.md invariant 5).
 */
function safeError(
  code: string,
  message: string | undefined,
  passcode: string,
  fallback: { code: string; message: string },
): { code: string; message: string } {
  if (!GatewayCodeSchema.safeParse(code).success || redactPasscode(code, passcode) !== code) return fallback;
  if (message === undefined || message.trim() === '') return { code, message: fallback.message };
  return { code, message: redactPasscode(message, passcode).slice(0, MAX_MESSAGE_CHARS) };
}

const REDACTED = '[redacted]';

/**
 * `text` with every copy of `passcode` a gateway could plausibly echo replaced: in any letter case, URL-encoded
 * (`%39`), JSON-escaped (`\u0039`), with up to three spaces or punctuation marks between its characters
 * (`90 27 16`, `9-0-2-7-1-6`), and base64 or base64url-encoded at any of the three byte alignments it can have inside
 * a longer encoded value. Redacting a little too much is harmless; a passcode left in an error is not.
 */
export function redactPasscode(text: string, passcode: string): string {
  if (passcode === '') return text;
  let redacted = text;
  for (const encoded of base64Forms(passcode)) redacted = redacted.replaceAll(encoded, REDACTED);
  const characters = [...passcode].map((c) => `(?:${characterForms(c).join('|')})`);
  return redacted.replace(new RegExp(characters.join('[\\s\\p{P}\\p{S}]{0,3}'), 'giu'), REDACTED);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One character of a passcode as a gateway may write it: itself, percent-encoded UTF-8, or a JSON escape. */
function characterForms(character: string): string[] {
  const bytes = [...Buffer.from(character, 'utf8')];
  const percent = bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const units = [...character].flatMap((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0xffff ? [0xd800 + ((code - 0x10000) >> 10), 0xdc00 + ((code - 0x10000) & 0x3ff)] : [code];
  });
  const unicode = units.map((u) => `\\\\u${u.toString(16).padStart(4, '0')}`).join('');
  const shortEscape = character === '"' || character === '\\' ? [`\\\\${escapeRegExp(character)}`] : [];
  return [escapeRegExp(character), escapeRegExp(percent), unicode, ...shortEscape];
}

/**
 * The base64 and base64url characters that only the passcode's bytes decide, for each alignment it can have in a
 * longer encoded value (0, 1 or 2 bytes before it).
 */
function base64Forms(passcode: string): string[] {
  const bytes = Buffer.from(passcode, 'utf8');
  const forms = new Set<string>();
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const stable = encoded.slice(start, end);
    if (stable.length >= 4) {
      forms.add(stable);
      forms.add(stable.replaceAll('+', '-').replaceAll('/', '_'));
    }
  }
  // Longest first, so that a shorter form never cuts a longer one in two.
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), clamped; undefined when absent or bad. */
export function retryAfterSeconds(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  const seconds = /^\d+$/.test(trimmed) ? Number(trimmed) : Math.ceil((Date.parse(trimmed) - now.getTime()) / 1000);
  if (Number.isNaN(seconds)) return undefined;
  return Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS);
}
