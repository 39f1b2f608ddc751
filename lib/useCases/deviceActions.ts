import { cancel, isTerminal, recordCommandStatus, requestCancel } from '../core/actionLifecycle';
import { apiError, isDeviceFailure, PreconditionFailedError } from '../core/errors';
import type { ActionState, CommandStatus, DeviceAction } from '../core/model';
import type { Page, Versioned } from '../ports';
import type { Caller } from '../security/caller';
import { bestEffort, type Services } from './services';
import { announceFinished } from './subscriptions';
import { type ActionView, toActionView } from './views';

const actionNotFound = (actionId: string) => apiError('actionNotFound', { actionId });

async function load(services: Services, deviceId: string, actionId: string): Promise<Versioned<DeviceAction>> {
  const found = await services.actions.get(deviceId, actionId);
  if (!found) throw actionNotFound(actionId);
  return found;
}

/** Records a passcode view in the audit trail when a response is about to show one. */
async function auditViews(services: Services, caller: Caller, views: ActionView[]): Promise<void> {
  const shown = views.filter((v) => v.passcode !== undefined);
  await Promise.all(
    shown.map((v) =>
      services.audit.record({
        id: services.randomHex(12),
        eventDateTime: services.clock.now().toISOString(),
        eventType: 'passcodeViewed',
        callerId: caller.id,
        callerName: caller.name,
        deviceId: v.deviceId,
        actionId: v.id,
        outcome: 'success',
      }),
    ),
  );
}

/** Shapes actions for a caller: passcodes only with Passcode.Read, and every passcode shown is audited. */
export async function presentActions(services: Services, caller: Caller | undefined, actions: DeviceAction[]) {
  const showPasscode = caller?.roles.has('Passcode.Read') ?? false;
  const views = actions.map((a) => toActionView(a, { showPasscode, services }));
  if (caller) await auditViews(services, caller, views);
  return views;
}

/** One action's status (the status monitor). `caller` is absent when a signed status link authorised the read. */
export async function getAction(services: Services, deviceId: string, actionId: string, caller: Caller | undefined) {
  const { value } = await load(services, deviceId, actionId);
  const [view] = await presentActions(services, caller, [value]);
  return view as ActionView;
}

/** What a cancel came to: canceled, or (a command waiting for the device) asked of the channel, not yet confirmed. */
export type CancelResult = { kind: 'canceled' | 'cancelRequested'; action: ActionView };

/**
 * Cancels an action. A pending one is canceled at once. One whose command waits for the device is canceled through
 * the channel: the channel is asked to cancel, then how the command stands; the action ends `canceled` only when the
 * channel says the command will not apply, ends as the device reported if it ran meanwhile, and otherwise waits
 * (`cancelRequested`: the worker's next check finishes it).
 */
export async function cancelAction(
  services: Services,
  deviceId: string,
  actionId: string,
  caller: Caller,
): Promise<CancelResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await load(services, deviceId, actionId);
    const now = services.clock.now();
    const pending = cancel(found.value, now);
    const decision = pending.kind === 'move' ? pending : await cancelThroughChannel(services, found.value, now);
    let stored: DeviceAction;
    try {
      stored = (await services.actions.update(decision.next, found)).value;
    } catch (error) {
      if (error instanceof PreconditionFailedError) continue;
      throw error;
    }
    if (isTerminal(stored.actionState)) await announceFinished(services, stored);
    if (stored.actionState === 'canceled') {
      await auditCancel(services, caller, stored);
      return { kind: 'canceled', action: toActionView(stored, { showPasscode: false, services }) };
    }
    if (isTerminal(stored.actionState)) throw notCancelable(stored);
    return { kind: 'cancelRequested', action: toActionView(stored, { showPasscode: false, services }) };
  }
  throw apiError('actionNotCancelable', { reason: 'it changed while it was being canceled; try again' });
}

/** Asks the channel to cancel a waiting command and records the cancel request with what the channel says now. */
async function cancelThroughChannel(
  services: Services,
  action: DeviceAction,
  now: Date,
): Promise<{ kind: 'move'; next: DeviceAction }> {
  const requested = requestCancel(action, now);
  if (requested.kind !== 'move') throw notCancelable(action);
  const command = { actionId: action.id, deviceId: action.deviceId, reference: action.command?.reference };
  if (!(await services.channel.cancel(command))) {
    throw apiError('actionNotCancelable', { reason: 'the device channel cannot cancel a command it has taken' });
  }
  let status: CommandStatus;
  try {
    status = await services.channel.check(command);
  } catch (error) {
    // The cancel was asked; the worker's next check learns how it went.
    if (isDeviceFailure(error)) return requested;
    throw error;
  }
  const decided = recordCommandStatus(requested.next, status, now, services.settings, (n) => services.randomInt(0, n));
  return decided.kind === 'move' ? decided : requested;
}

/** 409 with why this action cannot be canceled now. */
function notCancelable(action: DeviceAction) {
  const reason =
    action.actionState !== 'active'
      ? `it is ${action.actionState}`
      : action.command?.state === 'confirming'
        ? 'the app is still confirming with the device channel whether the command arrived'
        : 'a worker is sending it to the device right now; try again in a few seconds';
  return apiError('actionNotCancelable', { reason });
}

function auditCancel(services: Services, caller: Caller, action: DeviceAction) {
  return bestEffort(services, 'auditing a cancel', () =>
    services.audit.record({
      id: services.randomHex(12),
      eventDateTime: services.clock.now().toISOString(),
      eventType: 'resetCanceled',
      callerId: caller.id,
      callerName: caller.name,
      deviceId: action.deviceId,
      actionId: action.id,
      outcome: 'success',
    }),
  );
}

export interface ListQuery {
  top: number;
  skipToken?: string;
  actionState?: ActionState;
}

/** A device's actions, or every device's ("Device actions"), newest first. */
export async function listActions(
  services: Services,
  caller: Caller,
  query: ListQuery & { deviceId?: string },
): Promise<Page<ActionView>> {
  const { deviceId, ...rest } = query;
  const page = deviceId ? await services.actions.listForDevice(deviceId, rest) : await services.actions.listAll(rest);
  const items = await presentActions(services, caller, page.items);
  return { items, ...(page.nextToken && { nextToken: page.nextToken }) };
}
