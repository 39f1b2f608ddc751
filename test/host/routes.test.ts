import { describe, expect, it } from 'vitest';
import { matchRoute, parseRouteTemplate, RouteTemplateError, selectRoute } from '../../tools/host/routes';

const match = (template: string, path: string) => matchRoute(parseRouteTemplate(template), path);

describe('route templates', () => {
  it('captures parameters and matches literal segments case-insensitively', () => {
    expect(match('Devices/{deviceId}/actions', 'devices/d-1/ACTIONS')).toEqual({ deviceId: 'd-1' });
    expect(match('devices/{deviceId}/actions', 'devices/d-1/other')).toBeUndefined();
    expect(match('devices/{deviceId}', 'devices/d-1/extra')).toBeUndefined();
    expect(match('devices/{deviceId}', 'devices/')).toBeUndefined();
  });

  it('decodes percent-encoded segments', () => {
    expect(match('files/{name}', 'files/a%20b')).toEqual({ name: 'a b' });
    expect(match('files/{name}', 'files/%E0%A4%A')).toBeUndefined();
  });

  it('supports optional parameters, defaults and catch-all parameters', () => {
    expect(match('files/{name?}', 'files')).toEqual({});
    expect(match('files/{name?}', 'files/x')).toEqual({ name: 'x' });
    expect(match('lang/{code=en}', 'lang')).toEqual({ code: 'en' });
    expect(match('static/{*path}', 'static/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(match('static/{*path}', 'static')).toEqual({});
  });

  it('applies int, alpha, guid, length, min, max, range and regex constraints', () => {
    expect(match('n/{id:int}', 'n/42')).toEqual({ id: '42' });
    expect(match('n/{id:int}', 'n/-7')).toEqual({ id: '-7' });
    expect(match('n/{id:int}', 'n/4x')).toBeUndefined();
    expect(match('n/{id:int}', 'n/2147483648')).toBeUndefined();
    expect(match('a/{s:alpha}', 'a/Hello')).toEqual({ s: 'Hello' });
    expect(match('a/{s:alpha}', 'a/he11o')).toBeUndefined();
    expect(match('g/{id:guid}', 'g/0f8fad5b-d9cb-469f-a165-70867728950e')).toBeDefined();
    expect(match('g/{id:guid}', 'g/0f8fad5bd9cb469fa16570867728950e')).toBeDefined();
    expect(match('g/{id:guid}', 'g/not-a-guid')).toBeUndefined();
    expect(match('c/{code:length(3)}', 'c/abc')).toEqual({ code: 'abc' });
    expect(match('c/{code:length(3)}', 'c/abcd')).toBeUndefined();
    expect(match('c/{code:length(2,4)}', 'c/abcd')).toBeDefined();
    expect(match('c/{code:minlength(2):maxlength(3)}', 'c/a')).toBeUndefined();
    expect(match('p/{n:int:min(1):max(10)}', 'p/10')).toEqual({ n: '10' });
    expect(match('p/{n:int:min(1):max(10)}', 'p/0')).toBeUndefined();
    expect(match('p/{n:int:min(1):max(10)}', 'p/11')).toBeUndefined();
    expect(match('r/{n:range(5,6)}', 'r/6')).toBeDefined();
    expect(match('r/{n:range(5,6)}', 'r/7')).toBeUndefined();
    expect(match('d/{id:regex(^d-[0-9]{{3}}$)}', 'd/D-123')).toEqual({ id: 'D-123' });
    expect(match('d/{id:regex(^d-[0-9]{{3}}$)}', 'd/d-12')).toBeUndefined();
    expect(match('b/{flag:bool}', 'b/TRUE')).toBeDefined();
  });

  it('matches segments mixing literals and parameters', () => {
    expect(match('reports/{name}.{ext}', 'reports/q1.csv')).toEqual({ name: 'q1', ext: 'csv' });
    expect(match('reports/{name}.{ext}', 'reports/q1')).toBeUndefined();
  });

  it('rejects malformed templates the way the host refuses to index them', () => {
    expect(() => parseRouteTemplate('a/{id')).toThrow(RouteTemplateError);
    expect(() => parseRouteTemplate('a/{id}/{id}')).toThrow(/twice/);
    expect(() => parseRouteTemplate('a/{id:nope}')).toThrow(/unknown constraint/);
    expect(() => parseRouteTemplate('a/{*rest}/b')).toThrow(/catch-all/);
    expect(() => parseRouteTemplate('a//b')).toThrow(/empty segment/);
  });
});

describe('route selection', () => {
  const entry = (template: string, methods: string[], value: string) => ({
    route: parseRouteTemplate(template),
    methods,
    value,
  });
  const routes = [
    entry('items/{name}', ['GET'], 'any'),
    entry('items/{id:int}', ['GET'], 'int'),
    entry('items/special', ['GET'], 'literal'),
    entry('items/{id:int}', ['DELETE'], 'delete'),
    entry('orders', [], 'all-methods'),
  ];

  it('prefers literal segments, then constrained, then plain parameters', () => {
    expect(selectRoute(routes, 'GET', '/items/special')).toMatchObject({ kind: 'match', value: 'literal' });
    expect(selectRoute(routes, 'GET', '/items/SPECIAL')).toMatchObject({ kind: 'match', value: 'literal' });
    expect(selectRoute(routes, 'GET', '/items/12')).toMatchObject({
      kind: 'match',
      value: 'int',
      params: { id: '12' },
    });
    expect(selectRoute(routes, 'GET', '/items/abc')).toMatchObject({ kind: 'match', value: 'any' });
  });

  it('falls through to a less specific route that accepts the method', () => {
    expect(selectRoute(routes, 'delete', '/items/12')).toMatchObject({ kind: 'match', value: 'delete' });
    expect(selectRoute(routes, 'PATCH', '/orders')).toMatchObject({ kind: 'match', value: 'all-methods' });
  });

  it('reports 405 with the allowed methods when only the method is wrong, 404 when no route matches', () => {
    expect(selectRoute(routes, 'POST', '/items/12')).toEqual({ kind: 'methodNotAllowed', allowed: ['DELETE', 'GET'] });
    expect(selectRoute(routes, 'GET', '/nothing/here')).toEqual({ kind: 'notFound' });
  });
});
