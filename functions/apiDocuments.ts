import { app } from '@azure/functions';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { buildOpenApiDocument, buildSwaggerDocument } from '../lib/http/openapi';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';

// The documents point at the app: PUBLIC_BASE_URL (required in Azure), else the origin the request reached locally. Built once per origin: they never change at run time.
const MAX_CACHED_ORIGINS = 16;
const cache = new Map<string, object>();

function cached(key: string, build: () => object): object {
  let document = cache.get(key);
  if (!document) {
    if (cache.size >= MAX_CACHED_ORIGINS) cache.clear(); // a bound: Host headers come from callers
    document = build();
    cache.set(key, document);
  }
  return document;
}

app.http(ROUTES.openApi.name, {
  ...routeOptions(ROUTES.openApi),
  handler: anonymousEndpoint(ROUTES.openApi, async ({ request, deps }) => {
    const { origin } = new URL(deps.config.PUBLIC_BASE_URL ?? request.url);
    return json(
      200,
      cached(`openapi ${origin}`, () => buildOpenApiDocument({ serverUrl: origin })),
    );
  }),
});

app.http(ROUTES.swagger.name, {
  ...routeOptions(ROUTES.swagger),
  handler: anonymousEndpoint(ROUTES.swagger, async ({ request, deps }) => {
    const { host, protocol } = new URL(deps.config.PUBLIC_BASE_URL ?? request.url);
    const scheme = protocol.replace(/:$/, '');
    return json(
      200,
      cached(`swagger ${scheme}://${host}`, () => buildSwaggerDocument({ host, schemes: [scheme] })),
    );
  }),
});
