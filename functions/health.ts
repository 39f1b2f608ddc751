import { app } from '@azure/functions';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { createHealthCheck, type HealthReport } from '../lib/useCases/health';
import type { Services } from '../lib/useCases/services';

// One cached check per set of services: the app has one; in-process tests install a fresh one per test.
const checks = new WeakMap<Services, () => Promise<HealthReport>>();

export const health = anonymousEndpoint(ROUTES.health, async ({ deps }) => {
  let check = checks.get(deps.services);
  if (!check) {
    check = createHealthCheck(deps.services);
    checks.set(deps.services, check);
  }
  const report = await check();
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (report.status !== 'healthy') headers['Retry-After'] = '5';
  return json(report.status === 'healthy' ? 200 : 503, report, headers);
});

app.http(ROUTES.health.name, { ...routeOptions(ROUTES.health), handler: health });
