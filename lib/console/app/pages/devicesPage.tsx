import { useEffect, useState } from 'preact/hooks';
import { ruleMatches } from '../../../core/supportMatrix';
import type { Api } from '../api';
import { roleReason, useConsole } from '../context';
import { deviceListPath, searchesUsers } from '../deviceSearch';
import { PLATFORM_LABELS } from '../format';
import { usePagedList } from '../pagedList';
import { deviceHref, href, navigate } from '../router';
import {
  type Device,
  DeviceSchema,
  OPERATING_SYSTEMS,
  pageOf,
  type SupportMatrix,
  SupportMatrixSchema,
} from '../schemas';
import { ErrorMessage, Link, Loading, PageHeading } from '../ui';
import { useDebouncedSearch } from '../useDebouncedSearch';

const PAGE_SIZE = 100;
const DevicePageSchema = pageOf(DeviceSchema);

let supportMatrix: Promise<SupportMatrix> | undefined;

/** The support rules, fetched once: their notes say why a platform is (not) supported. */
export function loadSupportMatrix(api: Api): Promise<SupportMatrix> {
  supportMatrix ??= api.request(SupportMatrixSchema, 'deviceManagement/resetPasscode/supportMatrix').then(
    (response) => response.body,
    (error: unknown) => {
      supportMatrix = undefined;
      throw error;
    },
  );
  return supportMatrix;
}

/** The note of the support rule that applies to a device (exactly one does). */
export function supportNote(matrix: SupportMatrix | undefined, device: Device): string | undefined {
  if (!matrix || !device.resetPasscodeSupport.supported) return device.resetPasscodeSupport.message;
  const { operatingSystem, osVersion } = device;
  const query = { operatingSystem, osVersion, azureADJoined: device.azureADJoined ?? false };
  return matrix.rules.find((rule) => ruleMatches(rule, query))?.note ?? device.resetPasscodeSupport.message;
}

/**
 * Devices → All devices: search as you type, platform filter, paging, reset support per device. The API searches the
 * whole fleet (docs/console.md "Search"); the page shows what it answers and follows its `@odata.nextLink`.
 */
export function DevicesPage({ query }: { query: URLSearchParams }) {
  const { api, can } = useConsole();
  const search = query.get('search') ?? '';
  const platform = query.get('platform') ?? '';
  const [matrix, setMatrix] = useState<SupportMatrix | undefined>(undefined);
  const {
    items: devices,
    nextLink,
    error,
    loadMore,
    loadingMore,
  } = usePagedList(
    api,
    DevicePageSchema,
    can('Devices.Read') ? deviceListPath({ text: search, platform }, PAGE_SIZE) : undefined,
  );

  useEffect(() => {
    if (!can('Devices.Read')) return;
    let live = true;
    loadSupportMatrix(api)
      .then((m) => live && setMatrix(m))
      .catch(() => undefined); // the devices still show, with the API's support message
    return () => {
      live = false;
    };
  }, []);

  const setFilter = (name: string, value: string) => {
    // The location now, not this render's: a search commits after its pause, when the platform may have changed.
    const next = new URLSearchParams(location.search);
    if (value) next.set(name, value);
    else next.delete(name);
    const search = next.toString();
    navigate(`${href('/devices')}${search ? `?${search}` : ''}`, { replace: true });
  };

  const box = useDebouncedSearch(search, (text) => setFilter('search', text));

  return (
    <>
      <PageHeading title="All devices">All devices</PageHeading>
      {!can('Devices.Read') ? (
        <p class="message">{roleReason('Devices.Read', 'see devices')}</p>
      ) : (
        <>
          <form
            class="filters"
            aria-label="Find devices"
            onSubmit={(e) => {
              e.preventDefault();
              box.flush();
            }}
          >
            <div class="field">
              <label for="device-search">Search by name or user</label>
              <input
                id="device-search"
                type="search"
                value={box.text}
                autocomplete="off"
                spellcheck={false}
                aria-describedby="device-search-hint"
                onInput={(e) => box.onInput(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="device-platform">Platform</label>
              <select
                id="device-platform"
                value={platform}
                onChange={(e) => setFilter('platform', e.currentTarget.value)}
              >
                <option value="">All platforms</option>
                {OPERATING_SYSTEMS.map((os) => (
                  <option key={os} value={os}>
                    {PLATFORM_LABELS[os]}
                  </option>
                ))}
              </select>
            </div>
          </form>
          <p class="hint" id="device-search-hint">
            Finds the devices whose name starts with what you type; with an @, those whose user's address does.
          </p>
          <ErrorMessage error={error} />
          {devices === undefined ? (
            error === undefined && <Loading what="devices" />
          ) : (
            <>
              <output class="count">{countText(devices.length, search, platform, nextLink !== undefined)}</output>
              {devices.length > 0 && <DeviceTable devices={devices} matrix={matrix} />}
              {nextLink && (
                <button type="button" class="secondary" onClick={loadMore} disabled={loadingMore}>
                  {loadingMore ? 'Loading…' : 'Load more devices'}
                </button>
              )}
            </>
          )}
        </>
      )}
    </>
  );
}

/** What the list holds, and the empty state: which search found nothing, and how the search reads the text. */
function countText(loaded: number, search: string, platform: string, more: boolean): string {
  const needle = search.trim();
  const os = OPERATING_SYSTEMS.find((name) => name === platform);
  const kind = os ? `${PLATFORM_LABELS[os]} ` : '';
  const devices = (n: number) => `${n} ${kind}${n === 1 ? 'device' : 'devices'}`;
  const what = searchesUsers(needle) ? 'user starts with' : 'name starts with';
  const found = needle ? ` whose ${what} “${needle}”` : '';
  if (loaded === 0) return needle || kind ? `No ${kind}devices${found}.` : 'No devices yet.';
  return more ? `${devices(loaded)}${found} shown; more to load.` : `${devices(loaded)}${found}.`;
}

function DeviceTable({ devices, matrix }: { devices: Device[]; matrix: SupportMatrix | undefined }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it
    <section class="table-wrap" aria-label="Devices" tabIndex={0}>
      <table>
        <thead>
          <tr>
            <th scope="col">Device name</th>
            <th scope="col">Primary user</th>
            <th scope="col">Platform</th>
            <th scope="col">OS version</th>
            <th scope="col">Reset passcode</th>
          </tr>
        </thead>
        <tbody>
          {devices.map((device) => (
            <tr key={device.id}>
              <td>
                <Link href={deviceHref(device.id)}>{device.deviceName}</Link>
              </td>
              <td>{device.userPrincipalName ?? '—'}</td>
              <td>{PLATFORM_LABELS[device.operatingSystem]}</td>
              <td>{device.osVersion}</td>
              <td>
                <SupportBadge supported={device.resetPasscodeSupport.supported} />
                <span class="note">{supportNote(matrix, device)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function SupportBadge({ supported }: { supported: boolean }) {
  return <span class={`badge ${supported ? 'ok' : 'off'}`}>{supported ? 'Supported' : 'Not supported'}</span>;
}
