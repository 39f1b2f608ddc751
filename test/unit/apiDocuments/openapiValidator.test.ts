import { describe, expect, it } from 'vitest';
import { errorBody } from '../../../lib/http/responses';
import { ROUTES } from '../../../lib/http/routes';
import { buildOpenApiDocument } from '../../../tools/apiDocuments/openApi';
import { validateResponse } from '../../support/openapiValidator';

const document = buildOpenApiDocument({ serverUrl: 'http://localhost:7071' });

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8' };
const LOCATION = `http://localhost:7071/api/deviceManagement/managedDevices/d1/deviceActionResults/a1?sig=v1.1767225600.${'A'.repeat(43)}`;

const pending = {
  id: '8235918799999-4f1c2a9b7e3d5a6c8b0e',
  deviceId: 'd1',
  actionName: 'resetPasscode',
  actionState: 'pending',
  startDateTime: '2026-11-26T10:00:00.000Z',
  lastUpdatedDateTime: '2026-11-26T10:00:00.000Z',
  requestedBy: 'ana@contoso.com',
};

describe('validateResponse', () => {
  it('accepts a 202 of resetPasscode with its headers and body, by route template', () => {
    const problems = validateResponse(document, {
      method: 'POST',
      route: ROUTES.resetPasscode.route,
      status: 202,
      headers: { ...JSON_HEADERS, Location: LOCATION, 'Operation-Location': LOCATION, 'Retry-After': '2' },
      body: pending,
    });
    expect(problems).toEqual([]);
  });

  it('matches a concrete URL to its path template and accepts a terminal action', () => {
    const problems = validateResponse(document, {
      method: 'get',
      route: 'http://localhost:7071/api/deviceManagement/managedDevices/d1/deviceActionResults/a1?sig=abc',
      status: 200,
      headers: new Headers({ ...JSON_HEADERS, 'Cache-Control': 'no-store' }),
      body: { ...pending, actionState: 'done', passcode: '729403', passcodeExpirationDateTime: '2026-12-03T10:00:00Z' },
    });
    expect(problems).toEqual([]);
  });

  it('accepts the error body the code writes', () => {
    const problems = validateResponse(document, {
      method: 'GET',
      route: '/api/deviceManagement/managedDevices/nope',
      status: 404,
      headers: JSON_HEADERS,
      body: errorBody('deviceNotFound', "No managed device with id 'nope'.", 'req-1', { target: 'deviceId' }),
    });
    expect(problems).toEqual([]);
  });

  it('reports a missing required header', () => {
    const problems = validateResponse(document, {
      method: 'POST',
      route: ROUTES.resetPasscode.route,
      status: 202,
      headers: { ...JSON_HEADERS, Location: LOCATION, 'Operation-Location': LOCATION },
      body: pending,
    });
    expect(problems).toEqual([expect.stringContaining('required header Retry-After is missing')]);
  });

  it('reports a body that leaks an undocumented property or breaks the schema', () => {
    const problems = validateResponse(document, {
      method: 'GET',
      route: ROUTES.getDeviceActionResult.route,
      status: 200,
      headers: JSON_HEADERS,
      body: { ...pending, actionState: 'finished', sealedPasscode: { keyId: 'k1', value: 'x' } },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('/actionState must be equal to one of the allowed values'),
        expect.stringContaining('must NOT have additional properties (sealedPasscode)'),
      ]),
    );
  });

  it('reports an undocumented status, method or path', () => {
    const base = { headers: JSON_HEADERS, body: {} };
    expect(validateResponse(document, { ...base, method: 'GET', route: 'health', status: 418 })).toEqual([
      expect.stringContaining('status 418 is not documented'),
    ]);
    expect(validateResponse(document, { ...base, method: 'DELETE', route: 'health', status: 200 })).toEqual([
      expect.stringContaining('is not documented'),
    ]);
    expect(validateResponse(document, { ...base, method: 'GET', route: '/api/nowhere', status: 200 })).toEqual([
      expect.stringContaining('no path in the document matches'),
    ]);
  });

  it('reports a Content-Type that is not documented', () => {
    const problems = validateResponse(document, {
      method: 'GET',
      route: ROUTES.health.route,
      status: 200,
      headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' },
      body: { status: 'healthy', checks: { storage: 'ok' } },
    });
    expect(problems).toEqual([expect.stringContaining('Content-Type text/plain is not one of application/json')]);
  });
});
