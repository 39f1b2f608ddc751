import { randomBytes, randomInt } from 'node:crypto';
import { AesGcmCipher, parseEncryptionKeys } from './adapters/aesGcmCipher';
import type { AndroidManagement, PushedOperation } from './adapters/androidManagement';
import { parseGoogleCredential } from './adapters/androidManagement/credentials';
import { HttpNotificationSender } from './adapters/httpNotificationSender';
import { SimulatedDeviceChannel } from './adapters/simulatedDeviceChannel';
import {
  ensureQueue,
  queueClient,
  StorageActionQueue,
  StorageDeviceSyncQueue,
  StorageNotificationQueue,
} from './adapters/storageActionQueue';
import { appStorageConnection, lazyCredential, type StorageConnection } from './adapters/storageConnection';
import { TableActionSchedule } from './adapters/tableActionSchedule';
import { TableActionStore } from './adapters/tableActionStore';
import { TableAuditLog } from './adapters/tableAuditLog';
import { ensureTable, type StorageRequestObserver, tableClient } from './adapters/tableClients';
import { TableDeviceStore } from './adapters/tableDeviceStore';
import { TableIdempotencyKeys } from './adapters/tableIdempotencyKeys';
import { TableSubscriptionStore } from './adapters/tableSubscriptionStore';
import { WebhookDeviceChannel } from './adapters/webhookDeviceChannel';
import { type Config, isDevelopment, parseConfig, parseStatusLinkKeys } from './config';
import { TransientError } from './core/errors';
import type { Clock, DeviceChannel, Logger, ManagedDeviceSource } from './ports';
import { type Authenticator, createAuthenticator } from './security/authenticate';
import { createPageTokenSigner, type PageTokenSigner } from './security/pageToken';
import { createPushVerifier } from './security/pubsubPush';
import { createStatusLinkSigner, type StatusLinkSigner } from './security/statusLink';
import { instrumentServices } from './telemetry/instrument';
import { telemetryEnabled } from './telemetry/telemetry';
import type { Services } from './useCases/services';

/** Storage names: fixed, documented in docs/ and created by tools/start.ts (or infrastructure) before use. */
export const STORAGE_NAMES = {
  queue: 'reset-passcode',
  poisonQueue: 'reset-passcode-poison',
  notificationQueue: 'notifications',
  notificationPoisonQueue: 'notifications-poison',
  deviceSyncQueue: 'device-sync',
  deviceSyncPoisonQueue: 'device-sync-poison',
  tables: {
    devices: 'devices',
    actions: 'deviceActions',
    idempotency: 'idempotencyKeys',
    audit: 'auditEvents',
    schedule: 'actionSchedule',
    subscriptions: 'subscriptions',
    deliveries: 'notificationDeliveries',
    simulator: 'simulatedDevices',
  },
} as const;

export interface AppDeps {
  config: Config;
  services: Services;
  authenticate: Authenticator;
  statusLinks: StatusLinkSigner;
  pageTokens: PageTokenSigner;
  /** Only with DEVICE_CHANNEL=simulated. */
  simulator?: SimulatedDeviceChannel;
  /** Checks a Pub/Sub push's OIDC token; only with the Android Management channel and its push settings. */
  verifyPush?: (authorization: string | null) => Promise<void>;
  /** Reads the Operation of an Android Management COMMAND notification; only with that channel. */
  pushedOperation?: (data: unknown) => Promise<PushedOperation | undefined>;
}

const systemClock: Clock = { now: () => new Date() };

