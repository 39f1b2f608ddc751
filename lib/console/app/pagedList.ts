import { useEffect, useState } from 'preact/hooks';
import type * as z from 'zod/mini';
import type { Api } from './api';

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string | undefined;
}

/**
 * A list the API returns page by page (docs/API.md "Paging"): the first page of `firstPage` (none while it is
 * undefined, for a caller without the role), loaded again whenever the URL or `reload` changes; `loadMore` follows
 * `@odata.nextLink`. An answer that comes back after the list changed is dropped.
 */
export function usePagedList<T>(api: Api, schema: z.ZodMiniType<Page<T>>, firstPage: string | undefined, reload = 0) {
  const [items, setItems] = useState<T[] | undefined>(undefined);
  const [nextLink, setNextLink] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    if (firstPage === undefined) return;
    let live = true;
    setItems(undefined);
    setError(undefined);
    api
      .request(schema, firstPage)
      .then(({ body }) => {
        if (!live) return;
        setItems(body.value);
        setNextLink(body['@odata.nextLink']);
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [firstPage, reload]);

  const loadMore = async () => {
    if (!nextLink) return;
    setLoadingMore(true);
    try {
      const { body } = await api.request(schema, nextLink);
      setItems((current) => [...(current ?? []), ...body.value]);
      setNextLink(body['@odata.nextLink']);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  return { items, setItems, nextLink, error, loadMore, loadingMore };
}
