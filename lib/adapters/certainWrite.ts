import { StorageUnavailableError } from '../core/errors';
import { isTransientStorageError, storageStatus } from './storageErrors';

/**
 * What a retried write answers when its own earlier try (whose answer was lost) already committed: a create meets its
 * entity (409), a conditional replace its new ETag (412), a delete finds nothing to delete (404).
 */
const MET_ITSELF = new Set([404, 409, 412]);

/**
 * Runs a storage write whose answer may be lost. Azure Storage can commit a write and still fail to deliver the
 * answer (a timeout, a reset connection, a 503 from a front end after the back end committed); the client then either
 * gives up (the outcome is unknown) or retries, and the retry meets its own first try. Whenever a write fails in one of
 * those ways, `readBack` reads the entity and answers the write's result if the stored entity is already what this write
 * meant, or undefined. Only a positive read-back turns a failure into success; otherwise the write's own error stands,
 * so no caller ever guesses (docs/DESIGN.md invariant 9). Every store write goes through here.
 */
export async function certainWrite<T>(write: () => Promise<T>, readBack: () => Promise<T | undefined>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!mayHaveCommitted(error)) throw error;
    let written: T | undefined;
    try {
      written = await readBack();
    } catch {
      throw error;
    }
    if (written === undefined) throw error;
    return written;
  }
}

/** Whether a failed storage call may have committed: it met itself, or its answer never came. */
const mayHaveCommitted = (error: unknown): boolean => {
  const status = storageStatus(error);
  return (
    (status !== undefined && MET_ITSELF.has(status)) ||
    isTransientStorageError(error) ||
    error instanceof StorageUnavailableError
  );
};

/** Field-by-field equality of two JSON-like values, whatever order their fields were written in. */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
