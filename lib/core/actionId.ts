/**
 * Action ids sort newest first: 13 digits of (MAX - milliseconds since epoch), then randomness.
 * Table Storage returns rows in row-key order, so a device's actions and the all-devices feed list
 * newest first without sorting, and "actions since T" is a row-key range.
 */
const MAX_MS = 9_999_999_999_999;

const invertedTime = (date: Date) => String(MAX_MS - date.getTime()).padStart(13, '0');

/** A new action id for a request made at `now`; `randomHex` must be fresh cryptographic randomness. */
export const newActionId = (now: Date, randomHex: string): string => `${invertedTime(now)}-${randomHex}`;

/** Every id of an action started after `since` sorts before this bound. */
export const actionIdUpperBoundFor = (since: Date): string => invertedTime(since);
