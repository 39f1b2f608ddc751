import { app } from '@azure/functions';
import { ActionInProgressError, ApiError } from '../lib/core/errors';
import { monitorHeaders, plainLocationOf } from '../lib/http/actionResponses';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow, readJsonBody } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema, IdempotencyKeySchema, ResetPasscodeBodySchema } from '../lib/http/schemas';
import { traceparentOf } from '../lib/http/trace';
import { requestPasscodeReset } from '../lib/useCases/requestPasscodeReset';
import { toActionView } from '../lib/useCases/views';

app.http(ROUTES.resetPasscode.name, {
  ...routeOptions(ROUTES.resetPasscode),
  handler: endpoint(ROUTES.resetPasscode, async (ctx) => {
    const { request, deps, caller } = ctx;
    const { deviceId } = parseOrThrow(DeviceParamsSchema, request.params, 'device id');
    const key = request.headers.get('idempotency-key');
    const idempotencyKey =
      key === null ? undefined : parseOrThrow(IdempotencyKeySchema, key, 'Idempotency-Key header', 'Idempotency-Key');
    const body = parseOrThrow(ResetPasscodeBodySchema, await readJsonBody(request, {}), 'request body');
    const traceparent = traceparentOf(ctx.context);
    const { action } = await requestPasscodeReset(deps.services, {
      deviceId,
      caller,
      ...(body.reason !== undefined && { reason: body.reason }),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(traceparent && { traceparent }),
    }).catch((error: unknown) => {
      // API.md: a 409 actionInProgress points at the action that holds the device.
      if (error instanceof ActionInProgressError) {
        const location = plainLocationOf(ctx, error.deviceId, error.actionId);
        throw new ApiError(409, error.code, error.message, { ...error.extra, headers: { Location: location } });
      }
      throw error;
    });
    // Always 202, a repeated request too (API.md), whatever state the action has reached since.
    const view = toActionView(action, { showPasscode: false, services: deps.services });
    return json(202, view, monitorHeaders(ctx, action));
  }),
});
