import { cancel } from '../core/actionLifecycle';
import { apiError, PreconditionFailedError } from '../core/errors';
import type { ActionState, DeviceAction } from '../core/model';
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

/** Cancels a pending action; an action a worker already started cannot be canceled. */
export async function cancelAction(services: Services, deviceId: string, actionId: string, caller: Caller) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await load(services, deviceId, actionId);
    const decision = cancel(found.value, services.clock.now());
    if (decision.kind !== 'move') {
      throw apiError('actionNotCancelable', {
        reason: `it is ${found.value.actionState}, and only a pending action can be canceled`,
      });
    }
    try {
      await services.actions.update(decision.next, found);
    } catch (error) {
      if (error instanceof PreconditionFailedError) continue;
      throw error;
    }
    await announceFinished(services, decision.next);
    await bestEffort(services, 'auditing a cancel', () =>
      services.audit.record({
        id: services.randomHex(12),
        eventDateTime: services.clock.now().toISOString(),
        eventType: 'resetCanceled',
        callerId: caller.id,
        callerName: caller.name,
        deviceId,
        actionId,
        outcome: 'success',
      }),
    );
    return toActionView(decision.next, { showPasscode: false, services });
  }
  throw apiError('actionNotCancelable', { reason: 'it changed while it was being canceled; try again' });
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
