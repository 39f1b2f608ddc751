import { app } from '@azure/functions';
import { apiDocumentServer } from '../lib/http/apiDocuments';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { apiBaseUrl } from '../lib/http/urls';

/**
 * GET /api/openapi.json and /api/swagger.json: the documents `npm run build` wrote into `dir` (the bundle's folder),
 * pointed at this app: PUBLIC_BASE_URL when set, else the request's origin, with the route prefix.
 */
export function apiDocumentHandlers(dir: string) {
  const openApi = apiDocumentServer(dir, 'openapi');
  const swagger = apiDocumentServer(dir, 'swagger');
  return {
    openApi: anonymousEndpoint(ROUTES.openApi, async ({ request, route, deps }) =>
      json(200, openApi(apiBaseUrl(request, route, deps.config.PUBLIC_BASE_URL))),
    ),
    swagger: anonymousEndpoint(ROUTES.swagger, async ({ request, route, deps }) =>
      json(200, swagger(apiBaseUrl(request, route, deps.config.PUBLIC_BASE_URL))),
    ),
  };
}

const handlers = apiDocumentHandlers(__dirname);
app.http(ROUTES.openApi.name, { ...routeOptions(ROUTES.openApi), handler: handlers.openApi });
app.http(ROUTES.swagger.name, { ...routeOptions(ROUTES.swagger), handler: handlers.swagger });
