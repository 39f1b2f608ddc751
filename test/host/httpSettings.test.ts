import { describe, expect, it } from 'vitest';
import { HostConfigError, type LocalSettings } from '../../tools/host/config';
import { decideCors, parseCorsPolicy } from '../../tools/host/cors';
import { resolveHttpSettings } from '../../tools/host/httpSettings';
import { dotNetDateTimeOffset } from '../../tools/host/queue';
import { allowedHostsFor, isAllowedAuthority, parseRequestTarget } from '../../tools/host/requestTarget';

const local = (overrides: Partial<LocalSettings> = {}): LocalSettings => ({
  values: {},
  localHttpPort: undefined,
  cors: undefined,
  corsCredentials: false,
  ...overrides,
});

describe('CORS settings', () => {
  it('is off without origins, and reads Host.CORS with Host.CORSCredentials', () => {
    expect(resolveHttpSettings({}, local()).cors).toBeUndefined();
    const policy = resolveHttpSettings(
      {},
      local({ cors: 'https://A.example.com/, http://localhost:3000', corsCredentials: true }),
    ).cors;
    expect(policy).toEqual({
      origins: new Set(['https://a.example.com', 'http://localhost:3000']),
      credentials: true,
    });
  });

  it('lets LOCAL_FUNCTIONS_HOST_CORS and _CORS_CREDENTIALS override local.settings.json', () => {
    const settings = resolveHttpSettings(
      { LOCAL_FUNCTIONS_HOST_CORS: '*', LOCAL_FUNCTIONS_HOST_CORS_CREDENTIALS: 'false' },
      local({ cors: 'https://a.example.com', corsCredentials: true }),
    );
    expect(settings.cors).toEqual({ origins: '*', credentials: false });
  });

  it('refuses "*" with credentials, "*" among origins, and values that are no origin', () => {
    expect(() => parseCorsPolicy('*', true)).toThrow(HostConfigError);
    expect(() => parseCorsPolicy('*,https://a.example.com', false)).toThrow(/must stand alone/);
    expect(() => parseCorsPolicy('portal.example.com', false)).toThrow(/not an origin/);
    expect(() => parseCorsPolicy('https://a.example.com/path', false)).toThrow(/not an origin/);
  });

  it('treats OPTIONS as a preflight only with Origin and Access-Control-Request-Method', () => {
    const policy = parseCorsPolicy('https://a.example.com', false);
    const base = { method: 'OPTIONS', requestHeaders: undefined };
    expect(decideCors(policy, { ...base, origin: undefined, requestMethod: 'PUT' }).preflight).toBe(false);
    expect(decideCors(policy, { ...base, origin: 'https://a.example.com', requestMethod: undefined })).toEqual({
      preflight: false,
      headers: { 'access-control-allow-origin': 'https://a.example.com', vary: 'Origin' },
    });
    expect(decideCors(undefined, { ...base, origin: 'https://a.example.com', requestMethod: 'PUT' }).preflight).toBe(
      false,
    );
  });
});

describe('request target and Host check', () => {
  it('takes the authority from Host, or from an absolute-form target', () => {
    expect(parseRequestTarget('/api/x?a=1', 'localhost:7071')).toEqual({
      kind: 'ok',
      authority: 'localhost:7071',
      pathAndQuery: '/api/x?a=1',
    });
    expect(parseRequestTarget('http://127.0.0.1:9/api/x', 'evil.example')).toEqual({
      kind: 'ok',
      authority: '127.0.0.1:9',
      pathAndQuery: '/api/x',
    });
    // A path starting with // stays a path (it must not become the authority).
    expect(parseRequestTarget('//evil.example/api', 'localhost')).toMatchObject({ pathAndQuery: '//evil.example/api' });
    expect(parseRequestTarget('/api', undefined).kind).toBe('invalid');
    expect(parseRequestTarget('*', 'localhost').kind).toBe('invalid');
    expect(parseRequestTarget('ftp://localhost/x', 'localhost').kind).toBe('invalid');
  });

  it('allows the loopback names with any port and the public host with its own port only', () => {
    const allowed = allowedHostsFor('https://Reset.Example.net');
    for (const authority of ['localhost', 'localhost:1', '127.0.0.1:65535', '[::1]', '[::1]:80', 'reset.example.net']) {
      expect(isAllowedAuthority(authority, allowed), authority).toBe(true);
    }
    for (const authority of [
      'reset.example.net:80',
      '127.0.0.2',
      'localhost:99999',
      'localhost:x',
      '[::2]',
      '',
      'a b',
    ]) {
      expect(isAllowedAuthority(authority, allowed), authority).toBe(false);
    }
    expect(isAllowedAuthority('reset.example.net', allowedHostsFor(undefined))).toBe(false);
    expect(isAllowedAuthority('app.example.net:8080', allowedHostsFor('http://app.example.net:8080'))).toBe(true);
  });
});

describe('queue trigger metadata dates', () => {
  it('are written as Newtonsoft.Json writes a DateTimeOffset', () => {
    expect(dotNetDateTimeOffset(new Date('2026-11-30T10:00:00.000Z'))).toBe('2026-11-30T10:00:00+00:00');
    expect(dotNetDateTimeOffset(new Date('2026-11-30T10:00:00.120Z'))).toBe('2026-11-30T10:00:00.12+00:00');
  });
});
