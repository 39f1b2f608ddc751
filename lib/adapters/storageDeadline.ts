import { AsyncLocalStorage } from 'node:async_hooks';
import { type PipelinePolicy, RestError } from '@azure/core-rest-pipeline';
import { StorageUnavailableError } from '../core/errors';

/**
 * Time limits on storage calls. Without them a storage account that accepts connections but does not answer (an
 * outage, a throttled partition) makes every request hang until the caller gives up, and the caller cannot tell
 * "try again" from "broken". Each try gets PER_TRY_MS; a caller may also set a deadline for all the storage calls
 * it makes (an HTTP request's budget), after which no new try starts and the call fails as StorageUnavailableError.
 */
export const PER_TRY_MS = 5_000;

/**
 * The retry settings of every storage client (the Tables SDK and the queue client, both on core-rest-pipeline), used
 * with the per-try timeout below: 3 tries, a few quick retries, never minutes of back-off.
 */
export const STORAGE_RETRY_OPTIONS = { maxRetries: 2, retryDelayInMs: 300, maxRetryDelayInMs: 1_500 };

const deadlines = new AsyncLocalStorage<number>();

/** Runs `work` with a deadline for every storage call it makes, `budgetMs` from now. */
const withStorageDeadline = <T>(budgetMs: number, work: () => Promise<T>): Promise<T> =>
  deadlines.run(Date.now() + budgetMs, work);

/** Milliseconds left before the current deadline (Infinity when none is set). */
const remainingMs = () => {
  const deadline = deadlines.getStore();
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
};

/**
 * A per-try policy for the storage pipelines (core-rest-pipeline): bounds each try, and turns a timed-out try into the
 * retriable network error (ETIMEDOUT) the pipeline's retry strategy knows, instead of an AbortError it would not retry.
 */
export const storageTimeoutPolicy: PipelinePolicy = {
  name: 'storageTimeouts',
  async sendRequest(request, next) {
    const left = remainingMs();
    if (left <= 0) throw new StorageUnavailableError('storage did not answer in time');
    request.timeout = Math.min(PER_TRY_MS, left);
    try {
      return await next(request);
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError' && !request.abortSignal?.aborted) {
        throw new RestError('the storage request timed out', { code: 'ETIMEDOUT', request });
      }
      throw error;
    }
  },
};

/** Races `work` against `budgetMs`: past it, a StorageUnavailableError (the caller answers 503 with Retry-After). */
export function withinBudget<T>(budgetMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StorageUnavailableError('storage did not answer in time')), budgetMs);
  });
  return Promise.race([withStorageDeadline(budgetMs, work), late]).finally(() => clearTimeout(timer));
}
