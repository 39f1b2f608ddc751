import { invalidFields } from './errors';
import { type FilterTerm, notSupported, termOn } from './graphQuery';
import { type Device, OPERATING_SYSTEMS, type OperatingSystem } from './model';

/**
 * A search of the device inventory, as the stores answer it: at most one of id, a name prefix, or a user (exact or
 * prefix), each optionally narrowed to one operating system. Names and users compare without regard to case, as an
 * admin types them.
 */
export interface DeviceQuery {
  id?: string;
  operatingSystem?: OperatingSystem;
  deviceNamePrefix?: string;
  userPrincipalName?: { value: string; prefix: boolean };
}

/** What `$select` on managedDevices takes: every property of a managed device (docs/API.md). */
export const DEVICE_PROPERTIES = [
  'id',
  'deviceName',
  'operatingSystem',
  'osVersion',
  'azureADJoined',
  'userPrincipalName',
  'passcodePolicy',
  'createdDateTime',
  'lastUpdatedDateTime',
  'androidManagement',
  'resetPasscodeSupport',
  'lastResetPasscode',
  'deviceActionResults',
] as const;

/** What `$filter` on managedDevices takes (docs/API.md "Query options"). */
export const DEVICE_FILTER = {
  eq: ['id', 'operatingSystem', 'userPrincipalName'],
  startswith: ['deviceName', 'userPrincipalName'],
} as const;

/**
 * Turns `$filter` terms (and the older `operatingSystem=` parameter) into a DeviceQuery. Every query is answered from
 * one key range of an index (docs/architecture.md "Finding a device"), so a name prefix and a user cannot be combined,
 * except under an `id eq`, which reads one device.
 */
export function deviceQueryOf(terms: FilterTerm[], operatingSystemParameter?: OperatingSystem): DeviceQuery {
  const id = termOn(terms, 'id')?.value;
  const os = termOn(terms, 'operatingSystem');
  const name = termOn(terms, 'deviceName');
  const user = termOn(terms, 'userPrincipalName');
  if (name && user && id === undefined) {
    throw notSupported('filter on deviceName or on userPrincipalName, not both (each search reads one index)');
  }
  const operatingSystem = os ? operatingSystemOf(os.value) : operatingSystemParameter;
  if (operatingSystemParameter && operatingSystem !== operatingSystemParameter) {
    throw notSupported('operatingSystem= and $filter name different operating systems');
  }
  return {
    ...(id !== undefined && { id }),
    ...(operatingSystem && { operatingSystem }),
    ...(name && { deviceNamePrefix: name.value }),
    ...(user && { userPrincipalName: { value: user.value, prefix: user.operator === 'startswith' } }),
  };
}

/** An operating system as Graph writes it, in any case ('ios' is iOS). */
function operatingSystemOf(value: string): OperatingSystem {
  const found = OPERATING_SYSTEMS.find((os) => os.toLowerCase() === value.toLowerCase());
  if (found) return found;
  throw invalidFields([
    { code: 'invalidValue', message: `operatingSystem is one of ${OPERATING_SYSTEMS.join(', ')}`, target: '$filter' },
  ]);
}

/** Whether a device answers the query (a store's final check, and the in-memory store's whole search). */
export function deviceMatches(device: Device, query: DeviceQuery): boolean {
  const folded = (text: string | undefined) => (text ?? '').toLowerCase();
  if (query.id !== undefined && device.id !== query.id) return false;
  if (query.operatingSystem && device.operatingSystem !== query.operatingSystem) return false;
  if (query.deviceNamePrefix !== undefined && !folded(device.deviceName).startsWith(folded(query.deviceNamePrefix)))
    return false;
  const user = query.userPrincipalName;
  if (user) {
    const upn = folded(device.userPrincipalName);
    if (device.userPrincipalName === undefined) return false;
    if (user.prefix ? !upn.startsWith(folded(user.value)) : upn !== folded(user.value)) return false;
  }
  return true;
}

/**
 * Index row keys sort a device under its name and its user, in lower case, percent-encoded byte by byte (row keys
 * cannot hold `/ \ # ?` or control characters) so that a typed prefix is a key prefix. Each is kept once for the
 * whole fleet and once per operating system. The encoded text is cut at MAX_KEY_TEXT: a row key holds at most 1 KiB.
 */
const MAX_KEY_TEXT = 600;
const KEPT = /[A-Za-z0-9_.!*'()-]/;
export function keyText(text: string): string {
  let encoded = '';
  for (const byte of Buffer.from(text.toLowerCase(), 'utf8')) {
    const c = String.fromCharCode(byte);
    const piece = KEPT.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    if (encoded.length + piece.length > MAX_KEY_TEXT) break;
    encoded += piece;
  }
  return encoded;
}

/** Index keys start with "~", which no device id has, so they sort after every device row of the partition. */
export const INDEX_KEY_START = '~';
const indexName = (kind: 'name' | 'upn', os?: OperatingSystem) => `${INDEX_KEY_START}${kind}${os ? `.${os}` : ''}|`;
/** Ends a key's text; "|" is not in the encoded alphabet, and "~" sorts after all of it. */
const END = '|';
const AFTER = '~';

/** Every index row key of a device. */
export function deviceIndexKeys(device: Device): string[] {
  const keys: string[] = [];
  for (const os of [undefined, device.operatingSystem]) {
    keys.push(`${indexName('name', os)}${keyText(device.deviceName)}${END}${device.id}`);
    if (device.userPrincipalName !== undefined) {
      keys.push(`${indexName('upn', os)}${keyText(device.userPrincipalName)}${END}${device.id}`);
    }
  }
  return keys;
}

/**
 * Where a query is answered: one device (`id`), a row-key range of an index (`from` inclusive, `to` exclusive), or the
 * device rows themselves in id order (`devices`).
 */
export type DeviceQueryPlan =
  | { kind: 'id'; id: string }
  | { kind: 'index'; from: string; to: string }
  | { kind: 'devices' };

export function planDeviceQuery(query: DeviceQuery): DeviceQueryPlan {
  if (query.id !== undefined) return { kind: 'id', id: query.id };
  const os = query.operatingSystem;
  if (query.userPrincipalName) {
    const { value, prefix } = query.userPrincipalName;
    const start = `${indexName('upn', os)}${keyText(value)}${prefix ? '' : END}`;
    return { kind: 'index', from: start, to: `${start}${AFTER}` };
  }
  if (query.deviceNamePrefix !== undefined || os) {
    const start = `${indexName('name', os)}${keyText(query.deviceNamePrefix ?? '')}`;
    return { kind: 'index', from: start, to: `${start}${AFTER}` };
  }
  return { kind: 'devices' };
}
