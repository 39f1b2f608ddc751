import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACTION_FILTER, actionQueryOf } from '../../../lib/core/actionQuery';
import {
  DEVICE_FILTER,
  deviceIndexKeys,
  deviceMatches,
  deviceQueryOf,
  keyText,
  planDeviceQuery,
} from '../../../lib/core/deviceQuery';
import { ApiError } from '../../../lib/core/errors';
import { parseCount, parseFilter, parseSelect, selectProperties } from '../../../lib/core/graphQuery';
import { deviceFixture } from '../../support/services';

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('not refused');
};

describe('parseFilter', () => {
  it('reads eq and startswith joined by and, with parentheses and doubled quotes', () => {
    expect(parseFilter("(operatingSystem eq 'iOS') and startswith(deviceName,'O''Brien''s')", DEVICE_FILTER)).toEqual([
      { operator: 'eq', property: 'operatingSystem', value: 'iOS' },
      { operator: 'startswith', property: 'deviceName', value: "O'Brien's" },
    ]);
  });

  it.each([
    ["deviceName eq 'x' or operatingSystem eq 'iOS'", 'eq on "deviceName" is not supported'],
    ["operatingSystem eq 'iOS' or operatingSystem eq 'Android'", '"or" is not supported'],
    ["operatingSystem ne 'iOS'", 'the operator "ne" is not supported'],
    ["contains(deviceName,'x')", 'the function "contains" is not supported'],
    ["startswith(model,'x')", 'startswith on "model" is not supported'],
    ["operatingSystem eq 'iOS", 'a quoted value is not closed'],
    ["operatingSystem eq 'iOS')", 'unexpected ")"'],
    ['operatingSystem eq', 'expected a quoted value at the end'],
    ["operatingSystem eq 'iOS' and", 'expected a property name'],
  ])('refuses %s, naming what is not supported', (filter, message) => {
    const error = refusal(() => parseFilter(filter, DEVICE_FILTER));
    expect(error).toMatchObject({ status: 400, code: 'invalidRequest', extra: { target: '$filter' } });
    expect(error.extra.details?.[0]?.code).toBe('notSupported');
    expect(error.extra.details?.[0]?.message).toContain(message);
  });

  it('never throws anything but a 400 on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          parseFilter(text, DEVICE_FILTER);
        } catch (error) {
          expect(error).toMatchObject({ status: 400 });
        }
      }),
    );
  });
});

describe('deviceQueryOf', () => {
  it('maps terms to one search, the operating system in any case', () => {
    const terms = parseFilter("operatingSystem eq 'ios' and startswith(userPrincipalName,'ana')", DEVICE_FILTER);
    expect(deviceQueryOf(terms)).toEqual({
      operatingSystem: 'iOS',
      userPrincipalName: { value: 'ana', prefix: true },
    });
  });

  it('refuses a name and a user together, the same property twice, an unknown system and a contradiction', () => {
    const terms = (filter: string) => parseFilter(filter, DEVICE_FILTER);
    expect(
      refusal(() => deviceQueryOf(terms("startswith(deviceName,'a') and startswith(userPrincipalName,'b')"))).message,
    ).toContain('$filter');
    refusal(() => deviceQueryOf(terms("id eq 'a' and id eq 'b'")));
    refusal(() => deviceQueryOf(terms("operatingSystem eq 'Symbian'")));
    refusal(() => deviceQueryOf(terms("operatingSystem eq 'Android'"), 'iOS'));
    // Under an id, any combination is one read.
    expect(
      deviceQueryOf(terms("id eq 'd1' and startswith(deviceName,'a') and startswith(userPrincipalName,'b')")),
    ).toMatchObject({ id: 'd1' });
  });
});

describe('device index keys', () => {
  it('put a device under a key range its prefixes find, and nowhere else', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.nat({ max: 40 }), (name, cut) => {
        const device = deviceFixture({ id: 'd1', deviceName: name });
        const prefix = name.slice(0, cut);
        const plan = planDeviceQuery({ deviceNamePrefix: prefix.toUpperCase() });
        if (plan.kind !== 'index') throw new Error('expected an index range');
        const inRange = deviceIndexKeys(device).filter((key) => key >= plan.from && key < plan.to);
        const matches = deviceMatches(device, { deviceNamePrefix: prefix.toUpperCase() });
        // A cut surrogate pair or a case mapping that changes length may keep a prefix out; never a false key.
        if (inRange.length > 0) expect(matches).toBe(true);
        if (matches && prefix.toUpperCase().toLowerCase() === prefix.toLowerCase() && !/[\ud800-\udfff]/.test(name)) {
          expect(inRange).toHaveLength(1);
        }
      }),
    );
  });

  it('encode what row keys cannot hold, and stay under 1 KiB', () => {
    expect(keyText('Desk/4 #2?')).toBe('desk%2F4%20%232%3F');
    expect(keyText('ü'.repeat(300)).length).toBeLessThanOrEqual(600);
    for (const key of deviceIndexKeys(deviceFixture({ deviceName: `a/b\\c#d?e\tf${'😀'.repeat(256)}` }))) {
      expect(key).not.toMatch(/[/\\#?]/);
      expect([...key].every((c) => c.charCodeAt(0) >= 0x20)).toBe(true);
      expect(Buffer.byteLength(key)).toBeLessThan(1024);
    }
  });
});

describe('$select and $count', () => {
  it('keeps the selected properties and id; refuses unknown ones', () => {
    const selected = parseSelect('deviceName, operatingSystem', ['id', 'deviceName', 'operatingSystem', 'osVersion']);
    expect(selectProperties({ id: 'd', deviceName: 'n', operatingSystem: 'iOS', osVersion: '1' }, selected)).toEqual({
      id: 'd',
      deviceName: 'n',
      operatingSystem: 'iOS',
    });
    expect(refusal(() => parseSelect('model', ['id'])).extra).toMatchObject({ target: '$select' });
    expect(parseCount('true')).toBe(true);
    refusal(() => parseCount('yes'));
  });
});

describe('actionQueryOf', () => {
  it('takes actionState and deviceId from $filter or the parameters, refusing a contradiction', () => {
    const terms = parseFilter(
      "actionState eq 'done' and deviceId eq '3F0C2B7E-5D1A-4C8E-9A77-1B2F3C4D5E6F'",
      ACTION_FILTER,
    );
    expect(actionQueryOf(terms, { deviceId: undefined, actionState: undefined })).toEqual({
      actionState: 'done',
      deviceId: '3f0c2b7e-5d1a-4c8e-9a77-1b2f3c4d5e6f',
    });
    refusal(() => actionQueryOf(terms, { deviceId: 'other', actionState: undefined }));
    refusal(() =>
      actionQueryOf(parseFilter("actionState eq 'finished'", ACTION_FILTER), {
        deviceId: undefined,
        actionState: undefined,
      }),
    );
    refusal(() => parseFilter("startswith(deviceId,'a')", ACTION_FILTER));
  });
});
