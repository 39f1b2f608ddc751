import { useEffect, useMemo, useState } from 'preact/hooks';
import { ruleMatches } from '../../../core/supportMatrix';
import type { Api } from '../api';
import { roleReason, useConsole } from '../context';
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

const matches = (device: Device, search: string) => {
  const needle = search.trim().toLowerCase();
  if (!needle) return true;
  return [device.deviceName, device.userPrincipalName ?? '', device.id].some((text) =>
    text.toLowerCase().includes(needle),
  );
};

/** Devices → All devices: search, platform filter, paging, reset support per device. */
export function DevicesPage({ query }: { query: URLSearchParams }) {
  const { api, can } = useConsole();
  const search = query.get('search') ?? '';
  const platform = query.get('platform') ?? '';
  const [matrix, setMatrix] = useState<SupportMatrix | undefined>(undefined);
  const filter = platform ? `&operatingSystem=${encodeURIComponent(platform)}` : '';
  const {
    items: devices,
    nextLink,
    error,
    loadMore,
    loadingMore,
  } = usePagedList(
    api,
    DevicePageSchema,
    can('Devices.Read') ? `deviceManagement/managedDevices?$top=${PAGE_SIZE}${filter}` : undefined,
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
    const next = new URLSearchParams(query);
    if (value) next.set(name, value);
    else next.delete(name);
    const search = next.toString();
    navigate(`${href('/devices')}${search ? `?${search}` : ''}`, { replace: true });
  };

  const shown = useMemo(() => devices?.filter((d) => matches(d, search)), [devices, search]);

  return (
    <>
      <PageHeading title="All devices">All devices</PageHeading>
      {!can('Devices.Read') ? (
        <p class="message">{roleReason('Devices.Read', 'see devices')}</p>
      ) : (
        <>
          <form class="filters" aria-label="Find devices" onSubmit={(e) => e.preventDefault()}>
            <div class="field">
              <label for="device-search">Search by name or user</label>
              <input
                id="device-search"
                type="search"
                value={search}
                autocomplete="off"
                onInput={(e) => setFilter('search', e.currentTarget.value)}
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
          <ErrorMessage error={error} />
          {shown === undefined ? (
            error === undefined && <Loading what="devices" />
          ) : (
            <>
              <output class="count">
                {countText(shown.length, devices?.length ?? 0, search, nextLink !== undefined)}
              </output>
              {shown.length > 0 && <DeviceTable devices={shown} matrix={matrix} />}
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

function countText(shown: number, loaded: number, search: string, more: boolean): string {
  const devices = (n: number) => `${n} ${n === 1 ? 'device' : 'devices'}`;
  if (!search.trim()) return more ? `${devices(loaded)} shown; more to load.` : `${devices(loaded)}.`;
  const found = `match “${search.trim()}”`;
  if (more) return `${shown} of the ${devices(loaded)} loaded so far ${found}; load more to search further.`;
  return `${shown} of ${devices(loaded)} ${found}.`;
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
