import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { TransientError } from '../core/errors';
import type { NotificationSender } from '../ports';

export interface HttpNotificationSenderOptions {
  /** Per request, covering connect and the answer (Graph gives receivers 10 s to validate). */
  timeoutMs?: number;
  /**
   * Refuse to connect to private, loopback, link-local and other non-public addresses (production). Checked on the
   * addresses the name resolves to when connecting, so a name that changes its answer (DNS rebinding) cannot get in.
   */
  refusePrivateAddresses: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 4 * 1024;

// Address ranges a receiver on the internet never has: RFC 1918, loopback, link-local (cloud metadata at
// 169.254.169.254), carrier-grade NAT, "this network", multicast and reserved, and their IPv6 counterparts.
// (IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry: a ::ffff:0:0/96 rule here would make
// BlockList match every IPv4 address.)
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is one that a public receiver cannot have. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6 && address.toLowerCase().startsWith('::ffff:')) {
    const mapped = address.slice(7);
    if (isIP(mapped) === 4) return NON_PUBLIC.check(mapped, 'ipv4');
  }
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A DNS lookup that fails for non-public addresses, for the request's connect step. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const allowed = addresses.filter((a) => !isNonPublicAddress(a.address));
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
      if (isNonPublicAddress(url.hostname.replace(/^\[|\]$/g, ''))) {
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
