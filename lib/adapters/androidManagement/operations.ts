import type { androidmanagement_v1 } from 'googleapis/build/src/apis/androidmanagement/v1';
import { TransientError } from '../../core/errors';
import {
  type AndroidManagementFacts,
  type CommandStatus,
  DEFAULT_PASSCODE_POLICY,
  type Device,
  IdSchema,
  type PasscodePolicy,
} from '../../core/model';

// What the Android Management channel reads from and writes to Google's API, as pure functions. The shapes are the
// v1 discovery document's (revision 20240531): Command, Operation, Device, PasswordRequirements.
// https://developers.google.com/android/management/reference/rest

export type ApiOperation = androidmanagement_v1.Schema$Operation;
export type ApiDevice = androidmanagement_v1.Schema$Device;
export type ApiCommand = androidmanagement_v1.Schema$Command;
type PasswordRequirements = androidmanagement_v1.Schema$PasswordRequirements;

/** The calls the channel makes (lib/adapters/androidManagement/client.ts makes them with googleapis). */
export interface AndroidManagementApi {
  issueCommand(deviceName: string, command: ApiCommand): Promise<ApiOperation>;
  getOperation(name: string): Promise<ApiOperation>;
  cancelOperation(name: string): Promise<void>;
  getDevice(name: string): Promise<ApiDevice>;
  listDevices(parent: string, pageToken?: string): Promise<{ devices: ApiDevice[]; nextPageToken?: string }>;
}

/** The resource name of a device of the enterprise. */
export const deviceName = (enterprise: string, deviceId: string) => `${enterprise}/devices/${deviceId}`;

/**
 * The RESET_PASSWORD command: the generated passcode, REQUIRE_ENTRY (no other admin may change it until the user has
 * entered it), LOCK_NOW when asked, and how long it may wait for the device.
 */
export function resetPasswordCommand(passcode: string, hours: number, lockNow: boolean): ApiCommand {
  return {
    type: 'RESET_PASSWORD',
    newPassword: passcode,
    resetPasswordFlags: lockNow ? ['REQUIRE_ENTRY', 'LOCK_NOW'] : ['REQUIRE_ENTRY'],
    duration: `${Math.max(1, Math.round(hours * 3600))}s`,
  };
}

/** google.rpc.Code CANCELLED: what operations.cancel leaves in a canceled operation's error. */
const RPC_CANCELLED = 1;

/** The Command an operation carries in its metadata (issueCommand's documented result). */
interface CommandMetadata {
  errorCode?: string;
  createTime?: string;
  duration?: string;
}

/** When a command can no longer run: its createTime plus its duration ("86400s"). */
function expiryOf(metadata: CommandMetadata | undefined): Date | undefined {
  const created = metadata?.createTime ? Date.parse(metadata.createTime) : Number.NaN;
  const seconds = /^(\d+(?:\.\d+)?)s$/.exec(metadata?.duration ?? '')?.[1];
  if (Number.isNaN(created) || seconds === undefined) return undefined;
  return new Date(created + Number(seconds) * 1000);
}

const NOT_SUPPORTED: Record<string, { code: string; message: string }> = {
  MANAGEMENT_MODE: {
    code: 'managementModeNotSupported',
    message: "The device's management mode does not support resetting its passcode (MANAGEMENT_MODE).",
  },
  API_LEVEL: {
    code: 'androidVersionNotSupported',
    message: "The device's Android version does not support resetting its passcode (API_LEVEL).",
  },
  UNSUPPORTED: {
    code: 'commandNotSupported',
    message:
      'The device does not support the passcode reset command; updating Android Device Policy on it may help ' +
      '(UNSUPPORTED).',
  },
};

/**
 * What an operation says of the command. The messages are the app's own: Google's free text is not passed on, so that
 * nothing the device or the API echoes (a passcode) can reach an action's error.
 */
export function commandStatusOf(operation: ApiOperation, now: Date): CommandStatus {
  const metadata = operation.metadata as CommandMetadata | undefined;
  const expires = expiryOf(metadata);
  // Google's JSON leaves `done` out while it is false (proto3 default values are not written).
  if (!operation.done) {
    return {
      status: 'waiting',
      reference: operation.name ?? '',
      ...(expires && { expiresDateTime: expires.toISOString() }),
    };
  }
  if (!operation.error) return { status: 'applied' };
  if (operation.error.code === RPC_CANCELLED) return { status: 'canceled' };
  const errorCode = metadata?.errorCode;
  const notSupported = errorCode ? NOT_SUPPORTED[errorCode] : undefined;
  if (notSupported) return { status: 'notSupported', ...notSupported };
  if (errorCode === 'INVALID_VALUE') {
    return {
      status: 'failed',
      code: 'passcodeRejected',
      message:
        "The device refused the new passcode (INVALID_VALUE): it does not meet the device's password requirements.",
    };
  }
  if (expires && now >= expires) {
    return {
      status: 'failed',
      code: 'deviceUnreachable',
      message: 'The device did not run the passcode command before the command expired.',
    };
  }
  return {
    status: 'failed',
    code: 'commandFailed',
    message: `The device could not run the passcode command (${errorCode ?? `google.rpc code ${operation.error.code}`}).`,
  };
}

