import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isGlobalAddress, isNonGlobalIpHost, parseIPv4, parseIPv6 } from '../../../lib/core/globalAddress';

// The registries' blocks written out again as text, for node:net's BlockList to act as an independent oracle of the
// module's own parsing and prefix arithmetic.
const REFUSED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.31.196.0/24',
  '192.52.193.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '192.175.48.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '168.63.129.16/32',
];
const REFUSED_V6_IN_GLOBAL = ['2001::/23', '2001:db8::/32', '2002::/16', '2620:4f:8000::/48', '3fff::/20'];

const blockList = (cidrs: string[], type: 'ipv4' | 'ipv6') => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, prefix] = cidr.split('/');
    list.addSubnet(network ?? '', Number(prefix), type);
  }
  return list;
};
const refusedV4 = blockList(REFUSED_V4, 'ipv4');
const globalV6 = blockList(['2000::/3'], 'ipv6');
const refusedV6 = blockList(REFUSED_V6_IN_GLOBAL, 'ipv6');

/** What the URL parser makes of a host: the form a notification URL's hostname reaches the check in. */
const urlHost = (host: string) => new URL(`https://${host}/notify`).hostname;

describe('isGlobalAddress', () => {
  it('refuses the addresses the block list let through', () => {
    for (const host of ['[::127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::1]', '[fec0::1]', '168.63.129.16']) {
      expect(isGlobalAddress(urlHost(host)), host).toBe(false);
    }
    expect(urlHost('[::127.0.0.1]')).toBe('[::7f00:1]');
  });

  it('refuses loopback, private, link-local, metadata, documentation, multicast and reserved space', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '192.0.2.1',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '100::1',
      '64:ff9b::808:808',
      '64:ff9b:1::1',
      '2001::1',
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
      '2001:db8::1',
      '2002:808:808::1',
      '3fff::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      '::7f00:1',
      '::10.0.0.1',
      '::ffff:168.63.129.16',
      '::ffff:0:808:808',
      '[::1]',
    ]) {
      expect(isGlobalAddress(address), address).toBe(false);
    }
  });

  it('allows public IPv4 and global unicast IPv6, also as IPv4-mapped and -compatible forms', () => {
    for (const address of [
      '8.8.8.8',
      '20.50.2.1',
      '1.1.1.1',
      '172.32.0.1',
      '168.63.129.17',
      '100.128.0.1',
      '2603:1030::1',
      '2a00:1450:4001:80b::200e',
      '2001:200::1',
      '::ffff:8.8.8.8',
      '::ffff:808:808',
      '::8.8.8.8',
      '[2603:1030::1]',
    ]) {
      expect(isGlobalAddress(address), address).toBe(true);
    }
  });

  it('is false for anything that is not an address', () => {
    for (const text of ['', 'localhost', 'example.com', '8.8.8', '8.8.8.8.8', '010.8.8.8', '256.1.1.1', '8.8.8.8 ']) {
      expect(isGlobalAddress(text), JSON.stringify(text)).toBe(false);
    }
    for (const text of ['2603::1::1', ':2603::1', '2603:1030::1%eth0', '12345::1', '1:2:3:4:5:6:7:8:9', '::1.2.3']) {
      expect(isGlobalAddress(text), text).toBe(false);
    }
  });

  it('agrees with node:net BlockList over the registry blocks for any IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(isGlobalAddress(address)).toBe(!refusedV4.check(address, 'ipv4'));
      }),
      { numRuns: 5_000 },
    );
  });

  it('agrees with BlockList inside 2000::/3 and refuses everything outside it, for any IPv6 address', () => {
    const notEmbeddingIPv4 = (address: string) =>
      (parseIPv6(address) ?? 0n) >> 32n !== 0xffffn && (parseIPv6(address) ?? 0n) >> 32n !== 0n;
    fc.assert(
      fc.property(fc.ipV6().filter(notEmbeddingIPv4), (address) => {
        const expected = globalV6.check(address, 'ipv6') && !refusedV6.check(address, 'ipv6');
        expect(isGlobalAddress(address)).toBe(expected);
      }),
      { numRuns: 5_000 },
    );
    // The generator rarely lands in 2000::/3, so the global space is sampled on purpose too.
    const inGlobal = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 })
      .chain((rest) => fc.integer({ min: 0x2000, max: 0x3fff }).map((first) => [first, ...rest]))
      .map((groups) => groups.map((g) => g.toString(16)).join(':'));
    fc.assert(
      fc.property(inGlobal, (address) => {
        expect(isGlobalAddress(address)).toBe(!refusedV6.check(address, 'ipv6'));
      }),
      { numRuns: 5_000 },
    );
  });

  it('judges an IPv4-mapped or -compatible address, in any spelling, as the IPv4 address it carries', () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        const value = parseIPv4(address) ?? 0n;
        const hex = `${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
        const expected = isGlobalAddress(address);
        for (const form of [`::ffff:${address}`, `::ffff:${hex}`, `0:0:0:0:0:ffff:${hex}`, `::${hex}`]) {
          expect(isGlobalAddress(form), form).toBe(expected);
          expect(isGlobalAddress(urlHost(`[${form}]`)), form).toBe(expected);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads an IPv6 address as the URL parser writes it: the same number, the same answer', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        const normalised = urlHost(`[${address}]`).slice(1, -1);
        expect(parseIPv6(address)).toBe(parseIPv6(normalised));
        expect(isGlobalAddress(address)).toBe(isGlobalAddress(normalised));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('isNonGlobalIpHost', () => {
  it('is true only for a URL host that is an address outside global space; names are left to the connection', () => {
    expect(isNonGlobalIpHost(urlHost('[::127.0.0.1]'))).toBe(true);
    expect(isNonGlobalIpHost(urlHost('2130706433'))).toBe(true); // 127.0.0.1, as the URL parser reads a number
    expect(isNonGlobalIpHost(urlHost('10.0.0.1'))).toBe(true);
    expect(isNonGlobalIpHost(urlHost('8.8.8.8'))).toBe(false);
    expect(isNonGlobalIpHost(urlHost('[2603:1030::1]'))).toBe(false);
    expect(isNonGlobalIpHost(urlHost('receiver.contoso.com'))).toBe(false);
    expect(isNonGlobalIpHost(urlHost('localhost'))).toBe(false);
  });
});
