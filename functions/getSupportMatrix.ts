import { app } from '@azure/functions';
import { supportMatrixFor } from '../lib/core/supportMatrix';
import { endpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';

// The rules of the device channel the app uses (Intune's for the simulated and webhook channels).
export const getSupportMatrix = endpoint(ROUTES.getSupportMatrix, async ({ deps }) => {
  const channel = deps.config.DEVICE_CHANNEL;
  return json(200, { channel, ...supportMatrixFor(channel) });
});

app.http(ROUTES.getSupportMatrix.name, { ...routeOptions(ROUTES.getSupportMatrix), handler: getSupportMatrix });
