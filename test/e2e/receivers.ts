import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface Received {
  at: number;
  query: URLSearchParams;
  contentType: string;
  text: string;
}

/** A notification endpoint served by a test, at one path. */
export interface Receiver {
  /** Whether it answers the validation request with the token as text/plain (Graph's handshake). */
  echo: boolean;
  /** Statuses for the next notifications, in order; then `status`. */
  script: number[];
  /** What it answers once the script is used up (default 200). */
  status: number;
  validations: Received[];
  notifications: Received[];
}

/** Loopback notification receivers for the e2e tests, one per path, on one free port. */
export class Receivers {
  private readonly byPath = new Map<string, Receiver>();
  private server: Server | undefined;
  private port = 0;

  async start() {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  add(
    path: string,
    behaviour: Partial<Pick<Receiver, 'echo' | 'script' | 'status'>> = {},
  ): { url: string; receiver: Receiver } {
    const receiver: Receiver = {
      echo: true,
      script: [],
      status: 200,
      validations: [],
      notifications: [],
      ...behaviour,
    };
    this.byPath.set(path, receiver);
    return { url: `http://127.0.0.1:${this.port}${path}`, receiver };
  }

  /** The notifications the receiver at `path` got (none when there is no receiver there). */
  notificationsAt(path: string): Received[] {
    return this.byPath.get(path)?.notifications ?? [];
  }

  private async handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const receiver = this.byPath.get(url.pathname);
    const received: Received = {
      at: Date.now(),
      query: url.searchParams,
      contentType: String(request.headers['content-type'] ?? ''),
      text: Buffer.concat(chunks).toString('utf8'),
    };
    if (!receiver || request.method !== 'POST') {
      response.writeHead(404).end();
      return;
    }
    const token = url.searchParams.get('validationToken');
    if (token !== null) {
      receiver.validations.push(received);
      if (receiver.echo) response.writeHead(200, { 'Content-Type': 'text/plain' }).end(token);
      else response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
      return;
    }
    receiver.notifications.push(received);
    response.writeHead(receiver.script.shift() ?? receiver.status).end();
  }
}
