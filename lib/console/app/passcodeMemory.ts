// How long the console keeps a passcode it was given: no longer than the admin looks at it. Kept free of the DOM so
// that the unit tests run it with a fake clipboard and clock.

/** A copied passcode is taken off the clipboard after this long, unless something else was copied since. */
export const CLIPBOARD_CLEAR_MS = 30_000;

// setTimeout takes a 32-bit signed delay; a longer one fires at once.
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Milliseconds until the display window ending at `expiry` closes (0 once it has), at most what one timer can wait:
 * a timer that fires early is set again. Undefined when there is no expiry.
 */
export function msUntilExpiry(expiry: string | undefined, now: number): number | undefined {
  if (expiry === undefined) return undefined;
  const left = new Date(expiry).getTime() - now;
  return Number.isNaN(left) ? 0 : Math.min(Math.max(left, 0), LONGEST_TIMER_MS);
}

/** The part of the Clipboard API used here (navigator.clipboard). */
export interface PasscodeClipboard {
  readText(): Promise<string>;
  writeText(text: string): Promise<void>;
}

export interface ClipboardClearOptions {
  clipboard: PasscodeClipboard;
  /** setTimeout, or a test's clock. */
  schedule: (run: () => void, ms: number) => unknown;
  /** Runs `retry` once when the page next gets focus: browsers refuse clipboard access to a page in the background. */
  whenFocused: (retry: () => void) => void;
  delayMs?: number;
}

/**
 * After CLIPBOARD_CLEAR_MS, empties the clipboard if it still holds `passcode`. When the browser will not let the page
 * read the clipboard, it is left as it is: emptying it blindly could throw away what the admin copied since.
 */
export function scheduleClipboardClear(passcode: string, options: ClipboardClearOptions): Promise<void> {
  return new Promise((resolve) => {
    const attempt = async (mayRetry: boolean) => {
      try {
        if ((await options.clipboard.readText()) === passcode) await options.clipboard.writeText('');
        resolve();
      } catch {
        if (mayRetry) options.whenFocused(() => void attempt(false));
        else resolve();
      }
    };
    options.schedule(() => void attempt(true), options.delayMs ?? CLIPBOARD_CLEAR_MS);
  });
}
