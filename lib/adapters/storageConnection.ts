import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import * as z from '../zod';

/**
 * How a storage client reaches its account: a connection string (local use, Azurite), or service URIs with a
 * Microsoft Entra credential (Azure, no keys). The settings are the ones the Functions host reads for a connection:
 * https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
 */
export type StorageConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; tableServiceUri?: string; queueServiceUri?: string; credential: TokenCredential };

export type StorageService = 'blob' | 'queue' | 'table';

/** The `<prefix>__<property>` settings of an identity-based connection. */
export interface IdentitySettings {
  accountName?: string;
  blobServiceUri?: string;
  queueServiceUri?: string;
  tableServiceUri?: string;
  /** Alias of the one service URI of a single-service connection (not of AzureWebJobsStorage). */
  serviceUri?: string;
  credential?: string;
  clientId?: string;
  managedIdentityResourceId?: string;
}

export type StorageSettings =
  | { kind: 'connectionString'; setting: string; connectionString: string }
  | { kind: 'identity'; prefix: string; settings: IdentitySettings };

const IDENTITY_PROPERTIES = [
  'accountName',
  'blobServiceUri',
  'queueServiceUri',
  'tableServiceUri',
  'serviceUri',
  'credential',
  'clientId',
  'managedIdentityResourceId',
] as const satisfies readonly (keyof IdentitySettings)[];

export const HOST_STORAGE = 'AzureWebJobsStorage';

export class StorageSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageSettingsError';
  }
}

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

function identitySettingsAt(env: NodeJS.ProcessEnv, prefix: string): IdentitySettings | undefined {
  const found: IdentitySettings = {};
  for (const property of IDENTITY_PROPERTIES) {
    const value = env[`${prefix}__${property}`];
    if (present(value)) found[property] = value.trim();
  }
  return Object.keys(found).length > 0 ? found : undefined;
}

/**
 * Finds the settings of the connection `name` as the Functions host does: an app setting with exactly that name is a
 * connection string (it wins over a prefix match); otherwise `<name>__*` settings form an identity-based connection.
 * A name not found as is is also tried with the `AzureWebJobs` prefix, as binding `connection` properties are.
 */
export function readStorageSettings(env: NodeJS.ProcessEnv, name: string = HOST_STORAGE): StorageSettings | undefined {
  const names = name.startsWith('AzureWebJobs') ? [name] : [name, `AzureWebJobs${name}`];
  for (const candidate of names) {
    const value = env[candidate];
    if (present(value)) return { kind: 'connectionString', setting: candidate, connectionString: value.trim() };
  }
  for (const candidate of names) {
    const settings = identitySettingsAt(env, candidate);
    if (settings) return { kind: 'identity', prefix: candidate, settings };
  }
  return undefined;
}

/**
 * The data-plane URI of one service. `accountName` is shorthand for the public-cloud endpoints and, as the host
 * documents it, only for AzureWebJobsStorage; an explicit `<service>ServiceUri` wins over it.
 */
export function serviceUri(
  settings: IdentitySettings,
  service: StorageService,
  prefix: string = HOST_STORAGE,
): string | undefined {
  const explicit = settings[`${service}ServiceUri`];
  if (explicit) return explicit.replace(/\/+$/, '');
  if (prefix !== HOST_STORAGE && settings.serviceUri) return settings.serviceUri.replace(/\/+$/, '');
  if (prefix === HOST_STORAGE && settings.accountName)
    return `https://${settings.accountName}.${service}.core.windows.net`;
  return undefined;
}

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

/** What is wrong with an identity-based connection that needs `services`, one message per setting; [] when nothing. */
function identitySettingsProblems(
  prefix: string,
  settings: IdentitySettings,
  services: readonly StorageService[],
): { setting: string; message: string }[] {
  const problems: { setting: string; message: string }[] = [];
  const report = (property: string, message: string) => problems.push({ setting: `${prefix}__${property}`, message });
  if (settings.accountName !== undefined && !ACCOUNT_NAME.test(settings.accountName)) {
    report('accountName', 'must be a storage account name (3-24 lower-case letters and digits)');
  }
  for (const property of ['blobServiceUri', 'queueServiceUri', 'tableServiceUri', 'serviceUri'] as const) {
    const value = settings[property];
    // Bearer tokens are only ever sent over TLS (the SDKs refuse otherwise).
    if (value !== undefined && !(URL.canParse(value) && new URL(value).protocol === 'https:')) {
      report(property, 'must be an absolute https URL');
    }
  }
  for (const service of services) {
    if (!serviceUri(settings, service, prefix)) {
      report(
        `${service}ServiceUri`,
        prefix === HOST_STORAGE
          ? `is required for an identity-based connection (or set ${prefix}__accountName)`
          : 'is required for an identity-based connection',
      );
    }
  }
  if (settings.credential !== undefined && settings.credential.toLowerCase() !== 'managedidentity') {
    report('credential', 'must be "managedidentity" or unset (unset: DefaultAzureCredential)');
  }
  if (settings.clientId !== undefined && settings.managedIdentityResourceId !== undefined) {
    report('clientId', `must not be set together with ${prefix}__managedIdentityResourceId`);
  }
  return problems;
}

/**
 * The storage settings of the app's own clients (tables and queues), as zod fields of the config schema, and the rule
 * across them. A connection string and the identity-based settings are both accepted; the first wins, as in the host.
 */
const optional = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((s) => (s === '' ? undefined : s)),
  ),
);
export const StorageSettingsShape = {
  AzureWebJobsStorage: optional,
  AzureWebJobsStorage__accountName: optional,
  AzureWebJobsStorage__tableServiceUri: optional,
  AzureWebJobsStorage__queueServiceUri: optional,
  AzureWebJobsStorage__blobServiceUri: optional,
  AzureWebJobsStorage__credential: optional,
  AzureWebJobsStorage__clientId: optional,
  AzureWebJobsStorage__managedIdentityResourceId: optional,
};
type StorageConfigKey = keyof typeof StorageSettingsShape;

