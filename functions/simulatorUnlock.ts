import { app } from '@azure/functions';
import { ApiError, apiError } from '../lib/core/errors';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { UnlockRequestSchema } from '../lib/http/schemas';
import { appMetrics } from '../lib/telemetry/instrument';
import { unlockSimulatedDevice } from '../lib/useCases/simulator';

// Proves that the passcode shown to the admin is the one the (simulated) device received.
export const simulatorUnlock = endpoint(ROUTES.simulatorUnlock, async ({ request, deps, caller }) => {
  if (!deps.simulator)
    throw apiError('notFound', { reason: 'The simulator is only available with DEVICE_CHANNEL=simulated.' });
  const { params, body } = await parseRequest(request, UnlockRequestSchema);
  await unlockSimulatedDevice(deps.services, deps.simulator, caller, params.deviceId, body.passcode).catch(
    (error: unknown) => {
      // An attempt refused because the simulated lock screen is locked after too many wrong passcodes.
      if (error instanceof ApiError && error.code === 'tooManyAttempts') appMetrics().simulatorLockout();
      throw error;
    },
  );
  return json(200, { deviceId: params.deviceId, unlocked: true });
});

app.http(ROUTES.simulatorUnlock.name, { ...routeOptions(ROUTES.simulatorUnlock), handler: simulatorUnlock });
