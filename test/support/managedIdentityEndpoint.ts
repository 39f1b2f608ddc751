import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';

/**
 * A stand-in for App Service's local managed identity endpoint (the `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`
 * protocol, api-version 2019-08-01): https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
 * It serves one user-assigned identity, on loopback, and records every token request.
 */
export interface ManagedIdentityEndpoint {
  /** IDENTITY_ENDPOINT */
  url: string;
  /** IDENTITY_HEADER */
  header: string;
  clientId: string;
  tenantId: string;
  requests: { resource: string | null; clientId: string | null; apiVersion: string | null; status: number }[];
  stop(): Promise<void>;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Tokens carry what Azurite's `--oauth basic` checks (an Entra issuer, the storage audience, iat/nbf/exp). They are
 * not signed by Entra: Azurite does not verify signatures, which is why this works at all.
 */
function accessToken(
  resource: string,
  clientId: string,
  tenantId: string,
  now: number,
): { token: string; exp: number } {
  const exp = now + 3600;
  const claims = {
    aud: resource,
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp,
    appid: clientId,
    oid: randomUUID(),
    sub: clientId,
    tid: tenantId,
    idtyp: 'app',
    ver: '1.0',
  };
  const token = `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(claims)}.${randomBytes(64).toString('base64url')}`;
  return { token, exp };
}

export async function startManagedIdentityEndpoint(): Promise<ManagedIdentityEndpoint> {
  const header = randomBytes(16).toString('hex');
  const clientId = randomUUID();
  const tenantId = randomUUID();
  const requests: ManagedIdentityEndpoint['requests'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const resource = url.searchParams.get('resource');
    const requestedClient = url.searchParams.get('client_id');
    const answer = (status: number, body: unknown) => {
      requests.push({ resource, clientId: requestedClient, apiVersion: url.searchParams.get('api-version'), status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/msi/token') return answer(404, { error: 'not_found' });
    if (req.headers['x-identity-header'] !== header) return answer(401, { error: 'invalid X-IDENTITY-HEADER' });
    if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) return answer(400, { error: 'bad request' });
    if (requestedClient !== clientId) return answer(400, { error: 'no such user-assigned identity' });
    const { token, exp } = accessToken(resource, clientId, tenantId, Math.floor(Date.now() / 1000));
    return answer(200, {
      access_token: token,
      expires_on: String(exp),
      resource,
      token_type: 'Bearer',
      client_id: clientId,
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the identity endpoint has no port');
  return {
    url: `http://127.0.0.1:${address.port}/msi/token`,
    header,
    clientId,
    tenantId,
    requests,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
