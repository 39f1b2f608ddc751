import { app } from '@azure/functions';
import { getDeps } from '../lib/deps';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { createHealthCheck, type HealthReport } from '../lib/useCases/health';

let check: (() => Promise<HealthReport>) | undefined;

app.http(ROUTES.health.name, {
  ...routeOptions(ROUTES.health),
  handler: anonymousEndpoint(ROUTES.health, async () => {
    check ??= createHealthCheck(getDeps().services);
    const report = await check();
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (report.status !== 'healthy') headers['Retry-After'] = '5';
    return json(report.status === 'healthy' ? 200 : 503, report, headers);
  }),
});
