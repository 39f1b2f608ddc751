import type { Device, OperatingSystem } from './model';

/** Whether the reset passcode action can run on a device, and if not, why (docs/API.md "Managed device"). */
export type ResetPasscodeSupport =
  | { supported: true }
  | { supported: false; code: 'platformNotSupported'; message: string };

/** The device facts the support rules look at. */
export type SupportQuery = Pick<Device, 'operatingSystem' | 'osVersion' | 'azureADJoined'>;

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
}

/** The support matrix as data, returned as is by GET /api/deviceManagement/resetPasscode/supportMatrix. */
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
const RULES: readonly SupportRule[] = [
  {
    operatingSystem: 'Windows',
    supported: false,
    note: 'Reset passcode is not supported on Windows devices; Intune supports it on Windows Phone and Windows 10 Mobile.',
  },
  {
    operatingSystem: 'WindowsPhone',
    maxVersionExclusive: '8.1',
    supported: false,
    note: 'Reset passcode is not supported before Windows Phone 8.1; Intune supports it from Windows Phone 8.1.',
  },
  {
    operatingSystem: 'WindowsPhone',
    minVersion: '8.1',
    maxVersionExclusive: '10.0.15063',
    azureADJoined: false,
    supported: true,
    note: 'Supported from Windows Phone 8.1 up to Windows 10 Creators Update (10.0.15063) when not Azure AD joined.',
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
  },
  {
    operatingSystem: 'WindowsPhone',
    minVersion: '10.0.15063',
    supported: true,
    note: 'Supported on Windows 10 Creators Update (10.0.15063) and later, Azure AD joined or not.',
  },
  { operatingSystem: 'iOS', supported: true, note: 'Supported on iOS devices.' },
  {
    operatingSystem: 'macOS',
    supported: false,
    note: 'Reset passcode is not supported on macOS devices; Intune does not offer it for macOS.',
  },
  {
    operatingSystem: 'Android',
    maxVersionExclusive: '7',
    supported: true,
    note: 'Supported on Android devices before Android 7.',
  },
  { operatingSystem: 'Android', minVersion: '7', supported: false, note: ANDROID_7_NOTE },
  {
    operatingSystem: 'AndroidForWork',
    supported: false,
    note: 'Reset passcode is not supported on Android for Work devices; Intune does not offer it for Android for Work.',
  },
];

/** Microsoft Intune's documented reset passcode support, as JSON-friendly data. */
export const SUPPORT_MATRIX: SupportMatrix = Object.freeze({
  source: 'https://learn.microsoft.com/en-us/mem/intune/remote-actions/device-passcode-reset',
  // Frozen because the endpoint hands out this very object; a mutation would change every later decision.
  rules: Object.freeze(RULES.map((rule) => Object.freeze({ ...rule }))),
});

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

/** Whether Intune supports the reset passcode action on `device`, by the first matching rule of SUPPORT_MATRIX. */
export function resetPasscodeSupport(device: SupportQuery): ResetPasscodeSupport {
  const rule = SUPPORT_MATRIX.rules.find((r) => ruleMatches(r, device));
  if (rule?.supported) return { supported: true };
  return {
    supported: false,
    code: 'platformNotSupported',
    message: rule?.note ?? `Reset passcode is not supported on ${device.operatingSystem} ${device.osVersion}.`,
  };
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
