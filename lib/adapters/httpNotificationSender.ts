import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { TransientError } from '../core/errors';
import { isGlobalAddress } from '../core/globalAddress';
import type { NotificationSender } from '../ports';

export interface HttpNotificationSenderOptions {
  /** Per request, covering connect and the answer (Graph gives receivers 10 s to validate). */
  timeoutMs?: number;
  /**
   * Connect only to global unicast addresses (lib/core/globalAddress.ts), in production. Checked on the
   * addresses the name resolves to when connecting, so a name that changes its answer (DNS rebinding) cannot get in.
   */
  refusePrivateAddresses: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 4 * 1024;

/** A DNS lookup that keeps only global unicast addresses, for the request's connect step. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const allowed = addresses.filter((a) => isGlobalAddress(a.address));
    if (allowed.length === 0) {
      const refused = Object.assign(new Error(`${hostname} does not resolve to a public address`), {
        code: 'ENOTPUBLIC',
      });
      return callback(refused, '', 0);
    }
    if (options.all) return callback(null, allowed as unknown as string, 0);
    const [first] = allowed;
    return callback(null, first?.address ?? '', first?.family ?? 4);
  });
};

/** Talks to subscribers' endpoints over node:http(s): no redirects followed, answers read up to 4 KiB. */
export class HttpNotificationSender implements NotificationSender {
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpNotificationSenderOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async validate(url: string, token: string): Promise<boolean> {
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    try {
      const answer = await this.send(target, '', 'text/plain; charset=utf-8');
      const type = String(answer.headers['content-type'] ?? '');
      return answer.status === 200 && /^text\/plain\b/i.test(type) && answer.text === token;
    } catch {
      return false;
    }
  }

  async post(url: string, body: string): Promise<number> {
    return (await this.send(new URL(url), body, 'application/json; charset=utf-8')).status;
  }

  private send(url: URL, body: string, contentType: string) {
    if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0 && this.options.refusePrivateAddresses) {
      if (!isGlobalAddress(url.hostname)) {
        return Promise.reject(new TransientError('the notification URL names a non-public address'));
      }
    }
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
          timeout: this.timeoutMs,
          ...(this.options.refusePrivateAddresses && { lookup: publicOnlyLookup }),
        },
        (answer) => {
          const chunks: Buffer[] = [];
          let size = 0;
          answer.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
            else answer.destroy();
          });
          answer.on('close', () =>
            resolve({
              status: answer.statusCode ?? 0,
              headers: answer.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      // The whole exchange, not only the connection, is bounded.
      const deadline = setTimeout(() => outgoing.destroy(new Error('timed out')), this.timeoutMs);
      outgoing.on('close', () => clearTimeout(deadline));
      outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
      outgoing.on('error', () => reject(new TransientError('the notification URL could not be reached in time')));
      outgoing.end(body);
    });
  }
}
