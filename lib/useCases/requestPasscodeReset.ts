import { createHash } from 'node:crypto';
import { newActionId } from '../core/actionId';
import { ActionInProgressError, ApiError, notFound } from '../core/errors';
import type { DeviceAction } from '../core/model';
import { resetPasscodeSupport } from '../core/supportMatrix';
import type { Caller } from '../security/caller';
import type { Services } from './services';

export interface ResetRequest {
  deviceId: string;
  reason?: string;
  idempotencyKey?: string;
  caller: Caller;
}

export type ResetResult =
  | { kind: 'accepted'; action: DeviceAction }
  /** A repeat of an earlier request with the same Idempotency-Key: nothing was created. */
  | { kind: 'repeated'; action: DeviceAction };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Accepts a reset: one read for the device's profile and recent resets (support matrix, daily limit), one atomic
 * write of the pending action with the device's in-flight guard (the store then records the accepted event, which
 * also lists the action under "Device actions"), then the enqueue. A crash before the enqueue is repaired by the
 * sweeper, which re-enqueues pending actions that make no progress.
 */
export async function requestPasscodeReset(services: Services, request: ResetRequest): Promise<ResetResult> {
  try {
    const result = await acceptReset(services, request);
    // An accepted request's event is written by the action store with the action (acceptedResetEvent).
    if (result.kind === 'repeated') {
      await auditRequest(services, request, { outcome: 'success', actionId: result.action.id, detail: 'repeated' });
    }
    return result;
  } catch (error) {
    // Refusals are audited too (who tried, and why they were turned away); storage outages are not outcomes.
    if (error instanceof ApiError) {
      const actionId = error instanceof ActionInProgressError ? error.actionId : undefined;
      await auditRequest(services, request, { outcome: 'failure', detail: error.code, ...(actionId && { actionId }) });
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

const DAY_MS = 24 * 3600_000;

async function acceptReset(services: Services, request: ResetRequest): Promise<ResetResult> {
  const { deviceId, caller } = request;
  const now = services.clock.now();
  const limit = services.settings.maxResetsPerDevicePerDay;
  const { profile, recentStarts } = await services.actions.resetContext(
    deviceId,
    new Date(now.getTime() - DAY_MS),
    limit,
  );
  if (!profile) throw notFound('deviceNotFound', `No managed device with id '${deviceId}'.`, 'deviceId');
  const support = resetPasscodeSupport(profile);
  if (!support.supported) {
    throw new ApiError(422, 'platformNotSupported', support.message, { target: 'operatingSystem' });
  }
  const key = await resolveIdempotencyKey(services, request, newActionId(now, services.randomHex(10)), now);
  if ('repeated' in key) return { kind: 'repeated', action: key.repeated };
  checkDailyLimit(recentStarts, limit, now);

  const action: DeviceAction = {
    id: key.actionId,
    deviceId,
    actionName: 'resetPasscode',
    actionState: 'pending',
    startDateTime: now.toISOString(),
    lastUpdatedDateTime: now.toISOString(),
    requestedBy: caller.name,
    requestedById: caller.id,
    ...(request.reason !== undefined && { reason: request.reason }),
    target: {
      operatingSystem: profile.operatingSystem,
      osVersion: profile.osVersion,
      passcodePolicy: profile.passcodePolicy,
    },
    attempts: 0,
  };
  const created = await services.actions.create(action);
  if (!created.created) {
    // Two concurrent requests with one Idempotency-Key share the reserved action id: the later one is a repeat.
    const original =
      created.inFlightActionId === action.id ? await services.actions.get(deviceId, action.id) : undefined;
    if (original) return { kind: 'repeated', action: original.value };
    throw new ActionInProgressError(deviceId, created.inFlightActionId);
  }
  await services.queue.enqueue({ v: 1, actionId: action.id, deviceId });
  return { kind: 'accepted', action };
}

/**
 * Reserves the request's Idempotency-Key for `actionId`, or finds what an earlier request with the same key did:
 * its action (a repeat), or, when it reserved the key but never wrote its action, its action id to write now.
 */
async function resolveIdempotencyKey(
  services: Services,
  request: ResetRequest,
  actionId: string,
  now: Date,
): Promise<{ actionId: string } | { repeated: DeviceAction }> {
  if (request.idempotencyKey === undefined) return { actionId };
  const { deviceId } = request;
  const requestHash = sha256(JSON.stringify({ deviceId, reason: request.reason ?? null }));
  const keyHash = sha256(`${request.caller.id}\n${request.idempotencyKey}`);
  const earlier = await services.actions.reserveIdempotencyKey(keyHash, {
    deviceId,
    requestHash,
    actionId,
    createdDateTime: now.toISOString(),
  });
  if (!earlier) return { actionId };
  if (earlier.deviceId !== deviceId || earlier.requestHash !== requestHash) {
    throw new ApiError(
      422,
      'idempotencyKeyReused',
      'This Idempotency-Key was already used for a different device or request body.',
      { target: 'Idempotency-Key' },
    );
  }
  const original = await services.actions.get(deviceId, earlier.actionId);
  return original ? { repeated: original.value } : { actionId: earlier.actionId };
}

/** 429 once the device had `limit` resets in the last 24 hours; Retry-After = when the oldest leaves the window. */
function checkDailyLimit(recentStarts: string[], limit: number, now: Date): void {
  if (recentStarts.length < limit) return;
  const oldest = recentStarts[recentStarts.length - 1] ?? now.toISOString();
  const retryAfter = Math.max(1, Math.ceil((new Date(oldest).getTime() + DAY_MS - now.getTime()) / 1000));
  throw new ApiError(
    429,
    'tooManyRequests',
    `This device's passcode was reset ${limit} times in the last 24 hours, the most allowed.`,
    { headers: { 'Retry-After': String(retryAfter) } },
  );
}
