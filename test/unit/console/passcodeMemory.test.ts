import { describe, expect, it } from 'vitest';
import {
  CLIPBOARD_CLEAR_MS,
  msUntilExpiry,
  type PasscodeClipboard,
  scheduleClipboardClear,
} from '../../../lib/console/app/passcodeMemory';

/** A clipboard that holds text, and may refuse access like a browser tab in the background. */
function fakeClipboard(text: string) {
  const state = { text, refuse: false, writes: [] as string[] };
  const clipboard: PasscodeClipboard = {
    readText: async () => {
      if (state.refuse) throw new Error('NotAllowedError: Document is not focused.');
      return state.text;
    },
    writeText: async (value) => {
      if (state.refuse) throw new Error('NotAllowedError: Document is not focused.');
      state.writes.push(value);
      state.text = value;
    },
  };
  return { state, clipboard };
}

/** A clock whose timers run only when told, and a page whose focus the test gives. */
function harness(text: string) {
  const { state, clipboard } = fakeClipboard(text);
  const timers: { run: () => void; ms: number }[] = [];
  const focusListeners: (() => void)[] = [];
  const done = (passcode: string) =>
    scheduleClipboardClear(passcode, {
      clipboard,
      schedule: (run, ms) => timers.push({ run, ms }),
      whenFocused: (retry) => focusListeners.push(retry),
    });
  return { state, timers, focusListeners, done };
}

describe('scheduleClipboardClear', () => {
  it('empties the clipboard after 30 s when it still holds the passcode', async () => {
    const { state, timers, done } = harness('482913');
    const cleared = done('482913');
    expect(timers.map((t) => t.ms)).toEqual([CLIPBOARD_CLEAR_MS]);
    expect(CLIPBOARD_CLEAR_MS).toBe(30_000);
    expect(state.text).toBe('482913');
    timers[0]?.run();
    await cleared;
    expect(state.text).toBe('');
  });

  it('leaves it alone when the admin copied something else since', async () => {
    const { state, timers, done } = harness('482913');
    const cleared = done('482913');
    state.text = 'ticket 4411';
    timers[0]?.run();
    await cleared;
    expect(state.text).toBe('ticket 4411');
    expect(state.writes).toEqual([]);
  });

  it('tries again when the page next gets focus, once, if the browser refused in the background', async () => {
    const { state, timers, focusListeners, done } = harness('482913');
    const cleared = done('482913');
    state.refuse = true;
    timers[0]?.run();
    await expect.poll(() => focusListeners.length).toBe(1);
    expect(state.text).toBe('482913');
    state.refuse = false;
    focusListeners[0]?.();
    await cleared;
    expect(state.text).toBe('');
  });

  it('gives up without emptying anything when the clipboard cannot be read at all', async () => {
    const { state, timers, focusListeners, done } = harness('482913');
    const cleared = done('482913');
    state.refuse = true;
    timers[0]?.run();
    await expect.poll(() => focusListeners.length).toBe(1);
    focusListeners[0]?.();
    await cleared;
    expect(state.writes).toEqual([]);
    expect(focusListeners).toHaveLength(1);
  });
});

describe('msUntilExpiry', () => {
  const now = Date.parse('2026-11-26T10:00:00.000Z');
  it('is the time left in the display window, 0 once it closed, undefined without one', () => {
    expect(msUntilExpiry('2026-11-26T10:00:30.000Z', now)).toBe(30_000);
    expect(msUntilExpiry('2026-11-26T09:59:59.000Z', now)).toBe(0);
    expect(msUntilExpiry('not a date', now)).toBe(0);
    expect(msUntilExpiry(undefined, now)).toBeUndefined();
  });

  it('never exceeds what one timer can wait (a longer setTimeout delay fires at once)', () => {
    expect(msUntilExpiry('2026-12-31T00:00:00.000Z', now)).toBe(2 ** 31 - 1);
  });
});
