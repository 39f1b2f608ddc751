import { describe, expect, it } from 'vitest';
import {
  type ApiDevice,
  commandStatusOf,
  deviceFromApi,
  passcodePolicyOf,
  resetPasswordCommand,
  statusOfFailure,
} from '../../../lib/adapters/androidManagement/operations';
import { TransientError } from '../../../lib/core/errors';
import { validate } from '../../support/androidManagement/discoverySchema';

const NOW = new Date('2026-11-26T10:00:00.000Z');
const COMMAND = 'type.googleapis.com/google.android.devicemanagement.v1.Command';
const operation = (fields: Record<string, unknown>) => ({
  name: 'enterprises/LC01/devices/3a5f8c2e91b04d7e/operations/1700000000000',
  metadata: { '@type': COMMAND, type: 'RESET_PASSWORD', createTime: '2026-11-26T09:00:00Z', duration: '86400s' },
  ...fields,
});

describe('the RESET_PASSWORD command', () => {
  it('is exactly what the discovery document allows: no unknown field, enum values as spelled there', () => {
    for (const lockNow of [false, true]) {
      const command = resetPasswordCommand('482915', 24, lockNow);
      expect(validate('Command', command, { direction: 'request' })).toEqual([]);
    }
    expect(resetPasswordCommand('482915', 24, true)).toEqual({
      type: 'RESET_PASSWORD',
      newPassword: '482915',
      resetPasswordFlags: ['REQUIRE_ENTRY', 'LOCK_NOW'],
      duration: '86400s',
    });
    // The validator is strict: a misspelt field or flag would be caught.
    expect(
      validate('Command', { ...resetPasswordCommand('1', 1, false), newPasscode: '1' }, { direction: 'request' }),
    ).not.toEqual([]);
    expect(
      validate('Command', { type: 'RESET_PASSWORD', resetPasswordFlags: ['LOCK'] }, { direction: 'request' }),
    ).not.toEqual([]);
  });
});

describe('commandStatusOf (an Operation)', () => {
  it('pending (Google leaves `done` out while false): waiting, with the command expiry', () => {
    expect(commandStatusOf(operation({}), NOW)).toEqual({
      status: 'waiting',
      reference: 'enterprises/LC01/devices/3a5f8c2e91b04d7e/operations/1700000000000',
      expiresDateTime: '2026-11-27T09:00:00.000Z',
    });
  });

  it('done without error: applied; cancelled (google.rpc CANCELLED = 1): canceled', () => {
    expect(commandStatusOf(operation({ done: true }), NOW)).toEqual({ status: 'applied' });
    expect(commandStatusOf(operation({ done: true, error: { code: 1, message: 'x' } }), NOW)).toEqual({
      status: 'canceled',
    });
  });

  it('errorCode MANAGEMENT_MODE, API_LEVEL, UNSUPPORTED: notSupported; INVALID_VALUE: failed passcodeRejected', () => {
    const failedWith = (errorCode: string) =>
      commandStatusOf(
        operation({
          done: true,
          error: { code: 9, message: 'echo 482915' },
          metadata: { '@type': COMMAND, errorCode },
        }),
        NOW,
      );
    expect(failedWith('MANAGEMENT_MODE')).toMatchObject({ status: 'notSupported', code: 'managementModeNotSupported' });
    expect(failedWith('API_LEVEL')).toMatchObject({ status: 'notSupported', code: 'androidVersionNotSupported' });
    expect(failedWith('UNSUPPORTED')).toMatchObject({ status: 'notSupported', code: 'commandNotSupported' });
    expect(failedWith('INVALID_VALUE')).toMatchObject({ status: 'failed', code: 'passcodeRejected' });
    // Google's free text is never passed on (it could echo the passcode).
    expect(JSON.stringify(failedWith('UNKNOWN'))).not.toContain('482915');
  });

  it('any other error: deviceUnreachable once the command expired, else commandFailed', () => {
    const error = { done: true, error: { code: 4, message: 'expired' } };
    expect(commandStatusOf(operation(error), new Date('2026-11-27T09:00:00.000Z'))).toMatchObject({
      status: 'failed',
      code: 'deviceUnreachable',
    });
    expect(commandStatusOf(operation(error), NOW)).toMatchObject({ status: 'failed', code: 'commandFailed' });
  });
});

