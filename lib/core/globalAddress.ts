// Which IP addresses a notification may be sent to: an allow list of global unicast space, because a block list
// misses spellings (`::7f00:1` is 127.0.0.1) and ranges nobody thought of (NAT64, 6to4, site-local, Azure's wire
// server). Pure: parsing is done here, not with node:net, so that every form is decided by one set of rules.
//   IPv4: https://www.iana.org/assignments/iana-ipv4-special-registry
//   IPv6: https://www.iana.org/assignments/iana-ipv6-special-registry (RFC 4291 §2.4: global unicast is 2000::/3)

type Block = readonly [network: bigint, prefix: number];

const v4 = (text: string, prefix: number): Block => [parseIPv4(text) ?? -1n, prefix];
const v6 = (text: string, prefix: number): Block => [parseIPv6(text) ?? -1n, prefix];

/**
 * IPv4 space that is not a public receiver's: every block of IANA's special-purpose registry (also the few it marks
 * globally reachable, such as AS112 and 6to4 relays, which no webhook receiver uses), multicast and class E, and
 * 168.63.129.16, the Azure platform's wire server, which answers any VM or app in Azure.
 */
const IPV4_REFUSED: readonly Block[] = [
  v4('0.0.0.0', 8), // "this network"
  v4('10.0.0.0', 8), // private (RFC 1918)
  v4('100.64.0.0', 10), // shared address space (carrier-grade NAT)
  v4('127.0.0.0', 8), // loopback
  v4('169.254.0.0', 16), // link-local, the cloud metadata endpoint 169.254.169.254 included
  v4('172.16.0.0', 12), // private
  v4('192.0.0.0', 24), // IETF protocol assignments
  v4('192.0.2.0', 24), // documentation (TEST-NET-1)
  v4('192.31.196.0', 24), // AS112-v4
  v4('192.52.193.0', 24), // AMT
  v4('192.88.99.0', 24), // deprecated 6to4 relay anycast
  v4('192.168.0.0', 16), // private
  v4('192.175.48.0', 24), // direct delegation AS112
  v4('198.18.0.0', 15), // benchmarking
  v4('198.51.100.0', 24), // documentation (TEST-NET-2)
  v4('203.0.113.0', 24), // documentation (TEST-NET-3)
  v4('224.0.0.0', 4), // multicast
  v4('240.0.0.0', 4), // reserved, and the limited broadcast 255.255.255.255
  v4('168.63.129.16', 32), // Azure's wire server (DHCP, DNS, health probes)
];

const IPV6_GLOBAL_UNICAST = v6('2000::', 3);

/** Special-purpose blocks inside 2000::/3; everything outside 2000::/3 (ULA, link-local, site-local, NAT64…) is refused. */
const IPV6_REFUSED: readonly Block[] = [
  v6('2001::', 23), // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID, AMT, AS112 and the rest
  v6('2001:db8::', 32), // documentation
  v6('2002::', 16), // 6to4: the IPv4 address it embeds could be anything
  v6('2620:4f:8000::', 48), // direct delegation AS112
  v6('3fff::', 20), // documentation (RFC 9637)
];

const IPV4_MAPPED = v6('::ffff:0:0', 96);
const IPV4_COMPATIBLE = v6('::', 96);

const within = (address: bigint, bits: number, [network, prefix]: Block) =>
  network >= 0n && address >> BigInt(bits - prefix) === network >> BigInt(bits - prefix);

/**
 * Whether `address`, an IP address (IPv6 with or without brackets), is global unicast: one a receiver on the
 * internet can have. IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`, `::7f00:1`) addresses are
 * judged as the IPv4 address they carry. Anything that is not an address (a name, a zone id, an odd spelling) is not.
 */
export function isGlobalAddress(address: string): boolean {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const ipv4 = parseIPv4(text);
  if (ipv4 !== undefined) return isGlobalIPv4(ipv4);
  const ipv6 = parseIPv6(text);
  if (ipv6 === undefined) return false;
  if (within(ipv6, 128, IPV4_MAPPED) || within(ipv6, 128, IPV4_COMPATIBLE)) {
    return isGlobalIPv4(ipv6 & 0xffff_ffffn);
  }
  return within(ipv6, 128, IPV6_GLOBAL_UNICAST) && !IPV6_REFUSED.some((block) => within(ipv6, 128, block));
}

/** Whether a URL's host names an IP address that is not global; a DNS name is judged where it resolves, not here. */
export function isNonGlobalIpHost(hostname: string): boolean {
  const text = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const isAddress = parseIPv4(text) !== undefined || parseIPv6(text) !== undefined;
  return isAddress && !isGlobalAddress(text);
}

const isGlobalIPv4 = (address: bigint) => !IPV4_REFUSED.some((block) => within(address, 32, block));

/** Dotted-quad IPv4 (four decimal parts, 0-255, no leading zeros: `010` would be octal to some parsers). */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** IPv6 text (RFC 4291 §2.2: `::` once at most, an IPv4 tail allowed), as a 128-bit number; no zone ids. */
export function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const pieces = half.split(':');
    const groups: number[] = [];
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const ipv4 = parseIPv4(piece);
        if (ipv4 === undefined) return undefined;
        groups.push(Number(ipv4 >> 16n), Number(ipv4 & 0xffffn));
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
        groups.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  // An IPv4 tail may only end the address.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}
