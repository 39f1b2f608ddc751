import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { invalidSkipToken } from '../core/errors';
import { isLoopbackHttpUrl } from '../core/loopback';
import * as z from '../zod';
import { connectionStringParts, serviceEndpoint } from './connectionString';
import { asConnection, type StorageConnection } from './storageConnection';
import { STORAGE_RETRY_OPTIONS, storageTimeoutPolicy } from './storageDeadline';
import { storageStatus } from './storageErrors';

type TablePolicy = Parameters<typeof storageTimeoutPolicy.sendRequest>;
type PipelineRequest = TablePolicy[0];
type SendRequest = TablePolicy[1];

/** Sees every request a storage client sends (the benchmark counts round trips with one). */
export type StorageRequestObserver = (request: { method: string; url: string }) => void;

/** A TableClient for a connection string (Azurite's plain http endpoint included) or an identity-based connection. */
export function tableClient(
  connection: StorageConnection | string,
  tableName: string,
  observe?: StorageRequestObserver,
): TableClient {
  // Every try is bounded and retried a few times quickly (storageDeadline.ts); the observer sees each call once.
  const options: TableServiceClientOptions = {
    retryOptions: STORAGE_RETRY_OPTIONS,
    additionalPolicies: [
      { policy: storageTimeoutPolicy, position: 'perRetry' },
      ...(observe
        ? [
            {
              policy: {
                name: 'observeStorageRequests',
                sendRequest: (request: PipelineRequest, next: SendRequest) => {
                  observe(request);
                  return next(request);
                },
              },
              position: 'perCall' as const,
            },
          ]
        : []),
    ],
  };
  const resolved = asConnection(connection);
  if (resolved.kind === 'identity') {
    if (!resolved.tableServiceUri) throw new Error('the storage connection has no table service URI');
    return new TableClient(resolved.tableServiceUri, tableName, resolved.credential, options);
  }
  const { connectionString } = resolved;
  return TableClient.fromConnectionString(connectionString, tableName, {
    allowInsecureConnection: allowsPlainHttp(connectionString),
    ...options,
  });
}

/**
 * Plain http only where Azurite serves it: the development storage shortcut, or a table endpoint on the loopback.
 * Anything else keeps the SDK's refusal to send a request (and its Shared Key signature) over http.
 */
export function allowsPlainHttp(connectionString: string): boolean {
  const parts = connectionStringParts(connectionString);
  if (/^true$/i.test(parts.get('usedevelopmentstorage') ?? '')) return true;
  return isLoopbackHttpUrl(serviceEndpoint(parts, 'table'));
}

/** Creates the table if it is missing (start-up and tests; not on the request path). */
export async function ensureTable(client: TableClient): Promise<void> {
  try {
    await client.createTable();
  } catch (error) {
    if (storageStatus(error) !== 409) throw error;
  }
}

/**
 * Entities per entity-group transaction: the Table service refuses a batch of more than 100 operations
 * (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions).
 */
export const TRANSACTION_SIZE = 100;

/** Quotes a value for an OData filter (single quotes doubled). Only validated ids reach here anyway. */
export const odataString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * The Tables SDK's continuation token is base64 JSON; a caller's $skipToken is checked before the SDK sees it
 * so that a forged one is a 400, not a storage error.
 */
export function checkContinuationToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'nextPartitionKey' in parsed) return token;
  } catch {
    // fall through
  }
  throw invalidSkipToken();
}

/** A column that holds a value of `schema` as JSON text (a table stores no nested objects); `what` names it in the error. */
export const jsonColumn = <S extends z.ZodMiniType>(schema: S, what: string) =>
  z.pipe(
    z.string(),
    z.transform((text, ctx): z.output<S> => {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      ctx.issues.push({ code: 'custom', message: `bad ${what}`, input: text });
      return z.NEVER;
    }),
  );
