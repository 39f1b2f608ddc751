import { join } from 'node:path';
import { app } from '@azure/functions';
import { type ConsoleBundle, consoleResponse, loadConsoleBundle } from '../lib/console/server/consoleAssets';
import { consoleConfig, consoleContentSecurityPolicy } from '../lib/console/server/consoleConfig';
import { apiError } from '../lib/core/errors';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { CONSOLE_ROUTES, routeOptions } from '../lib/http/routes';

// The build writes the console next to the app's bundle (dist/main.js → dist/console); read once, kept in memory.
const CONSOLE_DIR = join(__dirname, 'console');
let bundle: Promise<ConsoleBundle | undefined> | undefined;

async function loadOnce(): Promise<ConsoleBundle | undefined> {
  bundle ??= loadConsoleBundle(CONSOLE_DIR);
  const loaded = await bundle;
  if (!loaded) bundle = undefined; // not built (yet): look again next time
  return loaded;
}

app.http(CONSOLE_ROUTES.consolePage.name, {
  ...routeOptions(CONSOLE_ROUTES.consolePage),
  handler: anonymousEndpoint(CONSOLE_ROUTES.consolePage, async ({ request, deps }) => {
    const loaded = await loadOnce();
    if (!loaded)
      throw apiError('notFound', { reason: 'The admin console is not in this build; npm run build writes it.' });
    const response = consoleResponse(loaded, request.params.path ?? '', {
      acceptEncoding: request.headers.get('accept-encoding'),
      contentSecurityPolicy: consoleContentSecurityPolicy(consoleConfig(deps.config)),
    });
    if (!response) throw apiError('notFound', { reason: 'No such file in the admin console.' }, { target: 'path' });
    return response;
  }),
});
