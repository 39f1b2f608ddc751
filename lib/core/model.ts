import * as z from '../zod';

// Schemas are built on first use (z.lazy): building every one of the app's schemas when the bundle loads was the
// largest part of a cold start, and one invocation needs only a few (docs/PERFORMANCE.md "Bundle and cold start").

/** deviceId and actionId: 1-128 chars of [A-Za-z0-9._-] (docs/API.md); safe as table keys and in URLs. */
export const IdSchema = z.lazy(() =>
  z.string().check(
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[A-Za-z0-9._-]+$/, 'must be 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"'),
    z.refine((s) => s !== '.' && s !== '..', 'must not be "." or ".."'),
  ),
);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A device id as the app keeps it: a GUID-shaped id (Intune's managedDevice ids) in lower case, since `3F0C…` and
 * `3f0c…` are one Intune device; any other id exactly as given (docs/API.md "Conventions").
 */
export const normalizeDeviceId = (id: string): string => (GUID.test(id) ? id.toLowerCase() : id);

/** A deviceId from a request: an id (IdSchema), GUIDs compared without regard to case (normalizeDeviceId). */
export const DeviceIdSchema = z.lazy(() => z.pipe(IdSchema, z.transform(normalizeDeviceId)));

/** True when text holds control characters other than tab, CR and LF (they corrupt logs and UIs). */
const hasControlCharacters = (text: string): boolean =>
  [...text].some((c) => {
    const code = c.charCodeAt(0);
    return (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') || code === 0x7f;
  });

/** Free text from callers: bounded and without control characters. */
export const textSchema = (max: number) =>
  z.string().check(
    z.maxLength(max),
    z.refine((s) => !hasControlCharacters(s), 'must not contain control characters'),
  );

export const OPERATING_SYSTEMS = ['iOS', 'Android', 'AndroidForWork', 'WindowsPhone', 'Windows', 'macOS'] as const;
export const OperatingSystemSchema = z.enum(OPERATING_SYSTEMS);
export type OperatingSystem = z.infer<typeof OperatingSystemSchema>;

/** Dotted numeric version: "16.4.1", "10.0.15063". */
export const OsVersionSchema = z.lazy(() =>
  z
    .string()
    .check(z.maxLength(32), z.regex(/^\d{1,9}(\.\d{1,9}){0,3}$/, 'must be a dotted numeric version such as 16.4.1')),
);

export const PasscodePolicySchema = z.lazy(() =>
  z.strictObject({
    minLength: z._default(z.int().check(z.minimum(4), z.maximum(16)), 6),
    characters: z._default(z.enum(['numeric', 'alphanumeric']), 'numeric'),
    complex: z._default(z.boolean(), false),
  }),
);
export type PasscodePolicy = z.infer<typeof PasscodePolicySchema>;
export const DEFAULT_PASSCODE_POLICY: PasscodePolicy = { minLength: 6, characters: 'numeric', complex: false };

/** What a caller sends to register or update a device (PUT). */
export const DeviceInputSchema = z.lazy(() =>
  z.strictObject({
    deviceName: z.pipe(textSchema(256), z.string().check(z.trim(), z.minLength(1))),
    operatingSystem: OperatingSystemSchema,
    osVersion: OsVersionSchema,
    azureADJoined: z._default(z.boolean(), false),
    userPrincipalName: z.optional(
      z.string().check(z.maxLength(256), z.regex(/^[^\s@]+@[^\s@]+$/, 'must look like user@domain')),
    ),
    passcodePolicy: z._default(PasscodePolicySchema, DEFAULT_PASSCODE_POLICY),
  }),
);
export type DeviceInput = z.infer<typeof DeviceInputSchema>;

export interface Device extends DeviceInput {
  id: string;
  createdDateTime: string;
  lastUpdatedDateTime: string;
  /** What Google's Android Management API says of the device, on devices its inventory sync registered. */
  androidManagement?: AndroidManagementFacts;
}

/** The device channels (the DEVICE_CHANNEL setting). */
export const DEVICE_CHANNELS = ['simulated', 'webhook', 'androidManagement'] as const;
export type DeviceChannelKind = (typeof DEVICE_CHANNELS)[number];

export const ANDROID_MANAGEMENT_STATES = [
  'active',
  'disabled',
  'deleted',
  'provisioning',
  'lost',
  'preparingForMigration',
  'deactivatedByDeviceFinance',
  'unspecified',
] as const;

/** A device as the Android Management API reports it (enterprises.devices), in this API's words. */
export interface AndroidManagementFacts {
  /** The device's resource name, `enterprises/{enterpriseId}/devices/{deviceId}`. */
  name: string;
  /** Fully managed (device owner) or a work profile (profile owner). */
  managementMode: 'fullyManaged' | 'workProfile';
  ownership: 'companyOwned' | 'personallyOwned' | 'unspecified';
  /** `deleted` when the device left the enterprise (it is no longer listed). */
  state: (typeof ANDROID_MANAGEMENT_STATES)[number];
  apiLevel?: number;
  /** The device's last status report: its last contact. */
  lastStatusReportDateTime?: string;
  enrollmentDateTime?: string;
  /** When the inventory sync last saw the device. */
  syncedDateTime: string;
}

export const ACTION_STATES = ['pending', 'active', 'done', 'failed', 'canceled', 'notSupported'] as const;
export const ActionStateSchema = z.enum(ACTION_STATES);
export type ActionState = z.infer<typeof ActionStateSchema>;

export interface ActionError {
  code: string;
  message: string;
}

/** A sealed (encrypted) secret as stored: the key id travels with the ciphertext so keys can rotate. */
export interface SealedSecret {
  keyId: string;
  value: string;
}

/** The reset passcode action as stored. The passcode only ever exists here sealed. */
export interface DeviceAction {
  id: string;
  deviceId: string;
  actionName: 'resetPasscode';
  actionState: ActionState;
  startDateTime: string;
  lastUpdatedDateTime: string;
  requestedBy: string;
  requestedById: string;
  reason?: string;
  /** What the passcode must fit, captured when the reset was requested (the worker needs no device read). */
  target: { operatingSystem: OperatingSystem; osVersion: string; passcodePolicy: PasscodePolicy };
  /** Delivery attempts made by workers (claims). */
  attempts: number;
  /** While a worker applies the passcode: until when its claim holds (renewed while the device channel works). */
  claimedUntil?: string;
  /** The queue message whose delivery holds the claim: a redelivery of that very message means the last one died. */
  claimedBy?: string;
  /** Deliveries that claimed the action and then died before recording anything (found by their redelivery). */
  crashedDeliveries?: number;
  /** After a transient device failure: when the next attempt is due. */
  nextAttemptDateTime?: string;
  /** The last transient failure while the action is still being retried. */
  lastError?: ActionError;
  /** SHA-256 of the caller and Idempotency-Key that created it, when the request had one. */
  idempotencyKeyHash?: string;
  sealedPasscode?: SealedSecret;
  /** When the device confirmed the passcode; the display window starts here. */
  appliedDateTime?: string;
  passcodeExpirationDateTime?: string;
  error?: ActionError;
  /**
   * Once the passcode command is in the device channel's hands and only waits for the device (or its fate must be
   * asked): what the app knows of it. While it is here the worker never sends again; it asks the channel.
   */
  command?: DeviceCommand;
}

/**
 * A passcode command that finishes later. `waitingForDevice`: the channel took it and the device has not run it yet.
 * `confirming`: the channel did not answer the send (a timeout, a 5xx) until the retry window ended, so the app asks
 * it how the command ended instead of sending again or guessing.
 */
export interface DeviceCommand {
  state: 'waitingForDevice' | 'confirming';
  /** What the channel needs to look the command up (Android Management: the operation name). */
  reference?: string;
  /** When the channel took the command (or, confirming, when the app started asking). */
  sentDateTime: string;
  /** When the command can no longer be applied, where the channel says (Android Management: sent + duration). */
  expiresDateTime?: string;
  /** The device's last contact with the channel, where the channel knows it. */
  deviceLastSeenDateTime?: string;
  /** Status checks made so far; the wait between checks grows with them. */
  checks: number;
  /** An admin asked to cancel it, and the channel was asked to. */
  cancelRequestedDateTime?: string;
}

/**
 * What a device channel says of a passcode command (lib/ports.ts DeviceChannel). `failed` and `notSupported` mean the
 * command was not and will not be applied; `unknown` means the channel cannot tell at all.
 */
export type CommandStatus =
  | { status: 'applied' }
  | { status: 'waiting'; reference: string; expiresDateTime?: string; deviceLastSeenDateTime?: string }
  | { status: 'failed' | 'notSupported'; code: string; message: string }
  | { status: 'canceled' }
  | { status: 'unknown'; message: string };

/** The queue message: ids only, never a secret (docs/DESIGN.md invariant 5). */
/** A W3C trace context `traceparent` (version 00): https://www.w3.org/TR/trace-context/#traceparent-header */
export const TraceparentSchema = z.lazy(() =>
  z.string().check(z.regex(/^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/)),
);

/**
 * The queue message: ids only, never a secret (docs/DESIGN.md invariant 5), and the trace of the request that accepted
 * the action, so that its work is traced as part of that request.
 */
export const ResetMessageSchema = z.lazy(() =>
  z.strictObject({
    v: z.literal(1),
    actionId: IdSchema,
    deviceId: IdSchema,
    traceparent: z.optional(TraceparentSchema),
  }),
);
export type ResetMessage = z.infer<typeof ResetMessageSchema>;
