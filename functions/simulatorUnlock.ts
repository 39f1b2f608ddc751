import { app } from '@azure/functions';
import { notFound } from '../lib/core/errors';
import { endpoint } from '../lib/http/endpoint';
import { parseOrThrow, readJsonBody } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { DeviceParamsSchema, UnlockBodySchema } from '../lib/http/schemas';
import { unlockSimulatedDevice } from '../lib/useCases/simulator';

// Proves that the passcode shown to the admin is the one the (simulated) device received.
app.http(ROUTES.simulatorUnlock.name, {
  ...routeOptions(ROUTES.simulatorUnlock),
  handler: endpoint(ROUTES.simulatorUnlock, async ({ request, deps, caller }) => {
    if (!deps.simulator) throw notFound('notFound', 'The simulator is only available with DEVICE_CHANNEL=simulated.');
    const { deviceId } = parseOrThrow(DeviceParamsSchema, request.params, 'device id');
    const { passcode } = parseOrThrow(UnlockBodySchema, await readJsonBody(request), 'request body');
    await unlockSimulatedDevice(deps.services, deps.simulator, caller, deviceId, passcode);
    return json(200, { deviceId, unlocked: true });
  }),
});
