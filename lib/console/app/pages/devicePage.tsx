import { useEffect, useRef, useState } from 'preact/hooks';
import { type Api, ApiRequestError, actionPath, devicePath, followAction, withQuery } from '../api';
import { roleReason, useConsole } from '../context';
import { describePolicy, formatDateTime, isInFlight, PLATFORM_LABELS, STATE_LABELS } from '../format';
import { CLIPBOARD_CLEAR_MS, msUntilExpiry, scheduleClipboardClear } from '../passcodeMemory';
import { href } from '../router';
import {
  type Action,
  ActionSchema,
  type Device,
  DeviceSchema,
  hasPasscode,
  isWaitingForDevice,
  type SupportMatrix,
} from '../schemas';
import { describeError, ErrorMessage, Link, Loading, PageHeading } from '../ui';
import { loadSupportMatrix, SupportBadge, supportNote } from './devicesPage';

/** A device's Overview: its facts, reset support, the Reset passcode action, its progress and the new passcode. */
export function DevicePage({ deviceId }: { deviceId: string }) {
  const { api, can } = useConsole();
  const [device, setDevice] = useState<Device | undefined>(undefined);
  const [action, setAction] = useState<Action | undefined>(undefined);
  const [matrix, setMatrix] = useState<SupportMatrix | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [monitor, setMonitor] = useState<{ location: string; retryAfter: string | null } | undefined>(undefined);

  useEffect(() => {
    let live = true;
    setDevice(undefined);
    setError(undefined);
    api
      .request(DeviceSchema, `${devicePath(deviceId)}?includePasscode=false`)
      .then(({ body }) => {
        if (!live) return;
        setDevice(body);
        setAction(body.lastResetPasscode);
        // A reset already in flight is followed like one started here.
        if (body.lastResetPasscode && isInFlight(body.lastResetPasscode.actionState)) {
          setMonitor({ location: actionPath(deviceId, body.lastResetPasscode.id), retryAfter: '0' });
        }
      })
      .catch((e: unknown) => live && setError(e));
    loadSupportMatrix(api)
      .then((m) => live && setMatrix(m))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [deviceId]);

  useFollow(api, monitor, setAction, setError);

  if (device === undefined) {
    return (
      <>
        <PageHeading title="Device">Device</PageHeading>
        {error === undefined ? <Loading what="the device" /> : <ErrorMessage error={error} />}
      </>
    );
  }
  const started = (accepted: Action, location: string, retryAfter: string | null) => {
    setAction(accepted);
    setMonitor({ location, retryAfter });
  };
  return (
    <>
      <PageHeading title={device.deviceName}>{device.deviceName}</PageHeading>
      <p class="subtitle">Overview</p>
      <ResetToolbar device={device} action={action} onStarted={started} />
      <ErrorMessage error={error} />
      {action && <ActionPanel device={device} action={action} onChanged={setAction} />}
      <section aria-labelledby="facts-heading">
        <h2 id="facts-heading">Essentials</h2>
        <dl class="facts">
          <Fact term="Device name" value={device.deviceName} />
          <Fact term="Device ID" value={device.id} />
          <Fact term="Primary user" value={device.userPrincipalName ?? '—'} />
          <Fact term="Platform" value={PLATFORM_LABELS[device.operatingSystem]} />
          <Fact term="OS version" value={device.osVersion} />
          <Fact term="Azure AD joined" value={device.azureADJoined ? 'Yes' : 'No'} />
          <Fact term="Passcode policy" value={describePolicy(device.passcodePolicy)} />
          {device.androidManagement && (
            <>
              <Fact term="Management" value={MANAGEMENT_LABELS[device.androidManagement.managementMode]} />
              <Fact term="Device state" value={device.androidManagement.state} />
              <Fact
                term="Last contact"
                value={formatDateTime(device.androidManagement.lastStatusReportDateTime) || '—'}
              />
            </>
          )}
          <Fact term="Last updated" value={formatDateTime(device.lastUpdatedDateTime)} />
        </dl>
      </section>
      <section aria-labelledby="support-heading">
        <h2 id="support-heading">Reset passcode support</h2>
        <p>
          <SupportBadge supported={device.resetPasscodeSupport.supported} /> {supportNote(matrix, device)}
        </p>
      </section>
      {can('Audit.Read') && (
        <p>
          <Link href={`${href('/audit')}?deviceId=${encodeURIComponent(device.id)}`}>Audit log of this device</Link>
        </p>
      )}
    </>
  );
}

function Fact({ term, value }: { term: string; value: string }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </div>
  );
}

