import type { Device, DeviceChannelKind, OperatingSystem } from './model';

/**
 * Whether the reset passcode action can run on a device, and if not, why (docs/API.md "Managed device"):
 * `platformNotSupported` by the support matrix, `deviceNotActive` when the channel's own record of the device says it
 * cannot take commands now (Android Management: not active, or not enrolled in the enterprise).
 */
export type ResetPasscodeSupport =
  | { supported: true }
  | { supported: false; code: 'platformNotSupported' | 'deviceNotActive'; message: string };

/** The device facts the support rules look at. */
export type SupportQuery = Pick<Device, 'operatingSystem' | 'osVersion' | 'azureADJoined'> &
  Partial<Pick<Device, 'androidManagement'>>;

/** One row of the support matrix; a device matches when every condition present holds. */
export interface SupportRule {
  readonly operatingSystem: OperatingSystem;
  /** Inclusive lower bound on osVersion. */
  readonly minVersion?: string;
  /** Exclusive upper bound on osVersion. */
  readonly maxVersionExclusive?: string;
  /** When present, the rule applies only to devices with this Azure AD join state. */
  readonly azureADJoined?: boolean;
  readonly supported: boolean;
  /** For people: what the rule means, and for an unsupported platform why (it becomes the error message). */
  readonly note: string;
  /** Where the rule comes from (a public document). */
  readonly source: string;
}

/** The support matrix as data; GET /api/deviceManagement/resetPasscode/supportMatrix returns the channel's. */
export interface SupportMatrix {
  readonly source: string;
  readonly rules: readonly SupportRule[];
}

const ANDROID_7_NOTE =
  'Reset passcode is not supported on Android 7.0 and later; Intune supports it on Android devices before Android 7. ' +
  'Google removed passcode reset by device administrator apps in Android 7, for every MDM vendor.';

// Rules of Microsoft Intune's "Reset or remove a device passcode" article (the `source` URL, formerly
// https://docs.microsoft.com/en-us/intune/device-passcode-reset). The Windows Phone rows (8.1 up to Windows 10
// Creators Update only when not Azure AD joined; Creators Update and later always) are from its 2017-11-06 revision,
// before Windows Phone left the article when its support ended; that revision, in a fork of the docs repository:
// https://github.com/dougeby/IntuneDocs/blob/01f6e10109a55a5948955c7a59e65e2ab544c1f8/intune/device-passcode-reset.md
// The current revision still has the Android 7 cut-off and its reason, and iOS, macOS and Windows as below.
// Rules for one operating system never overlap, so their order does not matter.
const INTUNE = 'https://learn.microsoft.com/en-us/mem/intune/remote-actions/device-passcode-reset';

const RULES: readonly SupportRule[] = [
  {
    operatingSystem: 'Windows',
    supported: false,
    note: 'Reset passcode is not supported on Windows devices; Intune supports it on Windows Phone and Windows 10 Mobile.',
    source: INTUNE,
  },
  {
    operatingSystem: 'WindowsPhone',
    maxVersionExclusive: '8.1',
    supported: false,
    note: 'Reset passcode is not supported before Windows Phone 8.1; Intune supports it from Windows Phone 8.1.',
    source: INTUNE,
  },
  {
    operatingSystem: 'WindowsPhone',
    minVersion: '8.1',
    maxVersionExclusive: '10.0.15063',
    azureADJoined: false,
    supported: true,
    note: 'Supported from Windows Phone 8.1 up to Windows 10 Creators Update (10.0.15063) when not Azure AD joined.',
    source: INTUNE,
  },
  {
    operatingSystem: 'WindowsPhone',
    minVersion: '8.1',
    maxVersionExclusive: '10.0.15063',
    azureADJoined: true,
    supported: false,
    note:
      'Reset passcode is not supported on Azure AD joined devices before Windows 10 Creators Update (10.0.15063); ' +
      'Intune supports it there only on devices that are not Azure AD joined, or after updating to 10.0.15063 or later.',
    source: INTUNE,
  },
  {
    operatingSystem: 'WindowsPhone',
    minVersion: '10.0.15063',
    supported: true,
    note: 'Supported on Windows 10 Creators Update (10.0.15063) and later, Azure AD joined or not.',
    source: INTUNE,
  },
  { operatingSystem: 'iOS', supported: true, note: 'Supported on iOS devices.', source: INTUNE },
  {
    operatingSystem: 'macOS',
    supported: false,
    note: 'Reset passcode is not supported on macOS devices; Intune does not offer it for macOS.',
    source: INTUNE,
  },
  {
    operatingSystem: 'Android',
    maxVersionExclusive: '7',
    supported: true,
    note: 'Supported on Android devices before Android 7.',
    source: INTUNE,
  },
  { operatingSystem: 'Android', minVersion: '7', supported: false, note: ANDROID_7_NOTE, source: INTUNE },
  {
    operatingSystem: 'AndroidForWork',
    supported: false,
    note: 'Reset passcode is not supported on Android for Work devices; Intune does not offer it for Android for Work.',
    source: INTUNE,
  },
];

/** Frozen because the endpoint hands out these very objects; a mutation would change every later decision. */
const frozen = (source: string, rules: readonly SupportRule[]): SupportMatrix =>
  Object.freeze({ source, rules: Object.freeze(rules.map((rule) => Object.freeze({ ...rule }))) });

/** Microsoft Intune's documented reset passcode support: the simulated and webhook channels' rules. */
export const SUPPORT_MATRIX: SupportMatrix = frozen(INTUNE, RULES);

const AMAPI_COMMAND =
  'https://developers.google.com/android/management/reference/rest/v1/enterprises.devices/issueCommand';
