import { unzipSync } from 'fflate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { zipPackage } from '../../../tools/package';

const entries = [
  { name: 'package.json', data: Buffer.from('{"main":"dist/main.js"}\n') },
  { name: 'dist/main.js', data: Buffer.from('module.exports = {};\n'.repeat(200)) },
  { name: 'dist/console/assets/console-ABC.js', data: Buffer.from([0, 1, 2, 255]) },
];

/** The central directory records of a ZIP archive (APPNOTE.TXT 4.3.12), read by offset, not by fflate. */
function centralDirectory(archive: Buffer) {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const records = [];
  let at = archive.readUInt32LE(end + 16);
  for (let i = 0; i < archive.readUInt16LE(end + 10); i++) {
    const nameLength = archive.readUInt16LE(at + 28);
    records.push({
      name: archive.toString('utf8', at + 46, at + 46 + nameLength),
      madeBy: archive.readUInt16LE(at + 4) >> 8,
      versionNeeded: archive.readUInt16LE(at + 6),
      method: archive.readUInt16LE(at + 10),
      mode: archive.readUInt32LE(at + 38) >>> 16,
    });
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
  }
  return records;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the deployment package archive', () => {
  it('holds every entry under its path, byte for byte', () => {
    const unzipped = unzipSync(zipPackage(entries));
    expect(Object.keys(unzipped)).toEqual(entries.map((entry) => entry.name));
    for (const { name, data } of entries) expect(Buffer.from(unzipped[name] ?? [])).toEqual(data);
  });

  it('is plain deflated ZIP with Unix file modes, as zip deploy unpacks it', () => {
    const records = centralDirectory(zipPackage(entries));
    expect(records.map((record) => record.name)).toEqual(entries.map((entry) => entry.name));
    for (const record of records) {
      expect(record).toMatchObject({ madeBy: 3, method: 8, mode: 0o100644 });
      // 4.5 or more would mean ZIP64, which not every unzipper reads.
      expect(record.versionNeeded).toBeLessThan(45);
    }
  });

  it('gives the same bytes for the same files, whenever it is built', () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const first = zipPackage(entries);
    vi.setSystemTime(new Date('2031-07-15T13:37:00Z'));
    expect(zipPackage(entries).equals(first)).toBe(true);
  });
});