/** A failed call, as lib/adapters/androidManagement/client.ts reports it (the library's own error is not kept). */
interface RequestFailure {
  status?: number;
  retryAfter: string | null;
  /** The failure came from getting a token (the credential, the token service), not from the API. */
  credentials: boolean;
}

const asRequestFailure = (error: unknown): RequestFailure | undefined =>
  error instanceof Error && error.name === 'AndroidManagementRequestError'
    ? (error as Error & RequestFailure)
    : undefined;

/**
 * What a failed call means for a command. Sending: a 4xx means the API refused it (nothing will run; 404 the device is
 * not enrolled, 403 the app may not manage the enterprise, 401 or a refused token its credentials are wrong). Asking:
 * only a device that is gone (404) ends the command; other refusals cannot say whether the device ran it. 429, 5xx,
 * time-outs and network errors are transient, with the API's Retry-After.
 */
export function statusOfFailure(error: unknown, phase: 'send' | 'check', now: Date): CommandStatus {
  const failure = asRequestFailure(error);
  if (!failure) throw error;
  const { status } = failure;
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    throw new TransientError(
      status === undefined
        ? 'the Android Management API could not be reached'
        : `the Android Management API answered ${status}`,
      retryAfterSeconds(failure.retryAfter, now),
    );
  }
  if (status === 404 && !failure.credentials) {
    return {
      status: 'failed',
      code: 'deviceNotEnrolled',
      message: 'The device is not enrolled in the enterprise (404).',
    };
  }
  if (phase === 'check') {
    if (failure.credentials || status === 401)
      throw new TransientError(`getting a Google access token failed (${status})`);
    return { status: 'unknown', message: `The Android Management API refused to report the command (${status})` };
  }
  if (failure.credentials || status === 401) {
    return {
      status: 'failed',
      code: 'credentialsRefused',
      message: `Google refused the app's Android Management credentials (${status}); check ANDROID_MANAGEMENT_CREDENTIALS.`,
    };
  }
  if (status === 403) {
    return {
      status: 'failed',
      code: 'enterpriseNotAccessible',
      message: "The app's Google service account may not manage this enterprise (403).",
    };
  }
  return {
    status: 'failed',
    code: 'commandRejected',
    message: `The Android Management API refused the command (${status}).`,
  };
}

/** Retry-After as delta-seconds or an HTTP date, at most an hour. */
function retryAfterSeconds(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - now.getTime()) / 1000);
  return Number.isNaN(seconds) ? undefined : Math.min(Math.max(seconds, 1), 3600);
}

const STATES: Record<string, AndroidManagementFacts['state']> = {
  ACTIVE: 'active',
  DISABLED: 'disabled',
  DELETED: 'deleted',
  PROVISIONING: 'provisioning',
  LOST: 'lost',
  PREPARING_FOR_MIGRATION: 'preparingForMigration',
  DEACTIVATED_BY_DEVICE_FINANCE: 'deactivatedByDeviceFinance',
};

const OWNERSHIP: Record<string, AndroidManagementFacts['ownership']> = {
  COMPANY_OWNED: 'companyOwned',
  PERSONALLY_OWNED: 'personallyOwned',
};

/**
 * An Android Management device as this app's inventory record, or undefined when it cannot be one (a name whose id is
 * not a valid device id, or no management mode). Fully managed devices are `Android`, work profiles `AndroidForWork`
 * (Intune's name for them); the passcode policy is the strictest of the password requirements applied to what the
 * command resets (the device, or the work profile).
 */
export function deviceFromApi(device: ApiDevice, syncedAt: Date): Device | undefined {
  const id = device.name?.split('/').at(-1);
  if (!id || !IdSchema.safeParse(id).success) return undefined;
  const managementMode =
    device.managementMode === 'DEVICE_OWNER'
      ? 'fullyManaged'
      : device.managementMode === 'PROFILE_OWNER'
        ? 'workProfile'
        : undefined;
  if (!managementMode || !device.name) return undefined;
  const apiLevel = device.apiLevel ?? undefined;
  const facts: AndroidManagementFacts = {
    name: device.name,
    managementMode,
    ownership: OWNERSHIP[device.ownership ?? ''] ?? 'unspecified',
    state: STATES[device.appliedState ?? device.state ?? ''] ?? 'unspecified',
    ...(apiLevel !== undefined && { apiLevel }),
    ...(device.lastStatusReportTime && { lastStatusReportDateTime: isoTime(device.lastStatusReportTime) }),
    ...(device.enrollmentTime && { enrollmentDateTime: isoTime(device.enrollmentTime) }),
    syncedDateTime: syncedAt.toISOString(),
  };
  const account = device.user?.accountIdentifier ?? undefined;
  const at = syncedAt.toISOString();
  return {
    id,
    deviceName: displayName(device, id),
    operatingSystem: managementMode === 'fullyManaged' ? 'Android' : 'AndroidForWork',
    osVersion: androidVersion(device),
    azureADJoined: false,
    ...(account && /^[^\s@]+@[^\s@]+$/.test(account) && account.length <= 256 && { userPrincipalName: account }),
    passcodePolicy: passcodePolicyOf(device.appliedPasswordPolicies ?? [], managementMode, apiLevel),
    createdDateTime: facts.enrollmentDateTime ?? at,
    lastUpdatedDateTime: at,
    androidManagement: facts,
  };
}

