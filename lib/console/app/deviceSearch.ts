/** What the admin asked for on All devices: the search box's text and the platform filter ('' for all). */
export interface DeviceSearch {
  text: string;
  platform: string;
}

/** A string literal of OData: in quotes, a quote doubled (docs/API.md "Query options"). */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Whether the text searches users rather than device names: an address has an "@", a device name rarely does. The
 * API answers one prefix search per request (a name or a user, not both), so the console picks one.
 */
export const searchesUsers = (text: string) => text.includes('@');

/**
 * The `$filter` of a search: a case-insensitive prefix of the device name, or of the user when the text has an "@",
 * and the platform, joined by `and`. Undefined when nothing is asked: the plain list.
 */
export function deviceFilter({ text, platform }: DeviceSearch): string | undefined {
  const terms: string[] = [];
  const needle = text.trim();
  if (needle) {
    const property = searchesUsers(needle) ? 'userPrincipalName' : 'deviceName';
    terms.push(`startswith(${property},${literal(needle)})`);
  }
  if (platform) terms.push(`operatingSystem eq ${literal(platform)}`);
  return terms.length > 0 ? terms.join(' and ') : undefined;
}

/** The first page of a search of managedDevices (relative to /api); later pages follow `@odata.nextLink`. */
export function deviceListPath(search: DeviceSearch, top: number): string {
  const query = new URLSearchParams({ $top: String(top) });
  const filter = deviceFilter(search);
  if (filter !== undefined) query.set('$filter', filter);
  return `deviceManagement/managedDevices?${query.toString()}`;
}
