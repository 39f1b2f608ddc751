import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { newActionId } from '../core/actionId';
import { IDEMPOTENCY_KEY_HOURS } from '../core/actionLifecycle';
import { acceptedResetEvent } from '../core/auditEvents';
import { ActionInProgressError, ApiError, apiError, TransientError } from '../core/errors';
import type { Device, DeviceAction } from '../core/model';
import { resetPasscodeSupport } from '../core/supportMatrix';
import type { IdempotencyRecord, Versioned } from '../ports';
import type { Caller } from '../security/caller';
import { bestEffort, type Services } from './services';

export interface ResetRequest {
  deviceId: string;
  reason?: string;
  idempotencyKey?: string;
  caller: Caller;
  /** The request's W3C traceparent: the worker's part of the reset continues this trace. */
  traceparent?: string;
}

export type ResetResult =
  | { kind: 'accepted'; action: DeviceAction }
  /** A repeat of an earlier request with the same Idempotency-Key: nothing was created. */
  | { kind: 'repeated'; action: DeviceAction };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const DAY_MS = 24 * 3600_000;
/** A reservation younger than this may belong to a request that is still writing its action. */
const RESERVATION_IN_PROGRESS_MS = 30_000;

/**
 * Accepts a reset. Every refusal (404, 422, 409, 429) is decided from two reads made together (the device, and its
 * partition of actions), before anything is written. Then: the Idempotency-Key reservation (when given), the sweeper's schedule entry (written
 * first, so that an action can never exist without one), one atomic write of the pending action with the device's
 * in-flight guard, and finally the accepted event and the enqueue, which never change the answer: the sweeper
 * re-records the event and re-enqueues an action that makes no progress.
 */
export async function requestPasscodeReset(services: Services, request: ResetRequest): Promise<ResetResult> {
  try {
    const result = await acceptReset(services, request);
    if (result.kind === 'repeated') {
      await bestEffort(services, 'auditing a repeated reset', () =>
        auditRequest(services, request, { outcome: 'success', actionId: result.action.id, detail: 'repeated' }),
      );
    }
    return result;
  } catch (error) {
    // Refusals are audited too (who tried, and why they were turned away); a failing audit never hides the refusal.
    if (error instanceof ApiError) {
      const actionId = error instanceof ActionInProgressError ? error.actionId : undefined;
      await bestEffort(services, 'auditing a refused reset', () =>
        auditRequest(services, request, { outcome: 'failure', detail: error.code, ...(actionId && { actionId }) }),
      );
    }
    throw error;
  }
}

function auditRequest(
  services: Services,
  request: ResetRequest,
  result: { outcome: 'success' | 'failure'; actionId?: string; detail?: string },
) {
  return services.audit.record({
    id: services.randomHex(12),
    eventDateTime: services.clock.now().toISOString(),
    eventType: 'resetRequested',
    callerId: request.caller.id,
    callerName: request.caller.name,
    deviceId: request.deviceId,
    ...(request.reason !== undefined && { reason: request.reason }),
    ...result,
  });
}

interface KeyInfo {
  keyHash: string;
  requestHash: string;
}

async function acceptReset(services: Services, request: ResetRequest): Promise<ResetResult> {
  const { deviceId } = request;
  const now = services.clock.now();
  const limit = services.settings.maxResetsPerDevicePerDay;
  const key: KeyInfo | undefined =
    request.idempotencyKey === undefined
      ? undefined
      : {
          keyHash: sha256(`${request.caller.id}\n${request.idempotencyKey}`),
          requestHash: sha256(JSON.stringify({ deviceId, reason: request.reason ?? null })),
        };
  const [device, context, earlier] = await Promise.all([
    services.devices.get(deviceId),
    services.actions.resetContext(deviceId, new Date(now.getTime() - DAY_MS), limit),
    key ? services.idempotencyKeys.find(key.keyHash) : undefined,
  ]);
  let replacing: Versioned<IdempotencyRecord> | undefined;
  if (earlier && key) {
    const repeat = await findRepeat(services, request, key, earlier.value, now);
    if (repeat) return { kind: 'repeated', action: repeat };
    replacing = earlier;
  }
  const target = checkAcceptable(services, deviceId, device, context.inFlightActionId);
  checkDailyLimit(context.recentStarts, limit, now);

  const action = newAction(services, request, target, now, key?.keyHash);
  if (key && !(await reserveKey(services, action, key, replacing))) {
    // Another request with the same key reserved it in between: this one is its repeat.
    const winner = await services.idempotencyKeys.find(key.keyHash);
    const repeat = winner && (await findRepeat(services, request, key, winner.value, now));
    if (repeat) return { kind: 'repeated', action: repeat };
    throw new TransientError('A request with the same Idempotency-Key is in progress; retry.', 1);
  }
  await services.schedule.add({
    deviceId,
    actionId: action.id,
    dueDateTime: new Date(now.getTime() + services.settings.stuckAfterSeconds * 1000).toISOString(),
    visits: 0,
  });
  const created = await services.actions.create(action);
  if (!created.created) {
    // Another request took the device since the read; its schedule entry goes at its first visit (no action).
    if (key)
      await bestEffort(services, 'releasing an Idempotency-Key', () =>
        services.idempotencyKeys.remove(key.keyHash, action.id),
      );
    const holder = await services.actions.get(deviceId, created.inFlightActionId);
    if (key && holder?.value.idempotencyKeyHash === key.keyHash) return { kind: 'repeated', action: holder.value };
    throw new ActionInProgressError(deviceId, created.inFlightActionId);
  }
  await Promise.all([
    bestEffort(services, 'recording the accepted event', () => services.audit.record(acceptedResetEvent(action))),
    bestEffort(services, 'enqueueing the reset', () =>
      services.queue.enqueue({
        v: 1,
        actionId: action.id,
        deviceId,
        ...(request.traceparent && { traceparent: request.traceparent }),
      }),
    ),
  ]);
  return { kind: 'accepted', action };
}

