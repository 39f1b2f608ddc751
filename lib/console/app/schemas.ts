import * as z from 'zod/mini';

// What the console reads from the API (docs/API.md), checked where it arrives. Objects are not strict:
// the API may add properties, and the console ignores what it does not know.

const ROLES = ['Devices.Read', 'Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read'] as const;
export type Role = (typeof ROLES)[number];

export const OPERATING_SYSTEMS = ['iOS', 'Android', 'AndroidForWork', 'WindowsPhone', 'Windows', 'macOS'] as const;
export const ACTION_STATES = ['pending', 'active', 'done', 'failed', 'canceled', 'notSupported'] as const;
export type ActionState = (typeof ACTION_STATES)[number];

export const ConsoleConfigSchema = z.union([
  z.object({ authMode: z.literal('none') }),
  z.object({ authMode: z.literal('appService'), signInUrl: z.string() }),
  z.object({
    authMode: z.literal('entra'),
    clientId: z.string(),
    authority: z.url(),
    scopes: z.array(z.string()),
  }),
  z.object({ authMode: z.literal('entra'), problem: z.string() }),
]);
export type ConsoleConfig = z.infer<typeof ConsoleConfigSchema>;

export const MeSchema = z.object({ id: z.string(), name: z.string(), roles: z.array(z.string()) });
export type Me = z.infer<typeof MeSchema>;

export const ActionSchema = z.object({
  id: z.string(),
  deviceId: z.string(),
  actionState: z.enum(ACTION_STATES),
  startDateTime: z.string(),
  lastUpdatedDateTime: z.string(),
  requestedBy: z.string(),
  reason: z.optional(z.string()),
  passcode: z.optional(z.string()),
  passcodeExpirationDateTime: z.optional(z.string()),
  error: z.optional(z.object({ code: z.string(), message: z.string() })),
  deviceCommand: z.optional(
    z.object({
      state: z.string(),
      sentDateTime: z.string(),
      expirationDateTime: z.optional(z.string()),
      deviceLastContactDateTime: z.optional(z.string()),
      cancelRequestedDateTime: z.optional(z.string()),
    }),
  ),
});
export type Action = z.infer<typeof ActionSchema>;

/** A command that waits for the device: the action may be canceled through the device channel. */
export const isWaitingForDevice = (action: Action) =>
  action.actionState === 'active' && action.deviceCommand?.state === 'waitingForDevice';

/** Whether an ended action has a passcode to show: done, or failed as outcomeUnknown (the device may have it). */
export const hasPasscode = (action: Action) =>
  action.actionState === 'done' || (action.actionState === 'failed' && action.error?.code === 'outcomeUnknown');

export const DeviceSchema = z.object({
  id: z.string(),
  deviceName: z.string(),
  operatingSystem: z.enum(OPERATING_SYSTEMS),
  osVersion: z.string(),
  azureADJoined: z.optional(z.boolean()),
  userPrincipalName: z.optional(z.string()),
  passcodePolicy: z.optional(
    z.object({
      minLength: z.optional(z.number()),
      characters: z.optional(z.string()),
      complex: z.optional(z.boolean()),
    }),
  ),
  lastUpdatedDateTime: z.optional(z.string()),
  resetPasscodeSupport: z.object({ supported: z.boolean(), message: z.optional(z.string()) }),
  lastResetPasscode: z.optional(ActionSchema),
  androidManagement: z.optional(
    z.object({
      managementMode: z.enum(['fullyManaged', 'workProfile']),
      state: z.string(),
      lastStatusReportDateTime: z.optional(z.string()),
    }),
  ),
});
export type Device = z.infer<typeof DeviceSchema>;

export const SupportMatrixSchema = z.object({
  source: z.string(),
  rules: z.array(
    z.object({
      operatingSystem: z.enum(OPERATING_SYSTEMS),
      minVersion: z.optional(z.string()),
      maxVersionExclusive: z.optional(z.string()),
      azureADJoined: z.optional(z.boolean()),
      supported: z.boolean(),
      note: z.string(),
      source: z.string(),
    }),
  ),
});
export type SupportMatrix = z.infer<typeof SupportMatrixSchema>;

export const AuditEventSchema = z.object({
  id: z.string(),
  eventDateTime: z.string(),
  eventType: z.string(),
  callerName: z.string(),
  deviceId: z.string(),
  actionId: z.optional(z.string()),
  reason: z.optional(z.string()),
  outcome: z.string(),
  detail: z.optional(z.string()),
});

/** A page of a list (`value`, `@odata.nextLink`). */
export const pageOf = <T extends z.core.$ZodType>(item: T) =>
  z.object({ value: z.array(item), '@odata.nextLink': z.optional(z.string()) });

export const ErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
