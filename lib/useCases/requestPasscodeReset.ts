import { createHash } from 'node:crypto';
import { newActionId } from '../core/actionId';
import { idempotencyKeyExpiry } from '../core/actionLifecycle';
import { acceptedResetEvent } from '../core/auditEvents';
import { ActionInProgressError, ApiError, apiError, PreconditionFailedError, TransientError } from '../core/errors';
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
/** Passes over a request that met a race (another request took the key or the device in between). */
const ACCEPT_PASSES = 3;

/**
 * Accepts a reset. Every refusal (404, 409, 422, 429) is decided from two reads made together (the device, and its
 * partition of actions), before anything is written. Then: the Idempotency-Key reservation (when given), the sweeper's
 * schedule entry (written first, so that an action can never exist without one), one atomic write of the pending
 * action with the device's in-flight guard, and finally the accepted event and the enqueue, which never change the
 * answer: the sweeper re-records the event and re-enqueues an action that makes no progress.
 *
 * An Idempotency-Key maps to one action id, the one minted when the key was first reserved: a repeat finds that action,
 * or, when the first request died (or lost its answers) before writing it, writes it itself with that same id and
 * start time, so that a late commit of the first request's write and the repeat's write are one and the same action.
 */
export async function requestPasscodeReset(services: Services, request: ResetRequest): Promise<ResetResult> {
  try {
    const result = await acceptWithRetries(services, request);
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

/** A race (the key or the device taken in between) reads everything again; past a few passes the caller retries. */
async function acceptWithRetries(services: Services, request: ResetRequest): Promise<ResetResult> {
  for (let pass = 0; pass < ACCEPT_PASSES; pass++) {
    try {
      const result = await acceptReset(services, request);
      if (result) return result;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  throw new TransientError('The device changed while the request was accepted; retry.', 1);
}

/** One pass; undefined when a race means reading again. */
async function acceptReset(services: Services, request: ResetRequest): Promise<ResetResult | undefined> {
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
  const previous = earlier && key ? await earlierRequest(services, request, key, earlier, now) : undefined;
  if (previous?.kind === 'repeated') return previous;
  const reserved = previous?.kind === 'reuse' ? previous.record : undefined;
  const target = checkAcceptable(services, deviceId, device, context.inFlightActionId);
  checkDailyLimit(context.recentStarts, limit, now);

  const startedAt = reserved ? new Date(reserved.createdDateTime) : now;
  const action = newAction(request, target, {
    id: reserved?.actionId ?? newActionId(now, services.randomHex(10)),
    startedAt,
    idempotencyKeyHash: key?.keyHash,
  });
  if (key && !reserved) {
    const replacing = previous?.kind === 'expired' ? previous.record : undefined;
    // Another request with the same key reserved it in between: the next pass answers as its repeat.
    if (!(await reserveKey(services, action, key, replacing))) return undefined;
  }
  // Due when the action would count as stuck: the same row for the same action, however often it is written.
  await services.schedule.add({
    deviceId,
    actionId: action.id,
    dueDateTime: new Date(startedAt.getTime() + services.settings.stuckAfterSeconds * 1000).toISOString(),
    visits: 0,
  });
  const created = await services.actions.create(action);
  if (!created.created) return refused(services, request, key, action, created.inFlightActionId);
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
 * Another action holds the device. When it carries this request's key it is this request's (the key's first request,
 * or an older one whose reservation this one replaced): a repeat. Otherwise the request is refused, and only then is
 * its key released; its schedule entry goes at its first visit (no action).
 */
async function refused(
  services: Services,
  request: ResetRequest,
  key: KeyInfo | undefined,
  action: DeviceAction,
  holderId: string,
): Promise<ResetResult> {
  const holder = await services.actions.get(request.deviceId, holderId);
  if (key && holder?.value.idempotencyKeyHash === key.keyHash) return { kind: 'repeated', action: holder.value };
  if (key) {
    await bestEffort(services, 'releasing an Idempotency-Key', () =>
      services.idempotencyKeys.remove(key.keyHash, action.id),
    );
  }
  throw new ActionInProgressError(request.deviceId, holderId);
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

/** A new pending action; its id orders actions by when they were accepted (minted at acceptance, or reserved then). */
function newAction(
  request: ResetRequest,
  target: DeviceAction['target'],
  identity: { id: string; startedAt: Date; idempotencyKeyHash: string | undefined },
): DeviceAction {
  const at = identity.startedAt.toISOString();
  return {
    id: identity.id,
    deviceId: request.deviceId,
    actionName: 'resetPasscode',
    actionState: 'pending',
    startDateTime: at,
    lastUpdatedDateTime: at,
    requestedBy: request.caller.name,
    requestedById: request.caller.id,
    ...(request.reason !== undefined && { reason: request.reason }),
    target,
    attempts: 0,
    ...(identity.idempotencyKeyHash && { idempotencyKeyHash: identity.idempotencyKeyHash }),
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

type EarlierRequest =
  | { kind: 'repeated'; action: DeviceAction }
  | { kind: 'reuse'; record: IdempotencyRecord }
  | { kind: 'expired'; record: Versioned<IdempotencyRecord> };

/**
 * What an earlier request with the same key did: its action exists (this request is a repeat), or not (it died, or lost
 * its answers, before writing it: this request writes it, with the reserved id), or the key is past its 48 hours (a new
 * reservation replaces it). The same key for another device or body is a 422.
 */
async function earlierRequest(
  services: Services,
  request: ResetRequest,
  key: KeyInfo,
  earlier: Versioned<IdempotencyRecord>,
  now: Date,
): Promise<EarlierRequest> {
  const record = earlier.value;
  if (now >= idempotencyKeyExpiry(record.createdDateTime)) {
    return { kind: 'expired', record: earlier };
  }
  if (record.deviceId !== request.deviceId || record.requestHash !== key.requestHash) {
    throw apiError('idempotencyKeyReused');
  }
  const original = await services.actions.get(record.deviceId, record.actionId);
  return original ? { kind: 'repeated', action: original.value } : { kind: 'reuse', record };
}

/** 429 once the device had `limit` resets in the last 24 hours; Retry-After = when the oldest leaves the window. */
function checkDailyLimit(recentStarts: string[], limit: number, now: Date): void {
  if (recentStarts.length < limit) return;
  const oldest = recentStarts[recentStarts.length - 1] ?? now.toISOString();
  const retryAfter = Math.max(1, Math.ceil((new Date(oldest).getTime() + DAY_MS - now.getTime()) / 1000));
  throw apiError('tooManyRequests', { limit }, { headers: { 'Retry-After': String(retryAfter) } });
}
