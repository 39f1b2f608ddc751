import type { StorageService } from './storageConnection';

/**
 * Reading storage connection strings, as the storage SDKs do:
 * https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string
 */

/** Azurite's development account: public, documented values, not secrets (https://learn.microsoft.com/azure/storage/common/storage-use-azurite#http-connection-strings). */
export const DEVELOPMENT_ACCOUNT = 'devstoreaccount1';
export const DEVELOPMENT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The `name=value` parts of a connection string, names in lower case (they are read without regard to case). */
export function connectionStringParts(connectionString: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return parts;
}

/** A service's endpoint: its own `<Service>Endpoint`, else the account's public one; undefined without either. */
export function serviceEndpoint(parts: Map<string, string>, service: StorageService): string | undefined {
  const explicit = parts.get(`${service}endpoint`);
  if (explicit) return explicit.replace(/\/+$/, '');
  const account = parts.get('accountname');
  if (!account) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  return `${protocol}://${account}.${service}.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
}