/** The services the app's own clients use. */
const APP_STORAGE_SERVICES: readonly StorageService[] = ['table', 'queue'];

/** The storage settings among parsed (or raw) settings. */
function storageSettingsOf(values: Partial<Record<string, unknown>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(StorageSettingsShape)) {
    const value = values[key];
    if (typeof value === 'string') env[key] = value;
  }
  return env;
}

/** The connection of the app's own table and queue clients, from its parsed settings. */
export function appStorageConnection(
  values: Partial<Record<string, unknown>>,
  createCredential?: (choice: CredentialChoice) => TokenCredential,
): StorageConnection {
  return storageConnection(storageSettingsOf(values), {
    services: APP_STORAGE_SERVICES,
    ...(createCredential && { createCredential }),
  });
}

/** Reports what is wrong with the app's storage settings (`values` may hold raw values when another setting failed). */
export function checkStorageSettings(
  values: Partial<Record<string, unknown>>,
  report: (key: StorageConfigKey, message: string) => void,
): void {
  const settings = readStorageSettings(storageSettingsOf(values));
  if (!settings) {
    report(
      HOST_STORAGE,
      `is required: a connection string, or the identity-based settings ${HOST_STORAGE}__accountName (or __tableServiceUri and __queueServiceUri) with ${HOST_STORAGE}__credential=managedidentity and ${HOST_STORAGE}__clientId`,
    );
    return;
  }
  if (settings.kind === 'identity') {
    for (const { setting, message } of identitySettingsProblems(
      settings.prefix,
      settings.settings,
      APP_STORAGE_SERVICES,
    )) {
      report(setting as StorageConfigKey, message);
    }
  }
}

/** Which `@azure/identity` credential the settings ask for, with its options. */
export type CredentialChoice =
  | {
      type: 'ManagedIdentityCredential';
      options: { clientId: string } | { resourceId: string } | Record<string, never>;
    }
  | { type: 'DefaultAzureCredential'; options: { managedIdentityClientId?: string } };

/**
 * `credential=managedidentity` means the app's managed identity (user-assigned when a client id or resource id is
 * given); without it, DefaultAzureCredential (environment, workload identity, managed identity, then developer tools),
 * which is what the Functions host does for local development.
 */
export function credentialChoice(settings: IdentitySettings): CredentialChoice {
  if (settings.credential?.toLowerCase() === 'managedidentity') {
    if (settings.clientId) return { type: 'ManagedIdentityCredential', options: { clientId: settings.clientId } };
    if (settings.managedIdentityResourceId) {
      return { type: 'ManagedIdentityCredential', options: { resourceId: settings.managedIdentityResourceId } };
    }
    return { type: 'ManagedIdentityCredential', options: {} };
  }
  return {
    type: 'DefaultAzureCredential',
    options: settings.clientId ? { managedIdentityClientId: settings.clientId } : {},
  };
}

/**
 * A credential that loads `@azure/identity` on its first token request: an app on a connection string never loads
 * it, and one on an identity pays for it once, off the start-up path.
 */
export function lazyCredential(choice: CredentialChoice): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  const load = async (): Promise<TokenCredential> => {
    const identity = await import('./identity');
    if (choice.type === 'DefaultAzureCredential') return new identity.DefaultAzureCredential(choice.options);
    const { options } = choice;
    if ('clientId' in options) return new identity.ManagedIdentityCredential({ clientId: options.clientId });
    if ('resourceId' in options) return new identity.ManagedIdentityCredential({ resourceId: options.resourceId });
    return new identity.ManagedIdentityCredential();
  };
  return {
    getToken: async (scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> => {
      credential ??= load();
      return (await credential).getToken(scopes, options);
    },
  };
}

/**
 * The connection `name` for clients of `services`, or a StorageSettingsError naming the settings to fix.
 * `createCredential` is injectable for tests.
 */
export function storageConnection(
  env: NodeJS.ProcessEnv,
  options: {
    name?: string;
    services: readonly StorageService[];
    createCredential?: (choice: CredentialChoice) => TokenCredential;
  },
): StorageConnection {
  const name = options.name ?? HOST_STORAGE;
  const settings = readStorageSettings(env, name);
  if (!settings) {
    throw new StorageSettingsError(
      `Storage connection "${name}" is not set: no app setting ${name} (a connection string) and no ${name}__* settings (an identity-based connection)`,
    );
  }
  if (settings.kind === 'connectionString') {
    return { kind: 'connectionString', connectionString: settings.connectionString };
  }
  const problems = identitySettingsProblems(settings.prefix, settings.settings, options.services);
  if (problems.length > 0) {
    throw new StorageSettingsError(
      `Storage connection "${name}" is not usable: ${problems.map((p) => `${p.setting} ${p.message}`).join('; ')}`,
    );
  }
  const uri = (service: StorageService) => serviceUri(settings.settings, service, settings.prefix);
  const tableServiceUri = uri('table');
  const queueServiceUri = uri('queue');
  return {
    kind: 'identity',
    ...(tableServiceUri && { tableServiceUri }),
    ...(queueServiceUri && { queueServiceUri }),
    credential: (options.createCredential ?? lazyCredential)(credentialChoice(settings.settings)),
  };
}

/** A connection given as a bare connection string (tests, tools, the benchmark) or already resolved. */
export const asConnection = (connection: StorageConnection | string): StorageConnection =>
  typeof connection === 'string' ? { kind: 'connectionString', connectionString: connection } : connection;
