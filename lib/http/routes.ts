import type { Role } from '../security/caller';

/**
 * Every HTTP route of docs/API.md, in one table: the functions register from it and the OpenAPI document is built
 * from it, so the two cannot drift.
 */
export interface RouteSpec {
  name: string;
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** After the /api route prefix. */
  route: string;
  /** The role a caller needs. Absent = anonymous, unless `signedIn`. */
  role?: Role;
  /** Any authenticated caller, whatever roles they hold. */
  signedIn?: true;
}

export const ROUTES = {
  putManagedDevice: {
    name: 'putManagedDevice',
    method: 'PUT',
    route: 'deviceManagement/managedDevices/{deviceId}',
    role: 'Devices.Manage',
  },
  listManagedDevices: {
    name: 'listManagedDevices',
    method: 'GET',
    route: 'deviceManagement/managedDevices',
    role: 'Devices.Read',
  },
  getManagedDevice: {
    name: 'getManagedDevice',
    method: 'GET',
    route: 'deviceManagement/managedDevices/{deviceId}',
    role: 'Devices.Read',
  },
  resetPasscode: {
    name: 'resetPasscode',
    method: 'POST',
    route: 'deviceManagement/managedDevices/{deviceId}/resetPasscode',
    role: 'Passcode.Reset',
  },
  getDeviceActionResult: {
    name: 'getDeviceActionResult',
    method: 'GET',
    route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}',
    role: 'Devices.Read',
  },
  cancelDeviceActionResult: {
    name: 'cancelDeviceActionResult',
    method: 'DELETE',
    route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}',
    role: 'Passcode.Reset',
  },
  listDeviceActionResults: {
    name: 'listDeviceActionResults',
    method: 'GET',
    route: 'deviceManagement/managedDevices/{deviceId}/deviceActionResults',
    role: 'Devices.Read',
  },
  listAllDeviceActionResults: {
    name: 'listAllDeviceActionResults',
    method: 'GET',
    route: 'deviceManagement/deviceActionResults',
    role: 'Devices.Read',
  },
  getSupportMatrix: {
    name: 'getSupportMatrix',
    method: 'GET',
    route: 'deviceManagement/resetPasscode/supportMatrix',
    role: 'Devices.Read',
  },
  listAuditEvents: {
    name: 'listAuditEvents',
    method: 'GET',
    route: 'deviceManagement/auditEvents',
    role: 'Audit.Read',
  },
  simulatorUnlock: {
    name: 'simulatorUnlock',
    method: 'POST',
    route: 'simulator/managedDevices/{deviceId}/unlock',
    // Whoever may read passcodes may try one on a device; readers of device state may not guess.
    role: 'Passcode.Read',
  },
  // Change notifications in the shape of Microsoft Graph's subscriptions: a notification carries nothing a reader
  // cannot see (never a passcode), so Devices.Read is enough to subscribe.
  createSubscription: {
    name: 'createSubscription',
    method: 'POST',
    route: 'deviceManagement/subscriptions',
    role: 'Devices.Read',
  },
  listSubscriptions: {
    name: 'listSubscriptions',
    method: 'GET',
    route: 'deviceManagement/subscriptions',
    role: 'Devices.Read',
  },
  getSubscription: {
    name: 'getSubscription',
    method: 'GET',
    route: 'deviceManagement/subscriptions/{subscriptionId}',
    role: 'Devices.Read',
  },
  renewSubscription: {
    name: 'renewSubscription',
    method: 'PATCH',
    route: 'deviceManagement/subscriptions/{subscriptionId}',
    role: 'Devices.Read',
  },
  deleteSubscription: {
    name: 'deleteSubscription',
    method: 'DELETE',
    route: 'deviceManagement/subscriptions/{subscriptionId}',
    role: 'Devices.Read',
  },
  // The Android Management channel's inventory sync (docs/android-management.md); 404 with any other channel.
  syncManagedDevices: {
    name: 'syncManagedDevices',
    method: 'POST',
    route: 'deviceManagement/androidManagement/sync',
    role: 'Devices.Manage',
  },
  getMe: { name: 'getMe', method: 'GET', route: 'me', signedIn: true },
  health: { name: 'health', method: 'GET', route: 'health' },
  openApi: { name: 'openApi', method: 'GET', route: 'openapi.json' },
  swagger: { name: 'swagger', method: 'GET', route: 'swagger.json' },
} as const satisfies Record<string, RouteSpec>;

/**
 * The admin console (docs/console.md): its configuration, and its page and static assets under one catch-all route
 * (the page's own paths, such as console/devices/{id}, are the single-page app's). Not part of the API documents.
 * A literal route wins over a catch-all in the Functions host's routing, so console/config is never an asset path.
 */
export const CONSOLE_ROUTES = {
  consoleConfig: { name: 'consoleConfig', method: 'GET', route: 'console/config' },
  consolePage: { name: 'consolePage', method: 'GET', route: 'console/{*path}' },
} as const satisfies Record<string, RouteSpec>;

/**
 * Google Cloud Pub/Sub's push of Android Management COMMAND notifications (docs/android-management.md): authenticated
 * by Google's OIDC token, not by a caller of the API, so not part of the API documents.
 */
export const PUSH_ROUTES = {
  androidManagementNotifications: {
    name: 'androidManagementNotifications',
    method: 'POST',
    route: 'androidManagement/notifications',
  },
} as const satisfies Record<string, RouteSpec>;

/**
 * The registration options of a route. authLevel is anonymous at the platform level because the app authenticates
 * every caller itself (Entra ID, App Service auth) and checks roles per endpoint.
 */
export const routeOptions = (spec: RouteSpec) => ({
  methods: [spec.method],
  route: spec.route,
  authLevel: 'anonymous' as const,
});
