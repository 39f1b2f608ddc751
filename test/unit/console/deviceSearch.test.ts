import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceFilter, deviceListPath } from '../../../lib/console/app/deviceSearch';
import { DEVICE_FILTER, deviceQueryOf } from '../../../lib/core/deviceQuery';
import { parseFilter } from '../../../lib/core/graphQuery';
import { OPERATING_SYSTEMS } from '../../../lib/core/model';

/** What the API makes of the console's filter: the same parsing as GET managedDevices. */
const asTheApiReadsIt = (filter: string | undefined) =>
  deviceQueryOf(filter === undefined ? [] : parseFilter(filter, DEVICE_FILTER));

describe('the console device search', () => {
  it('searches names by prefix, users when the text has an @, and keeps the platform with and', () => {
    expect(deviceFilter({ text: '', platform: '' })).toBeUndefined();
    expect(deviceFilter({ text: '   ', platform: '' })).toBeUndefined();
    expect(deviceFilter({ text: ' Ana ', platform: '' })).toBe("startswith(deviceName,'Ana')");
    expect(deviceFilter({ text: 'ana@con', platform: '' })).toBe("startswith(userPrincipalName,'ana@con')");
    expect(deviceFilter({ text: '', platform: 'iOS' })).toBe("operatingSystem eq 'iOS'");
    expect(deviceFilter({ text: "O'Brien's", platform: 'Android' })).toBe(
      "startswith(deviceName,'O''Brien''s') and operatingSystem eq 'Android'",
    );
  });

  it('asks for one page and puts the filter in the query, encoded', () => {
    expect(deviceListPath({ text: '', platform: '' }, 100)).toBe('deviceManagement/managedDevices?%24top=100');
    const path = deviceListPath({ text: 'a&b #1', platform: 'iOS' }, 100);
    const query = new URLSearchParams(path.slice(path.indexOf('?')));
    expect(query.get('$top')).toBe('100');
    expect(query.get('$filter')).toBe("startswith(deviceName,'a&b #1') and operatingSystem eq 'iOS'");
  });

  it('whatever is typed, the API reads back exactly the search the admin asked for', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60, unit: 'grapheme' }),
        fc.constantFrom('', ...OPERATING_SYSTEMS),
        (text, platform) => {
          const query = asTheApiReadsIt(deviceFilter({ text, platform }));
          const needle = text.trim();
          const expected = {
            ...(platform && { operatingSystem: platform }),
            ...(needle && !needle.includes('@') && { deviceNamePrefix: needle }),
            ...(needle.includes('@') && { userPrincipalName: { value: needle, prefix: true } }),
          };
          expect(query).toEqual(expected);
        },
      ),
    );
  });
});