/** Log lines as one JSON object each; callers pass ids and outcomes only, never secrets. */
export const consoleLogger: Logger = {
  info: (message, fields) => console.info(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message, fields) => console.warn(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
};

export interface BuildDepsOptions {
  /** Sees every request of every storage client (the benchmark counts round trips with one). */
  onStorageRequest?: StorageRequestObserver;
  /** Settings already parsed from `env`. */
  config?: Config;
  /** The storage connection already resolved from the settings. */
  storage?: StorageConnection;
}

/** Builds every client and adapter from the settings. */
export function buildDeps(env: NodeJS.ProcessEnv, clock: Clock = systemClock, options: BuildDepsOptions = {}): AppDeps {
  const config = options.config ?? parseConfig(env);
  const storage = options.storage ?? appStorageConnection(config);
  const observe = options.onStorageRequest;
  const table = (name: string) => tableClient(storage, name, observe);
  const keys = parseEncryptionKeys(config.PASSCODE_ENCRYPTION_KEYS);
  const androidManagement =
    config.DEVICE_CHANNEL === 'androidManagement' ? androidManagementAdapters(config, clock) : undefined;
  const simulator =
    config.DEVICE_CHANNEL === 'simulated'
      ? new SimulatedDeviceChannel(table(STORAGE_NAMES.tables.simulator), {
          latencyMs: config.SIMULATOR_LATENCY_MS,
          transientFailureRate: config.SIMULATOR_TRANSIENT_FAILURE_RATE,
          verifierCost: config.SIMULATOR_VERIFIER_COST,
          randomInt,
          clock,
        })
      : undefined;
  const channel: DeviceChannel =
    simulator ??
    androidManagement?.channel ??
    new WebhookDeviceChannel({
      url: config.DEVICE_CHANNEL_URL ?? '',
      secret: Buffer.from(config.DEVICE_CHANNEL_SECRET ?? '', 'utf8'),
      timeoutMs: config.DEVICE_CHANNEL_TIMEOUT_MS,
      clock,
    });
  const plainServices: Services = {
    clock,
    randomInt,
    randomHex: (bytes) => randomBytes(bytes).toString('hex'),
    cipher: new AesGcmCipher(keys),
    devices: new TableDeviceStore(table(STORAGE_NAMES.tables.devices)),
    actions: new TableActionStore({ actions: table(STORAGE_NAMES.tables.actions) }),
    schedule: new TableActionSchedule(table(STORAGE_NAMES.tables.schedule)),
    idempotencyKeys: new TableIdempotencyKeys(table(STORAGE_NAMES.tables.idempotency)),
    queue: new StorageActionQueue(queueClient(storage, STORAGE_NAMES.queue, observe)),
    subscriptions: new TableSubscriptionStore({
      subscriptions: table(STORAGE_NAMES.tables.subscriptions),
      deliveries: table(STORAGE_NAMES.tables.deliveries),
    }),
    notifications: new StorageNotificationQueue(queueClient(storage, STORAGE_NAMES.notificationQueue, observe)),
    notifier: new HttpNotificationSender({ refusePrivateAddresses: !isDevelopment(config) }),
    channel,
    ...(androidManagement && { deviceSource: androidManagement.source }),
    deviceSync: new StorageDeviceSyncQueue(queueClient(storage, STORAGE_NAMES.deviceSyncQueue, observe)),
    audit: new TableAuditLog(table(STORAGE_NAMES.tables.audit)),
    log: consoleLogger,
    settings: {
      leaseSeconds: config.WORKER_LEASE_SECONDS,
      passcodeDisplayHours: config.PASSCODE_DISPLAY_HOURS,
      retryWindowMinutes: config.DEVICE_RETRY_WINDOW_MINUTES,
      maxResetsPerDevicePerDay: config.MAX_RESETS_PER_DEVICE_PER_DAY,
      stuckAfterSeconds: config.STUCK_AFTER_SECONDS,
      actionExpiryHours: config.ACTION_EXPIRY_HOURS,
      retentionDays: config.RETENTION_DAYS,
      development: isDevelopment(config),
      deviceChannel: config.DEVICE_CHANNEL,
      subscriptions: {
        maxPerOwner: config.MAX_SUBSCRIPTIONS_PER_OWNER,
        creationsPerHour: config.SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR,
        workflowMaxAgeDays: config.WORKFLOW_SUBSCRIPTION_MAX_AGE_DAYS,
      },
    },
  };
  // Spans and metrics around queues, device channel and notifications only when an exporter is configured
  // (docs/operations.md): without one the services are the plain adapters.
  const services = telemetryEnabled(env)
    ? instrumentServices(plainServices, {
        resets: STORAGE_NAMES.queue,
        notifications: STORAGE_NAMES.notificationQueue,
      })
    : plainServices;
  const authenticate = createAuthenticator(
    config.AUTH_MODE === 'entra'
      ? {
          mode: 'entra',
          issuer: config.AUTH_ISSUER ?? '',
          audience: config.AUTH_AUDIENCE ?? '',
          jwksUrl: config.AUTH_JWKS_URL ?? '',
          requiredScope: config.AUTH_REQUIRED_SCOPE,
          allowedClientIds: config.AUTH_ALLOWED_CLIENT_IDS,
        }
      : config.AUTH_MODE === 'appService'
        ? {
            mode: 'appService',
            requiredScope: config.AUTH_REQUIRED_SCOPE,
            allowedClientIds: config.AUTH_ALLOWED_CLIENT_IDS,
          }
        : { mode: config.AUTH_MODE },
  );
  const linkKeys = parseStatusLinkKeys(config.STATUS_LINK_KEYS);
  const statusLinks = createStatusLinkSigner({ keys: linkKeys, ttlSeconds: config.STATUS_LINK_TTL_SECONDS, clock });
  const pageTokens = createPageTokenSigner(linkKeys);
  const verifyPush = pushVerifier(config);
  return {
    config,
    services,
    authenticate,
    statusLinks,
    pageTokens,
    ...(simulator && { simulator }),
    ...(verifyPush && { verifyPush }),
    ...(androidManagement && { pushedOperation: androidManagement.pushedOperation }),
  };
}

/** The Pub/Sub push check, when the Android Management channel has its push settings. */
function pushVerifier(config: Config) {
  const audience = config.ANDROID_MANAGEMENT_PUSH_AUDIENCE;
  const serviceAccount = config.ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT;
  if (config.DEVICE_CHANNEL !== 'androidManagement' || !audience || !serviceAccount) return undefined;
  return createPushVerifier({ jwksUrl: config.ANDROID_MANAGEMENT_PUSH_JWKS_URL, audience, serviceAccount });
}

/**
 * The Android Management channel and device source. The channel, with Google's libraries, is loaded on its first use (a
 * bundle of its own, dist/androidManagement.js); until then these are thin stand-ins that load it. Keyless credentials
 * get their subject token from the function app's managed identity (the user-assigned one of
 * AzureWebJobsStorage__clientId, else the system-assigned one).
 */
function androidManagementAdapters(config: Config, clock: Clock) {
  const clientId = config.AzureWebJobsStorage__clientId;
  const identity = lazyCredential({ type: 'ManagedIdentityCredential', options: clientId ? { clientId } : {} });
  const subjectToken = async () => {
    const token = await identity.getToken(`${config.ANDROID_MANAGEMENT_FEDERATION_AUDIENCE}/.default`);
    if (!token) throw new Error('the managed identity returned no token for workload identity federation');
    return token.token;
  };
  let loaded: Promise<AndroidManagement> | undefined;
  const load = () => {
    loaded ??= import('./adapters/androidManagement')
      .then((module) =>
        module.createAndroidManagement({
          enterprise: config.ANDROID_MANAGEMENT_ENTERPRISE ?? '',
          credential: parseGoogleCredential(config.ANDROID_MANAGEMENT_CREDENTIALS ?? ''),
          rootUrl: config.ANDROID_MANAGEMENT_ROOT_URL,
          subjectToken,
          timeoutMs: ANDROID_MANAGEMENT_TIMEOUT_MS,
          commandHours: config.ANDROID_MANAGEMENT_COMMAND_HOURS,
          lockNow: config.ANDROID_MANAGEMENT_LOCK_NOW,
          clock,
        }),
      )
      .catch((error: unknown) => {
        loaded = undefined; // let the next call try again
        throw error;
      });
    return loaded;
  };
  const channel: DeviceChannel = {
    send: (request) => across(async () => (await load()).channel.send(request)),
    check: (command) => across(async () => (await load()).channel.check(command)),
    cancel: (command) => across(async () => (await load()).channel.cancel(command)),
  };
  const source: ManagedDeviceSource = {
    listPage: (pageToken) => across(async () => (await load()).source.listPage(pageToken)),
  };
  return { channel, source, pushedOperation: async (data: unknown) => (await load()).pushedOperation(data) };
}

/**
 * Runs a call into another bundle. Its TransientError is that bundle's copy of the class, which `instanceof` here does
 * not recognise: it is made this bundle's TransientError again (a device's "try later"), everything else goes as is.
 */
async function across<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error && !(error instanceof TransientError) && error.name === 'TransientError') {
      const { retryAfterSeconds } = error as Error & { retryAfterSeconds?: number };
      throw new TransientError(error.message, retryAfterSeconds);
    }
    throw error;
  }
}

