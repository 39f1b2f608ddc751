import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import type { Role } from '../../lib/security/caller';

export const ISSUER = 'https://login.microsoftonline.com/tenant-e2e/v2.0';
export const AUDIENCE = 'api://reset-passcode-e2e';

/** A JWKS endpoint on loopback and tokens signed with its key: an Entra ID stand-in for e2e tests. */
export interface TestIssuer {
  /** App settings for AUTH_MODE=entra against this issuer. */
  settings: Record<string, string>;
  /** A signed token: app-only by default (roles, no scp); pass `scp` for a user token, more claims or header fields. */
  token(claims: JWTPayload & { roles?: readonly Role[] }, header?: { typ?: string }): Promise<string>;
  /** `Authorization: Bearer` for an app-only caller holding `roles`. */
  as(roles: readonly Role[], name?: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const pair = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'e2e-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const token: TestIssuer['token'] = (claims, header = {}) =>
    new SignJWT({ ...claims, roles: claims.roles ? [...claims.roles] : undefined })
      .setProtectedHeader({ alg: 'RS256', kid: 'e2e-key', ...header })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(pair.privateKey);
  return {
    settings: {
      AUTH_MODE: 'entra',
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/keys`,
    },
    token,
    as: async (roles, name = 'ana@contoso.com') => ({
      Authorization: `Bearer ${await token({ roles, oid: `oid-${name}`, preferred_username: name })}`,
    }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
