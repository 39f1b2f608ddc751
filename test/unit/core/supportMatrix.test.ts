import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPERATING_SYSTEMS, type OperatingSystem } from '../../../lib/core/model';
import { compareVersions, resetPasscodeSupport, SUPPORT_MATRIX } from '../../../lib/core/supportMatrix';

const device = (operatingSystem: OperatingSystem, osVersion: string, azureADJoined = false) => ({
  operatingSystem,
  osVersion,
  azureADJoined,
});

/** The message of an unsupported verdict, failing the test when the device is supported. */
function unsupportedMessage(operatingSystem: OperatingSystem, osVersion: string, azureADJoined = false): string {
  const support = resetPasscodeSupport(device(operatingSystem, osVersion, azureADJoined));
  if (support.supported) throw new Error(`expected ${operatingSystem} ${osVersion} to be unsupported`);
  expect(support.code).toBe('platformNotSupported');
  return support.message;
}

describe('compareVersions', () => {
  it.each([
    ['7', '7.0.0', 0],
    ['7.0', '7', 0],
    ['10.0.15063', '10.0.14393', 1],
    ['10.0.14393', '10.0.15063', -1],
    ['6.10', '6.9', 1],
    ['6.0.1', '7', -1],
    ['8.1', '8.1.0.0', 0],
    ['10', '9.99', 1],
  ])('compares %s with %s as %i', (a, b, expected) => {
    expect(Math.sign(compareVersions(a, b))).toBe(expected);
  });

  it('is antisymmetric and reflexive on any dotted numeric versions', () => {
    const version = fc.array(fc.nat({ max: 99_999 }), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(compareVersions(a, a)).toBe(0);
        // Equal versions give 0 both ways; `-0` is not `0` to toBe (Object.is), so compare the signs' sum.
        expect(Math.sign(compareVersions(a, b)) + Math.sign(compareVersions(b, a))).toBe(0);
      }),
    );
  });

  it('throws on a version that is not dotted numeric rather than guessing', () => {
    expect(() => compareVersions('7.x', '7')).toThrow(/dotted numeric/);
    expect(() => compareVersions('', '7')).toThrow(/dotted numeric/);
  });
});

describe('resetPasscodeSupport', () => {
  describe('Android: supported only before Android 7', () => {
    it.each(['6.0.1', '6.9', '4.4.4', '6.99.99'])('supports Android %s', (osVersion) => {
      expect(resetPasscodeSupport(device('Android', osVersion))).toEqual({ supported: true });
    });

    it.each(['7.0', '7', '7.1.2', '10', '14.0'])('does not support Android %s, and says why', (osVersion) => {
      const message = unsupportedMessage('Android', osVersion);
      expect(message).toMatch(/Android 7\.0 and later/);
      expect(message).toMatch(/before Android 7/);
    });
  });

  it.each(['9.3', '16.4.1', '17'])('supports iOS %s', (osVersion) => {
    expect(resetPasscodeSupport(device('iOS', osVersion))).toEqual({ supported: true });
    expect(resetPasscodeSupport(device('iOS', osVersion, true))).toEqual({ supported: true });
  });

  it.each([
    ['Windows', '10.0.22631', /Windows devices/],
    ['macOS', '14.4', /macOS/],
    ['AndroidForWork', '8.0', /Android for Work/],
  ] as const)('does not support %s, and names the platform', (operatingSystem, osVersion, reason) => {
    for (const joined of [false, true]) {
      expect(unsupportedMessage(operatingSystem, osVersion, joined)).toMatch(reason);
    }
  });

  describe('WindowsPhone', () => {
    it('does not support Windows Phone 8.0', () => {
      expect(unsupportedMessage('WindowsPhone', '8.0')).toMatch(/before Windows Phone 8\.1/);
    });

    it('supports 8.1 when not Azure AD joined', () => {
      expect(resetPasscodeSupport(device('WindowsPhone', '8.1', false))).toEqual({ supported: true });
    });

    it('does not support 8.1 when Azure AD joined', () => {
      expect(unsupportedMessage('WindowsPhone', '8.1', true)).toMatch(
        /Azure AD joined.*Creators Update \(10\.0\.15063\)/,
      );
    });

    it('supports 10.0.14393 when not Azure AD joined', () => {
      expect(resetPasscodeSupport(device('WindowsPhone', '10.0.14393', false))).toEqual({ supported: true });
    });

    it('does not support 10.0.14393 when Azure AD joined', () => {
      expect(unsupportedMessage('WindowsPhone', '10.0.14393', true)).toMatch(/Azure AD joined/);
    });

    it.each([
      ['10.0.15063', true],
      ['10.0.15063', false],
      ['10.0.15254.1', true],
      ['10.0.15254.1', false],
    ])('supports %s (Azure AD joined: %s) from Creators Update on', (osVersion, joined) => {
      expect(resetPasscodeSupport(device('WindowsPhone', osVersion, joined))).toEqual({ supported: true });
    });

    it('treats 10.0.15062.999 as before Creators Update', () => {
      expect(resetPasscodeSupport(device('WindowsPhone', '10.0.15062.999', true)).supported).toBe(false);
      expect(resetPasscodeSupport(device('WindowsPhone', '10.0.15062.999', false)).supported).toBe(true);
    });
  });

  it('finds exactly one rule for every operating system, version and join state', () => {
    const version = fc.array(fc.nat({ max: 20_000 }), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
    fc.assert(
      fc.property(
        fc.constantFrom(...OPERATING_SYSTEMS),
        version,
        fc.boolean(),
        (operatingSystem, osVersion, joined) => {
          const matching = SUPPORT_MATRIX.rules.filter(
            (rule) =>
              rule.operatingSystem === operatingSystem &&
              (rule.minVersion === undefined || compareVersions(osVersion, rule.minVersion) >= 0) &&
              (rule.maxVersionExclusive === undefined || compareVersions(osVersion, rule.maxVersionExclusive) < 0) &&
              (rule.azureADJoined === undefined || rule.azureADJoined === joined),
          );
          expect(matching).toHaveLength(1);
          const support = resetPasscodeSupport(device(operatingSystem, osVersion, joined));
          expect(support.supported).toBe(matching[0]?.supported);
          if (!support.supported) expect(support.message).toBe(matching[0]?.note);
        },
      ),
    );
  });
});

describe('SUPPORT_MATRIX', () => {
  it('is JSON data an endpoint can return as is, citing the Intune documentation', () => {
    expect(JSON.parse(JSON.stringify(SUPPORT_MATRIX))).toEqual(SUPPORT_MATRIX);
    expect(SUPPORT_MATRIX.source).toMatch(/^https:\/\/learn\.microsoft\.com\/.*device-passcode-reset$/);
    expect(new Set(SUPPORT_MATRIX.rules.map((rule) => rule.operatingSystem))).toEqual(new Set(OPERATING_SYSTEMS));
  });

  it('cannot be changed by a caller holding it', () => {
    expect(Object.isFrozen(SUPPORT_MATRIX)).toBe(true);
    expect(Object.isFrozen(SUPPORT_MATRIX.rules)).toBe(true);
    expect(SUPPORT_MATRIX.rules.every((rule) => Object.isFrozen(rule))).toBe(true);
  });
});
