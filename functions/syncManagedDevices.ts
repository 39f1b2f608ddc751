import { app } from '@azure/functions';
import { endpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { SyncRequestSchema } from '../lib/http/schemas';
import { requestDeviceSync } from '../lib/useCases/deviceSync';

// Starts an inventory sync now (the timer runs one every 15 minutes): 202, the pages are read by the queue function.
export const syncManagedDevices = endpoint(ROUTES.syncManagedDevices, async ({ request, deps }) => {
  await parseRequest(request, SyncRequestSchema, { bodyOptional: true });
  return json(202, await requestDeviceSync(deps.services));
});

app.http(ROUTES.syncManagedDevices.name, { ...routeOptions(ROUTES.syncManagedDevices), handler: syncManagedDevices });
