import { setTimeout as sleep } from 'node:timers/promises';
import { StorageUnavailableError } from '../core/errors';
import type { Logger } from '../ports';

export interface WaitForStorageOptions {
  /** How long to keep trying; below the function timeout, so that the invocation ends on its own terms. */
  budgetMs: number;
  log: Logger;
  sleep?: (ms: number) => Promise<unknown>;
  now?: () => number;
}

/** The function timeout in host.json is 5 minutes: wait for storage up to 4, then let the host retry the message. */
export const WORKER_STORAGE_WAIT_MS = 4 * 60_000;

/**
 * Runs queue work again while the app's storage is unavailable, backing off from 1 s to 15 s. The message's lease is
 * renewed by the host meanwhile, so a storage outage does not spend the message's delivery attempts (each failed
 * invocation would bring it closer to the poison queue). The work must be idempotent: the worker and the poison
 * handler are, step by step.
 */
export async function retryWhileStorageIsDown<T>(work: () => Promise<T>, options: WaitForStorageOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const pause = options.sleep ?? sleep;
  const started = now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      const delay = Math.min(15_000, 1_000 * 2 ** attempt);
      if (now() - started + delay > options.budgetMs) throw error;
      if (attempt === 0) options.log.warn('storage is unavailable; waiting for it before going on');
      await pause(delay);
    }
  }
}
