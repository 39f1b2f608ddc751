import type { HttpRequest } from '@azure/functions';

/** Absolute URL of an action's status monitor, carrying a signed link for credential-less polling. */
export function statusMonitorUrl(request: HttpRequest, deviceId: string, actionId: string, sig: string): string {
  const url = new URL(
    `/api/deviceManagement/managedDevices/${encodeURIComponent(deviceId)}/deviceActionResults/${encodeURIComponent(actionId)}`,
    request.url,
  );
  url.searchParams.set('sig', sig);
  return url.toString();
}

/** The @odata.nextLink for a page: this request's URL with the continuation as $skipToken. */
export function nextLink(request: HttpRequest, nextToken: string | undefined): { '@odata.nextLink'?: string } {
  if (!nextToken) return {};
  const url = new URL(request.url);
  url.searchParams.set('$skipToken', nextToken);
  // Keep OData's "$" readable ($top, $skipToken), as Graph's nextLinks do; URLSearchParams would write %24.
  url.search = [...url.searchParams]
    .map(([key, value]) => `${encodeURIComponent(key).replace(/^%24/, '$')}=${encodeURIComponent(value)}`)
    .join('&');
  return { '@odata.nextLink': url.toString() };
}
