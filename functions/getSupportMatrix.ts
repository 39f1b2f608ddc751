import { app } from '@azure/functions';
import { SUPPORT_MATRIX } from '../lib/core/supportMatrix';
import { endpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';

app.http(ROUTES.getSupportMatrix.name, {
  ...routeOptions(ROUTES.getSupportMatrix),
  handler: endpoint(ROUTES.getSupportMatrix, async () => json(200, SUPPORT_MATRIX)),
});