/**
 * The refusals that need no write: unknown device, unsupported platform, a device the channel cannot reach now, a reset
 * already in flight. Returns what the passcode is generated for.
 */
function checkAcceptable(
  services: Services,
  deviceId: string,
  device: Device | undefined,
  inFlightActionId: string | undefined,
): DeviceAction['target'] {
  if (!device) throw apiError('deviceNotFound', { deviceId });
  const support = resetPasscodeSupport(device, services.settings.deviceChannel);
  if (!support.supported) {
    throw support.code === 'deviceNotActive'
      ? apiError('deviceNotActive', { reason: support.message })
      : apiError('platformNotSupported', { note: support.message });
  }
  if (inFlightActionId) throw new ActionInProgressError(deviceId, inFlightActionId);
  return {
    operatingSystem: device.operatingSystem,
    osVersion: device.osVersion,
    passcodePolicy: device.passcodePolicy,
  };
}

/** A new pending action; its id is minted now, at acceptance, so ids order actions by when they were accepted. */
function newAction(
  services: Services,
  request: ResetRequest,
  target: DeviceAction['target'],
  now: Date,
  idempotencyKeyHash: string | undefined,
): DeviceAction {
  return {
    id: newActionId(now, services.randomHex(10)),
    deviceId: request.deviceId,
    actionName: 'resetPasscode',
    actionState: 'pending',
    startDateTime: now.toISOString(),
    lastUpdatedDateTime: now.toISOString(),
    requestedBy: request.caller.name,
    requestedById: request.caller.id,
    ...(request.reason !== undefined && { reason: request.reason }),
    target,
    attempts: 0,
    ...(idempotencyKeyHash && { idempotencyKeyHash }),
  };
}

function reserveKey(services: Services, action: DeviceAction, key: KeyInfo, replacing?: Versioned<IdempotencyRecord>) {
  const record: IdempotencyRecord = {
    deviceId: action.deviceId,
    requestHash: key.requestHash,
    actionId: action.id,
    createdDateTime: action.startDateTime,
  };
  return services.idempotencyKeys.reserve(key.keyHash, record, replacing);
}

/**
 * What an earlier request with the same key did: its action (this request is a repeat), nothing yet (it is still
 * writing: wait a moment for it), or nothing ever (it died before writing its action, or the key is past its 48
 * hours: undefined, and the key may be reserved anew). The same key for another device or body is a 422.
 */
async function findRepeat(
  services: Services,
  request: ResetRequest,
  key: KeyInfo,
  earlier: IdempotencyRecord,
  now: Date,
): Promise<DeviceAction | undefined> {
  const age = now.getTime() - new Date(earlier.createdDateTime).getTime();
  if (age >= IDEMPOTENCY_KEY_HOURS * 3600_000) return undefined;
  if (earlier.deviceId !== request.deviceId || earlier.requestHash !== key.requestHash) {
    throw apiError('idempotencyKeyReused');
  }
  for (let wait = 0; ; wait++) {
    const original = await services.actions.get(earlier.deviceId, earlier.actionId);
    if (original) return original.value;
    if (age >= RESERVATION_IN_PROGRESS_MS) return undefined;
    if (wait === 5) throw new TransientError('A request with the same Idempotency-Key is in progress; retry.', 1);
    await sleep(50 * 2 ** wait);
  }
}

/** 429 once the device had `limit` resets in the last 24 hours; Retry-After = when the oldest leaves the window. */
function checkDailyLimit(recentStarts: string[], limit: number, now: Date): void {
  if (recentStarts.length < limit) return;
  const oldest = recentStarts[recentStarts.length - 1] ?? now.toISOString();
  const retryAfter = Math.max(1, Math.ceil((new Date(oldest).getTime() + DAY_MS - now.getTime()) / 1000));
  throw apiError('tooManyRequests', { limit }, { headers: { 'Retry-After': String(retryAfter) } });
}
