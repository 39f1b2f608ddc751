import { useState } from 'preact/hooks';
import { actionPath } from '../api';
import { roleReason, useConsole } from '../context';
import { formatDateTime, STATE_LABELS } from '../format';
import { usePagedList } from '../pagedList';
import { deviceHref, href, navigate } from '../router';
import { ACTION_STATES, type Action, ActionSchema, type ActionState, isWaitingForDevice, pageOf } from '../schemas';
import { describeError, ErrorMessage, Link, Loading, PageHeading } from '../ui';

const ActionPageSchema = pageOf(ActionSchema);
const PAGE_SIZE = 50;

const isActionState = (value: string): value is ActionState => (ACTION_STATES as readonly string[]).includes(value);

/** Device actions: every device's reset passcode actions, newest first, by state; a pending one can be canceled. */
export function ActionsPage({ query }: { query: URLSearchParams }) {
  const { api, can } = useConsole();
  const requested = query.get('state') ?? '';
  const state = isActionState(requested) ? requested : '';
  const [note, setNote] = useState<string | undefined>(undefined);
  const [reload, setReload] = useState(0);
  const filter = state ? `&actionState=${state}` : '';
  const {
    items: actions,
    setItems: setActions,
    nextLink,
    error,
    loadMore,
  } = usePagedList(
    api,
    ActionPageSchema,
    can('Devices.Read')
      ? `deviceManagement/deviceActionResults?$top=${PAGE_SIZE}&includePasscode=false${filter}`
      : undefined,
    reload,
  );

  const cancel = async (action: Action) => {
    setNote(undefined);
    try {
      const { body, status } = await api.request(ActionSchema, actionPath(action.deviceId, action.id), {
        method: 'DELETE',
      });
      setActions((current) => current?.map((a) => (a.id === body.id ? body : a)));
      // 202: the device channel was asked to cancel the command and has not confirmed yet.
      setNote(
        status === 202
          ? `Asked to cancel the passcode reset on ${action.deviceId}; it ends canceled once the device channel confirms.`
          : `Canceled the passcode reset on ${action.deviceId}.`,
      );
    } catch (e) {
      setNote(`The reset on ${action.deviceId} was not canceled: ${describeError(e)}`);
    }
  };

  const setState = (value: string) =>
    navigate(`${href('/actions')}${value ? `?state=${encodeURIComponent(value)}` : ''}`, { replace: true });

  if (!can('Devices.Read')) {
    return (
      <>
        <PageHeading title="Device actions">Device actions</PageHeading>
        <p class="message">{roleReason('Devices.Read', 'see device actions')}</p>
      </>
    );
  }
  const canCancel = can('Passcode.Reset');
  return (
    <>
      <PageHeading title="Device actions">Device actions</PageHeading>
      <form class="filters" aria-label="Filter device actions" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="action-state">State</label>
          <select id="action-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">All states</option>
            {ACTION_STATES.map((s) => (
              <option key={s} value={s}>
                {STATE_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <button type="button" class="secondary" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
      </form>
      {!canCancel && <p class="hint">{roleReason('Passcode.Reset', 'cancel a pending reset')}</p>}
      <ErrorMessage error={error} />
      {note && (
        <p class="message" role="status">
          {note}
        </p>
      )}
      {actions === undefined ? (
        error === undefined && <Loading what="device actions" />
      ) : actions.length === 0 ? (
        <p class="message">No device actions{state ? ` in state ${STATE_LABELS[state]}` : ''}.</p>
      ) : (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it
        <section class="table-wrap" aria-label="Device actions" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Action</th>
                <th scope="col">State</th>
                <th scope="col">Requested by</th>
                <th scope="col">Requested</th>
                <th scope="col">Last updated</th>
                <th scope="col">
                  <span class="visually-hidden">Cancel</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {actions.map((action) => (
                <tr key={action.id}>
                  <td>
                    <Link href={deviceHref(action.deviceId)}>{action.deviceId}</Link>
                  </td>
                  <td>Reset passcode</td>
                  <td>
                    <span class={`state ${action.actionState}`}>{STATE_LABELS[action.actionState]}</span>
                    {action.error && <span class="note">{action.error.message}</span>}
                  </td>
                  <td>{action.requestedBy}</td>
                  <td>{formatDateTime(action.startDateTime)}</td>
                  <td>{formatDateTime(action.lastUpdatedDateTime)}</td>
                  <td>
                    {(action.actionState === 'pending' || isWaitingForDevice(action)) && canCancel && (
                      <button
                        type="button"
                        class="secondary small"
                        aria-label={`Cancel the reset on ${action.deviceId}`}
                        onClick={() => cancel(action)}
                      >
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {nextLink && (
        <button type="button" class="secondary" onClick={loadMore}>
          Load more actions
        </button>
      )}
    </>
  );
}
