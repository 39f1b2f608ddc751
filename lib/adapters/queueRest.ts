import { createHmac } from 'node:crypto';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
  type PipelineResponse,
  RestError,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import { connectionStringParts, DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY, serviceEndpoint } from './connectionString';
import { STORAGE_RETRY_OPTIONS, storageTimeoutPolicy } from './storageDeadline';
import type { StorageRequestObserver } from './tableClients';

/**
 * A small Azure Queue Storage client: the two operations the app uses (create a queue, put a message), sent with the
 * HTTP pipeline the Tables SDK already brings (@azure/core-rest-pipeline). `@azure/storage-queue` did the same with
 * 58 KiB of its own code and an XML stack on top; its place in the bundle and the cold start is measured in
 * docs/PERFORMANCE.md ("Bundle and cold start"). The tools and tests that receive, peek or delete keep the SDK.
 * REST reference: https://learn.microsoft.com/rest/api/storageservices/queue-service-rest-api
 */

/**
 * The Queue service version sent as x-ms-version: a published version, so both Azure and Azurite (3.35 knows it)
 * accept it without `--skipApiVersionCheck`. https://learn.microsoft.com/rest/api/storageservices/versioning-for-the-azure-storage-services
 */
const QUEUE_SERVICE_VERSION = '2025-11-05';

/** The scope of a Microsoft Entra token for Azure Storage (https://learn.microsoft.com/azure/storage/common/authorize-data-access). */
const STORAGE_SCOPE = 'https://storage.azure.com/.default';

/** A message is visible at most 7 days later (Put Message, `visibilitytimeout`). */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** How the client reaches and authorizes with the queue service. */
export type QueueServiceAccess =
  | { serviceUrl: string; auth: { kind: 'sharedKey'; accountName: string; accountKey: string } }
  | { serviceUrl: string; auth: { kind: 'sas'; token: string } }
  | { serviceUrl: string; auth: { kind: 'token'; credential: TokenCredential } };

/**
 * The queue endpoint and credentials of a storage connection string, read as the storage SDKs do:
 * https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string
 * Errors name the missing part and never repeat the string (it holds the key).
 */
export function queueAccessFromConnectionString(connectionString: string): QueueServiceAccess {
  const parts = connectionStringParts(connectionString);
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return {
      serviceUrl: `http://127.0.0.1:10001/${DEVELOPMENT_ACCOUNT}`,
      auth: { kind: 'sharedKey', accountName: DEVELOPMENT_ACCOUNT, accountKey: DEVELOPMENT_KEY },
    };
  }
  const serviceUrl = serviceEndpoint(parts, 'queue');
  if (!serviceUrl || !URL.canParse(serviceUrl)) {
    throw new Error('the storage connection string has no queue endpoint (QueueEndpoint, or AccountName)');
  }
  const sas = parts.get('sharedaccesssignature');
  if (sas) return { serviceUrl, auth: { kind: 'sas', token: sas.replace(/^\?/, '') } };
  const accountName = parts.get('accountname');
  const accountKey = parts.get('accountkey');
  if (!accountName || !accountKey) {
    throw new Error('the storage connection string needs AccountName and AccountKey (or SharedAccessSignature)');
  }
  return { serviceUrl, auth: { kind: 'sharedKey', accountName, accountKey } };
}

/**
 * The Shared Key signature of a Blob, Queue or File service request (version 2009-09-19 and later):
 * https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#blob-queue-and-file-services-shared-key-authorization
 * Signed on every try (the policy runs after the retry policy), so each try carries a fresh x-ms-date.
 */
export function sharedKeyStringToSign(
  accountName: string,
  request: { method: string; url: string; headers: Iterable<[string, string]> },
): string {
  const headers = new Map<string, string>();
  for (const [name, value] of request.headers) headers.set(name.toLowerCase(), value);
  const header = (name: string) => headers.get(name) ?? '';
  // Since version 2015-02-21 a zero Content-Length is signed as an empty string.
  const contentLength = header('content-length') === '0' ? '' : header('content-length');
  const canonicalHeaders = [...headers]
    .filter(([name]) => name.startsWith('x-ms-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}:${value.replace(/\s+/g, ' ').trim()}\n`)
    .join('');
  const url = new URL(request.url);
  // The path as sent (percent-encoded), after the account name; a path-style endpoint (Azurite) repeats it.
  let resource = `/${accountName}${url.pathname}`;
  const query = new Map<string, string[]>();
  for (const [name, value] of url.searchParams) {
    const key = name.toLowerCase();
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  for (const name of [...query.keys()].sort()) resource += `\n${name}:${(query.get(name) ?? []).sort().join(',')}`;
  return [
    request.method.toUpperCase(),
    header('content-encoding'),
    header('content-language'),
    contentLength,
    header('content-md5'),
    header('content-type'),
    // Date is empty: x-ms-date (a canonical header) carries the time.
    '',
    header('if-modified-since'),
    header('if-match'),
    header('if-none-match'),
    header('if-unmodified-since'),
    header('range'),
    `${canonicalHeaders}${resource}`,
  ].join('\n');
}

/** Signs each try with the account key (HMAC-SHA256); the key itself never leaves this closure. */
function sharedKeyPolicy(accountName: string, accountKey: string): PipelinePolicy {
  const key = Buffer.from(accountKey, 'base64');
  return {
    name: 'queueSharedKey',
    sendRequest(request, next) {
      request.headers.set('x-ms-date', new Date().toUTCString());
      const signature = createHmac('sha256', key)
        .update(sharedKeyStringToSign(accountName, request), 'utf8')
        .digest('base64');
      request.headers.set('authorization', `SharedKey ${accountName}:${signature}`);
      return next(request);
    },
  };
}

/** The pipeline of one client: the core defaults, the retries and per-try timeout of the Tables clients, auth. */
function queuePipeline(access: QueueServiceAccess, observe?: StorageRequestObserver): Pipeline {
  // The same retries as the Tables clients (storageDeadline.ts): 3 tries of at most PER_TRY_MS each, quick back-off.
  const pipeline = createPipelineFromOptions({ retryOptions: STORAGE_RETRY_OPTIONS });
  pipeline.addPolicy(storageTimeoutPolicy, { afterPhase: 'Retry' });
  if (observe) {
    // Once per call, before the retries, as the Tables clients' observer (the benchmark counts calls).
    pipeline.addPolicy({
      name: 'observeStorageRequests',
      sendRequest: (request, next) => {
        observe(request);
        return next(request);
      },
    });
  }
  if (access.auth.kind === 'sharedKey') {
    pipeline.addPolicy(sharedKeyPolicy(access.auth.accountName, access.auth.accountKey), { phase: 'Sign' });
  } else if (access.auth.kind === 'token') {
    // Refuses plain http itself: a bearer token only ever travels over TLS.
    pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: access.auth.credential, scopes: STORAGE_SCOPE }), {
      phase: 'Sign',
    });
  }
  return pipeline;
}

