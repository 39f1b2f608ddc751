import { app } from '@azure/functions';
import { consoleConfig } from '../lib/console/server/consoleConfig';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { CONSOLE_ROUTES, routeOptions } from '../lib/http/routes';

// Anonymous: the console needs it to sign in. It holds no secret (docs/console.md).
app.http(CONSOLE_ROUTES.consoleConfig.name, {
  ...routeOptions(CONSOLE_ROUTES.consoleConfig),
  handler: anonymousEndpoint(CONSOLE_ROUTES.consoleConfig, async ({ deps }) =>
    json(200, consoleConfig(deps.config), { 'Cache-Control': 'no-cache' }),
  ),
});
