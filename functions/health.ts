import { app } from '@azure/functions';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { checkHealth } from '../lib/useCases/health';

app.http(ROUTES.health.name, {
  ...routeOptions(ROUTES.health),
  handler: anonymousEndpoint(ROUTES.health, async ({ deps }) => {
    const report = await checkHealth(deps.services);
    return json(report.status === 'healthy' ? 200 : 503, report, { 'Cache-Control': 'no-store' });
  }),
});
