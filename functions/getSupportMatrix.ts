import { app } from '@azure/functions';
import { SUPPORT_MATRIX } from '../lib/core/supportMatrix';
import { endpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES } from '../lib/http/routes';

app.http(ROUTES.getSupportMatrix.name, {
  methods: [ROUTES.getSupportMatrix.method],
  route: ROUTES.getSupportMatrix.route,
  authLevel: 'anonymous',
  handler: endpoint(ROUTES.getSupportMatrix.role, async () => json(200, SUPPORT_MATRIX)),
});