const AMAPI_REQUIREMENTS = 'https://developers.google.com/android/work/requirements';
const WORK_PROFILE_RESET =
  'https://developer.android.com/reference/android/app/admin/DevicePolicyManager#resetPasswordWithToken(android.content.ComponentName,%20java.lang.String,%20byte[],%20int)';
const NOT_ANDROID = 'The Android Management API manages Android devices only.';

// The Android Management API's RESET_PASSWORD command (AMAPI_COMMAND) documents no mode or version limits of its own;
// the rules follow the Android platform it drives. A fully managed device (device owner; `Android` here) can have its
// device passcode reset on every Android version the API enrolls fully managed devices on (6.0 and later,
// AMAPI_REQUIREMENTS). A work profile (profile owner; `AndroidForWork`) has its work-profile passcode reset through a
// reset token, which Android has since 8.0 (API 26, WORK_PROFILE_RESET); Intune documents the same 8.0 floor for work
// profiles (INTUNE). The API's own answer still counts: a device that refuses (MANAGEMENT_MODE, API_LEVEL,
// UNSUPPORTED) ends the action notSupported.
const ANDROID_MANAGEMENT_RULES: readonly SupportRule[] = [
  {
    operatingSystem: 'Android',
    minVersion: '6.0',
    supported: true,
    note:
      "Supported on fully managed Android devices (6.0 and later): the Android Management API's RESET_PASSWORD " +
      "command sets the device's passcode.",
    source: AMAPI_COMMAND,
  },
  {
    operatingSystem: 'Android',
    maxVersionExclusive: '6.0',
    supported: false,
    note: 'Reset passcode is not supported before Android 6.0: the Android Management API manages fully managed devices from Android 6.0.',
    source: AMAPI_REQUIREMENTS,
  },
  {
    operatingSystem: 'AndroidForWork',
    minVersion: '8.0',
    supported: true,
    note:
      "Supported on work profiles from Android 8.0: the command sets the work profile's passcode (the device's own " +
      'lock screen is not changed).',
    source: WORK_PROFILE_RESET,
  },
  {
    operatingSystem: 'AndroidForWork',
    maxVersionExclusive: '8.0',
    supported: false,
    note: "Reset passcode is not supported on work profiles before Android 8.0, which has no reset token for a profile's passcode.",
    source: INTUNE,
  },
  ...(['iOS', 'macOS', 'Windows', 'WindowsPhone'] as const).map((operatingSystem) => ({
    operatingSystem,
    supported: false,
    note: `Reset passcode is not supported on ${operatingSystem} devices with this channel: ${NOT_ANDROID}`,
    source: 'https://developers.google.com/android/management/introduction',
  })),
];

/** The Android Management channel's rules (docs/android-management.md). */
const ANDROID_MANAGEMENT_SUPPORT_MATRIX: SupportMatrix = frozen(
  'https://developers.google.com/android/management',
  ANDROID_MANAGEMENT_RULES,
);

/** The support matrix of a device channel. */
export const supportMatrixFor = (channel: DeviceChannelKind): SupportMatrix =>
  channel === 'androidManagement' ? ANDROID_MANAGEMENT_SUPPORT_MATRIX : SUPPORT_MATRIX;

/**
 * Compares dotted numeric versions ("10.0.15063"); missing parts count as 0, so "7" equals "7.0.0".
 * Returns a negative number, 0 or a positive number. Throws on a version that is not dotted numeric.
 */
export function compareVersions(a: string, b: string): number {
  const left = versionParts(a);
  const right = versionParts(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

function versionParts(version: string): number[] {
  // Comparing a malformed version as 0 would quietly pick a rule; callers validate versions (OsVersionSchema).
  if (!/^\d+(\.\d+)*$/.test(version)) throw new Error(`not a dotted numeric version: "${version}"`);
  return version.split('.').map(Number);
}

/**
 * Whether the reset passcode action can run on `device` with `channel`: by the first matching rule of the channel's
 * support matrix, then (Android Management) by the device's state in the enterprise.
 */
export function resetPasscodeSupport(
  device: SupportQuery,
  channel: DeviceChannelKind = 'simulated',
): ResetPasscodeSupport {
  const rule = supportMatrixFor(channel).rules.find((r) => ruleMatches(r, device));
  if (!rule?.supported) {
    return {
      supported: false,
      code: 'platformNotSupported',
      message: rule?.note ?? `Reset passcode is not supported on ${device.operatingSystem} ${device.osVersion}.`,
    };
  }
  const inactive = channel === 'androidManagement' ? androidManagementInactive(device) : undefined;
  return inactive ? { supported: false, code: 'deviceNotActive', message: inactive } : { supported: true };
}

/** Why an Android Management channel cannot send this device a command now, if it cannot. */
function androidManagementInactive(device: SupportQuery): string | undefined {
  const facts = device.androidManagement;
  if (!facts) {
    return 'The device is not enrolled in the Android Management enterprise this app manages; sync the inventory.';
  }
  if (facts.state !== 'active') {
    return `The device is ${facts.state} in Android Management; only active devices take commands.`;
  }
  return undefined;
}

/** Whether `rule` applies to `device` (the admin console finds a device's rule, and its note, with it). */
export function ruleMatches(rule: SupportRule, device: SupportQuery): boolean {
  return (
    rule.operatingSystem === device.operatingSystem &&
    (rule.minVersion === undefined || compareVersions(device.osVersion, rule.minVersion) >= 0) &&
    (rule.maxVersionExclusive === undefined || compareVersions(device.osVersion, rule.maxVersionExclusive) < 0) &&
    (rule.azureADJoined === undefined || rule.azureADJoined === device.azureADJoined)
  );
}