/** Polls the status monitor while an action is in flight; stops when the page goes. */
function useFollow(
  api: Api,
  monitor: { location: string; retryAfter: string | null } | undefined,
  onUpdate: (action: Action) => void,
  onError: (error: unknown) => void,
) {
  useEffect(() => {
    if (!monitor) return;
    const controller = new AbortController();
    followAction(api, monitor, onUpdate, controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) onError(error);
    });
    return () => controller.abort();
  }, [monitor]);
}

/** The remote actions bar: Reset passcode, or why it is not offered. */
function ResetToolbar(props: {
  device: Device;
  action: Action | undefined;
  onStarted: (action: Action, location: string, retryAfter: string | null) => void;
}) {
  const { can } = useConsole();
  const { device, action } = props;
  const [open, setOpen] = useState(false);
  // Each opening mounts a fresh dialog, even when a close and a reopen land in one render.
  const [opened, setOpened] = useState(0);
  const button = useRef<HTMLButtonElement>(null);
  // The focus goes back to the button that opened the dialog, whatever closed it (Escape, Cancel, a started reset):
  // browsers restore it on close, but not all of them, and not when the page re-renders meanwhile.
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  if (!device.resetPasscodeSupport.supported) {
    // An unsupported device offers no action, and says why (the support rule's note).
    return (
      <div class="toolbar">
        <p class="message" id="reset-unavailable">
          <SupportBadge supported={false} /> {device.resetPasscodeSupport.message}
        </p>
      </div>
    );
  }
  const inFlight = action !== undefined && isInFlight(action.actionState);
  const reason = !can('Passcode.Reset')
    ? roleReason('Passcode.Reset', 'reset passcodes')
    : inFlight
      ? 'A passcode reset is already in progress on this device.'
      : undefined;
  return (
    <div class="toolbar">
      <button
        ref={button}
        type="button"
        class="primary"
        aria-disabled={reason ? 'true' : undefined}
        aria-describedby={reason ? 'reset-reason' : undefined}
        onClick={() => {
          if (reason) return;
          setOpened((n) => n + 1);
          setOpen(true);
        }}
      >
        Reset passcode
      </button>
      {reason && (
        <span class="reason" id="reset-reason">
          {reason}
        </span>
      )}
      {open && <ResetDialog key={opened} device={device} onClose={close} onStarted={props.onStarted} />}
    </div>
  );
}

