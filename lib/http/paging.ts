import type { HttpResponseInit } from '@azure/functions';
import type { RequestContext } from './endpoint';
import { json } from './responses';
import { nextLink } from './urls';

type Context = Pick<RequestContext<unknown>, 'request' | 'deps'>;

/** The store continuation inside a caller's `$skipToken` for the list `scope` (a 400 for a forged or altered one). */
export const openSkipToken = async ({ deps }: Context, scope: string, token: string | undefined) =>
  token === undefined ? undefined : deps.pageTokens.open(scope, token);

/** A list page: `{ value, @odata.nextLink? }`, the next link carrying a signed `$skipToken`. */
export async function pageResponse(
  { request, deps }: Context,
  scope: string,
  page: { items: unknown[]; nextToken?: string },
  headers: Record<string, string> = {},
  annotations: Record<string, unknown> = {},
): Promise<HttpResponseInit> {
  const token = page.nextToken === undefined ? undefined : await deps.pageTokens.sign(scope, page.nextToken);
  const link = nextLink(request, deps.config.PUBLIC_BASE_URL, token);
  return json(200, { ...annotations, value: page.items, ...link }, headers);
}