const isoTime = (value: string) => new Date(value).toISOString();

function displayName(device: ApiDevice, id: string): string {
  const hardware = device.hardwareInfo;
  const model = [hardware?.brand, hardware?.model].filter((part) => part && part.trim() !== '').join(' ');
  const name = model === '' ? `Android device ${id}` : model;
  // Inventory names are shown in the console and logs: no control characters (as docs/API.md asks of a PUT).
  const printable = [...name].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c)).join('');
  return printable.slice(0, 256);
}

/** Android versions by API level, for devices whose version string is not dotted numeric (previews). */
const VERSION_OF_LEVEL: Record<number, string> = {
  23: '6.0',
  24: '7.0',
  25: '7.1',
  26: '8.0',
  27: '8.1',
  28: '9',
  29: '10',
  30: '11',
  31: '12',
  32: '12.1',
  33: '13',
  34: '14',
  35: '15',
  36: '16',
};

function androidVersion(device: ApiDevice): string {
  const reported = device.softwareInfo?.androidVersion ?? '';
  if (/^\d{1,9}(\.\d{1,9}){0,3}$/.test(reported)) return reported;
  return VERSION_OF_LEVEL[device.apiLevel ?? 0] ?? '0';
}

/** Android 14 (API 34) refuses a numeric RESET_PASSWORD shorter than 6 (the discovery document's Command.newPassword). */
const ANDROID_14_API_LEVEL = 34;

/**
 * The passcode policy that fits every password requirement applied to what the command resets: the device's (scope
 * DEVICE) for a fully managed device, the work profile's (scope PROFILE) for a work profile; unspecified scope applies
 * to both. Never shorter than the app's default (6).
 */
export function passcodePolicyOf(
  requirements: readonly PasswordRequirements[],
  mode: AndroidManagementFacts['managementMode'],
  apiLevel: number | undefined,
): PasscodePolicy {
  const scope = mode === 'fullyManaged' ? 'SCOPE_DEVICE' : 'SCOPE_PROFILE';
  const applicable = requirements.filter(
    (r) => !r.passwordScope || r.passwordScope === 'SCOPE_UNSPECIFIED' || r.passwordScope === scope,
  );
  let policy: PasscodePolicy = { ...DEFAULT_PASSCODE_POLICY };
  for (const requirement of applicable) {
    const quality = qualityPolicy(requirement);
    policy = {
      minLength: Math.max(policy.minLength, quality.minLength),
      characters:
        policy.characters === 'alphanumeric' || quality.characters === 'alphanumeric' ? 'alphanumeric' : 'numeric',
      complex: policy.complex || quality.complex,
    };
  }
  const floor = policy.characters === 'numeric' && (apiLevel ?? 0) >= ANDROID_14_API_LEVEL ? 6 : 4;
  return { ...policy, minLength: Math.min(16, Math.max(policy.minLength, floor)) };
}

/**
 * What one PasswordRequirements asks of a generated passcode. The qualities and complexity bands are the discovery
 * document's; COMPLEXITY_HIGH asks a PIN of 8 without sequences (Android 12+), the generator's way to meet it. A COMPLEX
 * policy that demands symbols or upper-case letters cannot be met by the generator's letters and digits: the device then
 * refuses the passcode (INVALID_VALUE) and the action says so.
 */
function qualityPolicy(requirement: PasswordRequirements): PasscodePolicy {
  const length = requirement.passwordMinimumLength ?? 0;
  switch (requirement.passwordQuality) {
    case 'NUMERIC':
    case 'COMPLEXITY_LOW':
      return { minLength: length, characters: 'numeric', complex: false };
    case 'NUMERIC_COMPLEX':
    case 'COMPLEXITY_MEDIUM':
      return { minLength: length, characters: 'numeric', complex: true };
    case 'COMPLEXITY_HIGH':
      return { minLength: Math.max(length, 8), characters: 'numeric', complex: true };
    case 'ALPHABETIC':
    case 'ALPHANUMERIC':
      return { minLength: length, characters: 'alphanumeric', complex: false };
    case 'COMPLEX': {
      const parts =
        (requirement.passwordMinimumLetters ?? 0) +
        Math.max(requirement.passwordMinimumNumeric ?? 0, requirement.passwordMinimumNonLetter ?? 0);
      return { minLength: Math.max(length, parts), characters: 'alphanumeric', complex: false };
    }
    default:
      return { minLength: 0, characters: 'numeric', complex: false };
  }
}
