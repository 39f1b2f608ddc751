import { app } from '@azure/functions';
import { SUPPORT_MATRIX } from '../lib/core/supportMatrix';
import { endpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';

export const getSupportMatrix = endpoint(ROUTES.getSupportMatrix, async () => json(200, SUPPORT_MATRIX));

app.http(ROUTES.getSupportMatrix.name, { ...routeOptions(ROUTES.getSupportMatrix), handler: getSupportMatrix });
