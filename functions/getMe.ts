import { app } from '@azure/functions';
import { signedInEndpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';
import { ROUTES, routeOptions } from '../lib/http/routes';
import { ALL_ROLES } from '../lib/security/caller';

// The admin console asks who it is serving, to hide or disable what the caller's roles do not allow (docs/API.md).
export const getMe = signedInEndpoint(ROUTES.getMe, async ({ caller }) =>
  json(
    200,
    { id: caller.id, name: caller.name, roles: ALL_ROLES.filter((role) => caller.roles.has(role)) },
    { 'Cache-Control': 'no-store' },
  ),
);

app.http(ROUTES.getMe.name, { ...routeOptions(ROUTES.getMe), handler: getMe });