/** The confirmation: an optional reason, then Reset. A native modal dialog traps focus and closes with Escape. */
function ResetDialog(props: {
  device: Device;
  onClose: () => void;
  onStarted: (action: Action, location: string, retryAfter: string | null) => void;
}) {
  const { api } = useConsole();
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  // One key per confirmation: a retried request (a lost answer) is the same reset, not a second one (API.md).
  const [idempotencyKey] = useState(() => crypto.randomUUID());

  useEffect(() => {
    ref.current?.showModal();
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const trimmed = reason.trim();
      const response = await api.request(ActionSchema, `${devicePath(props.device.id)}/resetPasscode`, {
        method: 'POST',
        body: trimmed ? { reason: trimmed } : {},
        headers: { 'Idempotency-Key': idempotencyKey },
      });
      const location = response.headers.get('Location') ?? actionPath(props.device.id, response.body.id);
      props.onStarted(response.body, location, response.headers.get('Retry-After'));
      ref.current?.close();
    } catch (e) {
      // Another reset got there first: follow that one instead.
      if (e instanceof ApiRequestError && e.code === 'actionInProgress' && e.location) {
        props.onStarted(await currentAction(api, e.location), e.location, '0');
        ref.current?.close();
        return;
      }
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="reset-title"
      aria-describedby="reset-text"
      onClose={props.onClose}
    >
      <form onSubmit={submit}>
        <h2 id="reset-title">Reset passcode</h2>
        <p id="reset-text">
          A new passcode is generated for <strong>{props.device.deviceName}</strong> and set on the device. Its user
          unlocks it with the new passcode, which is shown on this page once the reset is done.
        </p>
        <div class="field">
          <label for="reset-reason-input">Reason</label>
          <textarea
            id="reset-reason-input"
            maxLength={500}
            rows={3}
            value={reason}
            aria-describedby="reset-reason-hint"
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <span class="hint" id="reset-reason-hint">
            Optional; kept with the action and in the audit log (at most 500 characters).
          </span>
        </div>
        {error !== undefined && (
          <p class="message error" role="alert">
            {describeError(error)}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Reset
          </button>
          <button type="button" class="secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

async function currentAction(api: Api, location: string): Promise<Action> {
  return (await api.request(ActionSchema, withQuery(location, 'includePasscode', 'false'))).body;
}

const STEPS = ['pending', 'active', 'done'] as const;

/** The device, its latest reset, and what to call when the reset changed (cancel, a new state). */
interface ActionPanelProps {
  device: Device;
  action: Action;
  onChanged: (action: Action) => void;
}

/** The latest reset: its state while it runs, then its outcome and, for Passcode.Read holders, the new passcode. */
function ActionPanel({ device, action, onChanged }: ActionPanelProps) {
  return (
    <section aria-labelledby="action-heading" class="panel">
      <h2 id="action-heading">Reset passcode</h2>
      <p role="status" class="state-line">
        Status: <strong class={`state ${action.actionState}`}>{STATE_LABELS[action.actionState]}</strong>
        {isInFlight(action.actionState) && <span class="spinner" aria-hidden="true" />}
      </p>
      {(isInFlight(action.actionState) || action.actionState === 'done') && (
        <ol class="steps" aria-label="Progress">
          {STEPS.map((step, i) => {
            const reached = STEPS.indexOf(action.actionState as (typeof STEPS)[number]) >= i;
            return (
              <li
                key={step}
                class={reached ? 'reached' : undefined}
                aria-current={step === action.actionState ? 'step' : undefined}
              >
                {STATE_LABELS[step]}
              </li>
            );
          })}
        </ol>
      )}
      <dl class="facts">
        <div>
          <dt>Requested by</dt>
          <dd>{action.requestedBy}</dd>
        </div>
        <div>
          <dt>Requested</dt>
          <dd>{formatDateTime(action.startDateTime)}</dd>
        </div>
        {action.reason && (
          <div>
            <dt>Reason</dt>
            <dd>{action.reason}</dd>
          </div>
        )}
        {action.error && (
          <div>
            <dt>Error</dt>
            <dd>{action.error.message}</dd>
          </div>
        )}
      </dl>
      {isWaitingForDevice(action) && <WaitingForDevice device={device} action={action} onChanged={onChanged} />}
      {hasPasscode(action) && <NewPasscode device={device} action={action} />}
    </section>
  );
}

const MANAGEMENT_LABELS = { fullyManaged: 'Fully managed', workProfile: 'Work profile' } as const;

/**
 * A command the device has not run yet (it is offline, or has not checked in): since when, until when it can still
 * run, the device's last contact, and Cancel, which asks the device channel to cancel it (docs/API.md "Cancel").
 */
function WaitingForDevice({ device, action, onChanged }: ActionPanelProps) {
  const { api, can } = useConsole();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const command = action.deviceCommand;
  if (!command) return null;
  const cancel = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onChanged((await api.request(ActionSchema, actionPath(device.id, action.id), { method: 'DELETE' })).body);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="waiting" id="waiting-for-device">
      <p class="message">
        Waiting for the device since {formatDateTime(command.sentDateTime)}
        {command.deviceLastContactDateTime && <> (last contact {formatDateTime(command.deviceLastContactDateTime)})</>}.
        The new passcode is set when the device comes online
        {command.expirationDateTime && <>, until {formatDateTime(command.expirationDateTime)}</>}.
      </p>
      {command.cancelRequestedDateTime ? (
        <p class="message" role="status">
          Cancel requested at {formatDateTime(command.cancelRequestedDateTime)}; the reset ends canceled once the device
          channel confirms, or as the device ran it.
        </p>
      ) : (
        can('Passcode.Reset') && (
          <button type="button" class="secondary" onClick={cancel} disabled={busy}>
            Cancel reset
          </button>
        )
      )}
      <ErrorMessage error={error} />
    </div>
  );
}

/**
 * The new passcode, masked until revealed. Only revealing fetches it: the API audits every response that shows a
 * passcode as a view (passcodeViewed), so showing a device must not count as seeing its passcode.
 */
function NewPasscode({ device, action }: { device: Device; action: Action }) {
  const { api, can } = useConsole();
  const [passcode, setPasscode] = useState<string | undefined>(undefined);
  const [visible, setVisible] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [checks, setChecks] = useState(0);
  const expiry = action.passcodeExpirationDateTime;
  const expired = expiry !== undefined && new Date(expiry).getTime() <= Date.now();

  useEffect(() => {
    setPasscode(undefined);
    setVisible(false);
    setNote(undefined);
  }, [action.id]);

  // When the display window closes, the passcode goes from the page's memory too, not only from the screen.
  useEffect(() => {
    const delay = msUntilExpiry(expiry, Date.now());
    if (delay === undefined || expired) return undefined;
    const timer = setTimeout(() => {
      setPasscode(undefined);
      setVisible(false);
      setChecks((n) => n + 1);
    }, delay);
    return () => clearTimeout(timer);
  }, [expiry, expired, checks]);

  const unconfirmed = action.actionState !== 'done';
  if (!can('Passcode.Read')) {
    return (
      <p class="message" id="passcode-hidden">
        {unconfirmed ? 'The device may have the new passcode.' : 'The reset is done.'}{' '}
        {roleReason('Passcode.Read', 'see the new passcode')}
      </p>
    );
  }
  if (expired) {
    return <p class="message">The new passcode was shown until {formatDateTime(expiry)} and is no longer available.</p>;
  }

  const toggle = async () => {
    if (visible) {
      // Hidden means gone: showing it again fetches it again (and is audited again).
      setVisible(false);
      setPasscode(undefined);
      setNote(undefined);
      return;
    }
    if (passcode === undefined) {
      setBusy(true);
      setError(undefined);
      try {
        const { body } = await api.request(ActionSchema, actionPath(device.id, action.id));
        if (body.passcode === undefined) {
          setNote('The passcode is no longer shown.');
          return;
        }
        setPasscode(body.passcode);
      } catch (e) {
        setError(e);
        return;
      } finally {
        setBusy(false);
      }
    }
    setVisible(true);
  };

  const copy = async () => {
    if (passcode === undefined) return;
    try {
      await navigator.clipboard.writeText(passcode);
      setNote(`Passcode copied to the clipboard; it is cleared from there in ${CLIPBOARD_CLEAR_MS / 1000} seconds.`);
      void scheduleClipboardClear(passcode, {
        clipboard: navigator.clipboard,
        schedule: (run, ms) => setTimeout(run, ms),
        whenFocused: (retry) => window.addEventListener('focus', retry, { once: true }),
      });
    } catch {
      setNote('The browser did not allow copying; select the passcode and copy it.');
    }
  };

  return (
    <div class="passcode">
      {unconfirmed && (
        <p class="message" id="passcode-unconfirmed">
          The device may have received this passcode, though it was never confirmed: try it if the device is locked.
        </p>
      )}
      <label for="new-passcode">New passcode</label>
      <div class="passcode-row">
        {/* Masked: a password field holding placeholder dots, not the passcode, which is fetched only when shown. */}
        {visible ? (
          <input
            id="new-passcode"
            class="passcode-value"
            type="text"
            readOnly
            autocomplete="off"
            value={passcode}
            aria-describedby="passcode-expiry"
          />
        ) : (
          <input
            id="new-passcode"
            class="passcode-value"
            type="password"
            readOnly
            autocomplete="off"
            value="••••••••"
            aria-describedby="passcode-expiry"
          />
        )}
        <button type="button" class="secondary" onClick={toggle} disabled={busy} aria-pressed={visible}>
          Show passcode
        </button>
        <button type="button" class="secondary" onClick={copy} disabled={passcode === undefined}>
          Copy passcode
        </button>
      </div>
      <p class="hint" id="passcode-expiry">
        Shown until {formatDateTime(expiry)}. Showing it is recorded in the audit log.
      </p>
      {note && (
        <p class="message" role="status">
          {note}
        </p>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