/** Escapes text for an XML element (Put Message's body is XML). */
const xmlText = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** One queue of a storage account. */
export class QueueRestClient {
  /** The queue's URL (without a SAS token). */
  readonly url: string;
  readonly #access: QueueServiceAccess;
  readonly #pipeline: Pipeline;
  readonly #http: HttpClient;

  constructor(access: QueueServiceAccess, queueName: string, observe?: StorageRequestObserver) {
    this.url = `${access.serviceUrl.replace(/\/+$/, '')}/${queueName}`;
    this.#access = access;
    this.#pipeline = queuePipeline(access, observe);
    this.#http = createDefaultHttpClient();
  }

  /**
   * Creates the queue: true when it was created, false when it already existed (201 / 204).
   * https://learn.microsoft.com/rest/api/storageservices/create-queue4
   */
  async create(): Promise<boolean> {
    const response = await this.#send('PUT', '', undefined, [201, 204]);
    return response.status === 201;
  }

  /**
   * Puts a message, invisible for `visibilityTimeout` seconds (0 to 7 days), kept for the default 7 days.
   * https://learn.microsoft.com/rest/api/storageservices/put-message
   */
  async sendMessage(
    text: string,
    options: { visibilityTimeout?: number; abortSignal?: AbortSignal } = {},
  ): Promise<void> {
    const delay = options.visibilityTimeout ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_VISIBILITY_TIMEOUT_SECONDS) {
      throw new RangeError(`a message's visibility timeout is whole seconds from 0 to 7 days, not ${delay}`);
    }
    const body = `<?xml version="1.0" encoding="utf-8"?><QueueMessage><MessageText>${xmlText(text)}</MessageText></QueueMessage>`;
    const query = delay > 0 ? `?visibilitytimeout=${delay}` : '';
    await this.#send('POST', `/messages${query}`, body, [201], options.abortSignal);
  }

  /** Sends one request through the pipeline; any status but `expected` becomes a RestError carrying it. */
  async #send(
    method: 'PUT' | 'POST',
    path: string,
    body: string | undefined,
    expected: readonly number[],
    abortSignal?: AbortSignal,
  ): Promise<PipelineResponse> {
    let url = `${this.url}${path}`;
    if (this.#access.auth.kind === 'sas') url += `${url.includes('?') ? '&' : '?'}${this.#access.auth.token}`;
    const headers = createHttpHeaders({ 'x-ms-version': QUEUE_SERVICE_VERSION });
    if (body !== undefined) {
      headers.set('content-type', 'application/xml; charset=utf-8');
      headers.set('content-length', String(Buffer.byteLength(body)));
    }
    const request = createPipelineRequest({
      url,
      method,
      headers,
      ...(body !== undefined && { body }),
      ...(abortSignal && { abortSignal }),
      // Plain http only where the connection string itself names an http endpoint (Azurite); tokens refuse it.
      allowInsecureConnection: this.#access.auth.kind !== 'token' && url.startsWith('http:'),
    });
    const response = await this.#pipeline.sendRequest(this.#http, request);
    if (expected.includes(response.status)) return response;
    // The error code is in a header as well as in the XML body, so no XML parser is needed:
    // https://learn.microsoft.com/rest/api/storageservices/status-and-error-codes2
    const code = response.headers.get('x-ms-error-code') ?? undefined;
    const requestId = response.headers.get('x-ms-request-id');
    throw new RestError(
      `the queue service answered ${method} ${new URL(this.url).pathname}${path.replace(/\?.*/, '')} with ${response.status}${code ? ` ${code}` : ''}${requestId ? ` (request id ${requestId})` : ''}`,
      { statusCode: response.status, ...(code && { code }) },
    );
  }
}

/** A client of `queueName` for a connection string or the queue service URI and credential of an identity. */
export function queueRestClient(
  connection: { connectionString: string } | { queueServiceUri: string; credential: TokenCredential },
  queueName: string,
  observe?: StorageRequestObserver,
): QueueRestClient {
  const access: QueueServiceAccess =
    'connectionString' in connection
      ? queueAccessFromConnectionString(connection.connectionString)
      : { serviceUrl: connection.queueServiceUri, auth: { kind: 'token', credential: connection.credential } };
  return new QueueRestClient(access, queueName, observe);
}