/** Per call to Google's API, covering the whole answer (a worker must not hang on it). */
const ANDROID_MANAGEMENT_TIMEOUT_MS = 20_000;

/**
 * Creates every table and queue the app uses, when missing (idempotent). The app does it at start-up, so that a new
 * storage account (Azurite under `func start`, or a first deployment) works without a separate provisioning step.
 */
export async function ensureStorage(connection: StorageConnection | string): Promise<void> {
  await Promise.all([
    ...Object.values(STORAGE_NAMES.tables).map((name) => ensureTable(tableClient(connection, name))),
    ...[
      STORAGE_NAMES.queue,
      STORAGE_NAMES.poisonQueue,
      STORAGE_NAMES.notificationQueue,
      STORAGE_NAMES.notificationPoisonQueue,
      STORAGE_NAMES.deviceSyncQueue,
      STORAGE_NAMES.deviceSyncPoisonQueue,
    ].map((name) => ensureQueue(queueClient(connection, name))),
  ]);
}

let config: Config | undefined;
let storage: StorageConnection | undefined;
let deps: AppDeps | undefined;

/** The settings, parsed once. The app calls this while it loads, so that a bad setting stops start-up. */
export function getConfig(): Config {
  config ??= parseConfig(process.env);
  return config;
}

/** The app's storage connection (a connection string, or service URIs with a credential), resolved once. */
export function getStorage(): StorageConnection {
  storage ??= appStorageConnection(getConfig());
  return storage;
}

/** The process-wide dependencies, built on first use (clients are not needed to start, only to serve). */
export function getDeps(): AppDeps {
  deps ??= buildDeps(process.env, systemClock, { config: getConfig(), storage: getStorage() });
  return deps;
}
