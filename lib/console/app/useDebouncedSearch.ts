import { useEffect, useRef, useState } from 'preact/hooks';

/** How long the search waits after the last keystroke before it asks the API (search as you type). */
const SEARCH_DEBOUNCE_MS = 250;

/**
 * The search box's text, which follows every keystroke, and `commit`, called with it once the admin has paused for
 * SEARCH_DEBOUNCE_MS (or pressed Enter: `flush`). `committed` is the search in force (the page's URL): when it
 * changes from elsewhere (back, forward), the box follows it.
 */
export function useDebouncedSearch(committed: string, commit: (text: string) => void) {
  const [text, setText] = useState(committed);
  const sent = useRef(committed);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    if (committed === sent.current) return;
    sent.current = committed;
    clearTimeout(timer.current);
    setText(committed);
  }, [committed]);

  useEffect(() => () => clearTimeout(timer.current), []);

  const onInput = (value: string) => {
    setText(value);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      // Spaces at either end do not change the search: no request for them.
      if (value.trim() === sent.current.trim()) return;
      sent.current = value;
      commit(value);
    }, SEARCH_DEBOUNCE_MS);
  };

  /** Enter: search now, without waiting for the pause. */
  const flush = () => {
    clearTimeout(timer.current);
    if (text.trim() === sent.current.trim()) return;
    sent.current = text;
    commit(text);
  };

  return { text, onInput, flush };
}
