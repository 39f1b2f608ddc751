import { app } from '@azure/functions';
import { ActionInProgressError, ApiError, apiError } from '../lib/core/errors';
import { monitorHeaders, plainLocationOf } from '../lib/http/actionResponses';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ResetPasscodeRequestSchema } from '../lib/http/schemas';
import { traceparentOf } from '../lib/http/trace';
import { appMetrics } from '../lib/telemetry/instrument';
import { requestPasscodeReset } from '../lib/useCases/requestPasscodeReset';
import { toActionView } from '../lib/useCases/views';

export const resetPasscode = endpoint(ROUTES.resetPasscode, (ctx) =>
  counted(async () => {
    const { request, deps, caller } = ctx;
    const { params, headers, body } = await parseRequest(request, ResetPasscodeRequestSchema, { bodyOptional: true });
    const idempotencyKey = headers['idempotency-key'];
    const traceparent = traceparentOf(ctx.context);
    const result = await requestPasscodeReset(deps.services, {
      deviceId: params.deviceId,
      caller,
      ...(body.reason !== undefined && { reason: body.reason }),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(traceparent && { traceparent }),
    }).catch((error: unknown) => {
      // docs/API.md: a 409 actionInProgress points at the action that holds the device.
      if (error instanceof ActionInProgressError) {
        const location = plainLocationOf(ctx, error.deviceId, error.actionId);
        throw apiError('actionInProgress', {}, { headers: { Location: location } });
      }
      throw error;
    });
    if (result.kind === 'accepted') appMetrics().resetAccepted();
    const { action } = result;
    // Always 202, a repeated request too (docs/API.md), whatever state the action has reached since.
    const view = toActionView(action, { showPasscode: false, services: deps.services });
    return json(202, view, await monitorHeaders(ctx, action));
  }),
);

/** Counts the request's refusal by its API error code (a sign-in or role refusal happens before and is not counted). */
async function counted<T>(handle: () => Promise<T>): Promise<T> {
  try {
    return await handle();
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) appMetrics().resetRefused(error.code);
    throw error;
  }
}

app.http(ROUTES.resetPasscode.name, { ...routeOptions(ROUTES.resetPasscode), handler: resetPasscode });
