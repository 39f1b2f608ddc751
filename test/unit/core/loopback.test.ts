import { describe, expect, it } from 'vitest';
import { isLoopbackHttpUrl, LOOPBACK_HOSTS } from '../../../lib/core/loopback';

describe('isLoopbackHttpUrl', () => {
  it.each([
    'http://localhost/',
    'http://LOCALHOST:7071/api',
    'http://127.0.0.1:10002/devstoreaccount1',
    'http://[::1]:8080/hook?x=1',
  ])('accepts plain http to the loopback: %s', (url) => {
    expect(isLoopbackHttpUrl(url)).toBe(true);
    expect(isLoopbackHttpUrl(new URL(url))).toBe(true);
  });

  it.each([
    ['https to the loopback (not plain http)', 'https://localhost/'],
    ['a name that starts like localhost', 'http://localhost.example.com/'],
    ['an address that starts like 127.0.0.1', 'http://127.0.0.1.nip.io/'],
    ['another host', 'http://gateway.contoso.com/'],
    ['another scheme', 'ftp://127.0.0.1/'],
    ['no URL at all', 'localhost:7071'],
    ['nothing', undefined],
  ])('refuses %s', (_what, url) => {
    expect(isLoopbackHttpUrl(url)).toBe(false);
  });

  it('names the loopback hosts as URL parsing writes them', () => {
    for (const host of LOOPBACK_HOSTS) expect(new URL(`http://${host}:1/`).hostname).toBe(host);
  });
});
