import { useEffect, useRef, useState } from 'preact/hooks';
import type * as z from 'zod/mini';
import type { Api } from './api';

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string | undefined;
}

/**
 * A list the API returns page by page (docs/API.md "Paging"): the first page of `firstPage` (none while it is
 * undefined, for a caller without the role), loaded again whenever the URL or `reload` changes; `loadMore` follows
 * `@odata.nextLink`. When the list changes, its requests still in flight (first page or "load more") are aborted, so
 * that an answer for an earlier search can never land in the list of a later one.
 */
export function usePagedList<T>(api: Api, schema: z.ZodMiniType<Page<T>>, firstPage: string | undefined, reload = 0) {
  const [items, setItems] = useState<T[] | undefined>(undefined);
  const [nextLink, setNextLink] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const current = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    if (firstPage === undefined) return;
    const controller = new AbortController();
    current.current = controller;
    const { signal } = controller;
    setItems(undefined);
    setNextLink(undefined);
    setError(undefined);
    setLoadingMore(false);
    api
      .request(schema, firstPage, { signal })
      .then(({ body }) => {
        if (signal.aborted) return;
        setItems(body.value);
        setNextLink(body['@odata.nextLink']);
      })
      .catch((e: unknown) => signal.aborted || setError(e));
    return () => controller.abort();
  }, [firstPage, reload]);

  const loadMore = async () => {
    const signal = current.current?.signal;
    if (!nextLink || !signal) return;
    setLoadingMore(true);
    try {
      const { body } = await api.request(schema, nextLink, { signal });
      if (signal.aborted) return;
      setItems((loaded) => [...(loaded ?? []), ...body.value]);
      setNextLink(body['@odata.nextLink']);
    } catch (e) {
      if (!signal.aborted) setError(e);
    } finally {
      if (!signal.aborted) setLoadingMore(false);
    }
  };

  return { items, setItems, nextLink, error, loadMore, loadingMore };
}
