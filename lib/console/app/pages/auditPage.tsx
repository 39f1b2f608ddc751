import { useState } from 'preact/hooks';
import { roleReason, useConsole } from '../context';
import { EVENT_LABELS, formatDateTime } from '../format';
import { usePagedList } from '../pagedList';
import { deviceHref, href, navigate } from '../router';
import { AuditEventSchema, pageOf } from '../schemas';
import { ErrorMessage, Link, Loading, PageHeading } from '../ui';

const AuditPageSchema = pageOf(AuditEventSchema);

/** The audit trail, newest first: who requested, canceled and viewed passcode resets; optionally one device's. */
export function AuditPage({ query }: { query: URLSearchParams }) {
  const { api, can } = useConsole();
  const deviceId = query.get('deviceId') ?? '';
  const [deviceInput, setDeviceInput] = useState(deviceId);
  const filter = deviceId ? `&deviceId=${encodeURIComponent(deviceId)}` : '';
  const {
    items: events,
    nextLink,
    error,
    loadMore,
  } = usePagedList(
    api,
    AuditPageSchema,
    can('Audit.Read') ? `deviceManagement/auditEvents?$top=50${filter}` : undefined,
  );

  const applyFilter = (event: Event) => {
    event.preventDefault();
    const value = deviceInput.trim();
    navigate(`${href('/audit')}${value ? `?deviceId=${encodeURIComponent(value)}` : ''}`, { replace: true });
  };

  return (
    <>
      <PageHeading title="Audit log">Audit log</PageHeading>
      {!can('Audit.Read') ? (
        <p class="message">{roleReason('Audit.Read', 'read the audit log')}</p>
      ) : (
        <>
          <form class="filters" aria-label="Filter the audit log" onSubmit={applyFilter}>
            <div class="field">
              <label for="audit-device">Device ID</label>
              <input
                id="audit-device"
                value={deviceInput}
                autocomplete="off"
                onInput={(e) => setDeviceInput(e.currentTarget.value)}
              />
            </div>
            <button type="submit" class="secondary">
              Filter
            </button>
          </form>
          <ErrorMessage error={error} />
          {events === undefined ? (
            error === undefined && <Loading what="the audit log" />
          ) : events.length === 0 ? (
            <p class="message">No audit events{deviceId ? ` for ${deviceId}` : ''}.</p>
          ) : (
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it
            <section class="table-wrap" aria-label="Audit events" tabIndex={0}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Event</th>
                    <th scope="col">By</th>
                    <th scope="col">Device</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  {events.map((event) => (
                    <tr key={event.id}>
                      <td>{formatDateTime(event.eventDateTime)}</td>
                      <td>{EVENT_LABELS[event.eventType] ?? event.eventType}</td>
                      <td>{event.callerName}</td>
                      <td>
                        <Link href={deviceHref(event.deviceId)}>{event.deviceId}</Link>
                      </td>
                      <td>{event.outcome === 'success' ? 'Success' : 'Failure'}</td>
                      <td>{[event.detail, event.reason].filter(Boolean).join(' · ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          {nextLink && (
            <button type="button" class="secondary" onClick={loadMore}>
              Load more events
            </button>
          )}
        </>
      )}
    </>
  );
}