describe('statusOfFailure', () => {
  const failure = (status: number | undefined, credentials = false) =>
    Object.assign(new Error('answered'), {
      name: 'AndroidManagementRequestError',
      status,
      retryAfter: '12',
      credentials,
    });

  it('429, 5xx and no answer are transient, with Retry-After', () => {
    for (const status of [429, 500, 503, undefined]) {
      expect(() => statusOfFailure(failure(status), 'send', NOW)).toThrow(TransientError);
    }
    expect(() => statusOfFailure(failure(429), 'send', NOW)).toThrow(
      expect.objectContaining({ retryAfterSeconds: 12 }),
    );
  });

  it('a refused send will not run: failed with why; a refused check cannot say, so it never drops the passcode', () => {
    expect(statusOfFailure(failure(404), 'send', NOW)).toMatchObject({ status: 'failed', code: 'deviceNotEnrolled' });
    expect(statusOfFailure(failure(403), 'send', NOW)).toMatchObject({ code: 'enterpriseNotAccessible' });
    expect(statusOfFailure(failure(400, true), 'send', NOW)).toMatchObject({ code: 'credentialsRefused' });
    expect(statusOfFailure(failure(400), 'send', NOW)).toMatchObject({ code: 'commandRejected' });
    expect(statusOfFailure(failure(404), 'check', NOW)).toMatchObject({ status: 'failed', code: 'deviceNotEnrolled' });
    expect(statusOfFailure(failure(403), 'check', NOW)).toMatchObject({ status: 'unknown' });
    expect(() => statusOfFailure(failure(401), 'check', NOW)).toThrow(TransientError);
  });

  it('rethrows anything that is not a request failure (a bug is not a device answer)', () => {
    expect(() => statusOfFailure(new TypeError('x'), 'send', NOW)).toThrow(TypeError);
  });
});

describe('deviceFromApi and passcodePolicyOf', () => {
  const device: ApiDevice = {
    name: 'enterprises/LC01/devices/3a5f8c2e91b04d7e',
    managementMode: 'DEVICE_OWNER',
    ownership: 'COMPANY_OWNED',
    state: 'ACTIVE',
    appliedState: 'ACTIVE',
    apiLevel: 34,
    softwareInfo: { androidVersion: '14' },
    hardwareInfo: { brand: 'Google', model: 'Pixel 8' },
    enrollmentTime: '2026-01-10T09:00:00Z',
    lastStatusReportTime: '2026-11-26T08:12:40Z',
    user: { accountIdentifier: 'ana@contoso.com' },
    appliedPasswordPolicies: [
      { passwordQuality: 'NUMERIC_COMPLEX', passwordMinimumLength: 8, passwordScope: 'SCOPE_DEVICE' },
    ],
  };

  it('maps a fully managed device: id, name, Android version, mode, state, last report, policy', () => {
    expect(deviceFromApi(device, NOW)).toEqual({
      id: '3a5f8c2e91b04d7e',
      deviceName: 'Google Pixel 8',
      operatingSystem: 'Android',
      osVersion: '14',
      azureADJoined: false,
      userPrincipalName: 'ana@contoso.com',
      passcodePolicy: { minLength: 8, characters: 'numeric', complex: true },
      createdDateTime: '2026-01-10T09:00:00.000Z',
      lastUpdatedDateTime: NOW.toISOString(),
      androidManagement: {
        name: 'enterprises/LC01/devices/3a5f8c2e91b04d7e',
        managementMode: 'fullyManaged',
        ownership: 'companyOwned',
        state: 'active',
        apiLevel: 34,
        lastStatusReportDateTime: '2026-11-26T08:12:40.000Z',
        enrollmentDateTime: '2026-01-10T09:00:00.000Z',
        syncedDateTime: NOW.toISOString(),
      },
    });
  });

  it('a work profile is AndroidForWork; the disabled state shows; odd ids and modes are skipped', () => {
    const profile = deviceFromApi({ ...device, managementMode: 'PROFILE_OWNER', appliedState: 'DISABLED' }, NOW);
    expect(profile).toMatchObject({
      operatingSystem: 'AndroidForWork',
      androidManagement: { managementMode: 'workProfile', state: 'disabled' },
    });
    expect(deviceFromApi({ ...device, name: 'enterprises/LC01/devices/bad id' }, NOW)).toBeUndefined();
    expect(deviceFromApi({ ...device, managementMode: 'MANAGEMENT_MODE_UNSPECIFIED' }, NOW)).toBeUndefined();
  });

  it('takes the strictest requirement of the scope the command resets; Android 14 numeric is at least 6', () => {
    const requirements = [
      { passwordQuality: 'ALPHANUMERIC', passwordMinimumLength: 10, passwordScope: 'SCOPE_PROFILE' },
      { passwordQuality: 'NUMERIC', passwordMinimumLength: 4, passwordScope: 'SCOPE_DEVICE' },
    ];
    expect(passcodePolicyOf(requirements, 'fullyManaged', 30)).toEqual({
      minLength: 6,
      characters: 'numeric',
      complex: false,
    });
    expect(passcodePolicyOf(requirements, 'workProfile', 30)).toEqual({
      minLength: 10,
      characters: 'alphanumeric',
      complex: false,
    });
    expect(passcodePolicyOf([{ passwordQuality: 'COMPLEXITY_HIGH' }], 'fullyManaged', 34)).toEqual({
      minLength: 8,
      characters: 'numeric',
      complex: true,
    });
    expect(passcodePolicyOf([], 'fullyManaged', 34).minLength).toBe(6);
  });
});
