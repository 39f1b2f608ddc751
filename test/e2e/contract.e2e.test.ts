import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDeviceChannel } from '../../lib/adapters/simulatedDeviceChannel';
import { tableClient } from '../../lib/adapters/tableClients';
import { STORAGE_NAMES } from '../../lib/deps';
import { spawnHost } from '../../tools/host/spawnHost';
import { validateResponse } from '../support/openapiValidator';
import { call, type JsonResponse, pollLikeLogicApps, type Stack, startStack } from './stack';

// Drives every route of docs/API.md on the running host, success and error cases, and validates each response's status,
// headers and body against the OpenAPI document the app serves, so that the document and the behaviour cannot drift.
describe('every route against the OpenAPI document', () => {
  let stack: Stack;
  let document: object;
  const checked: string[] = [];

  beforeAll(async () => {
    // The worker starts disabled so that actions stay pending (for cancel); it is enabled halfway through.
    stack = await startStack({ 'AzureWebJobs.resetPasscodeWorker.Disabled': 'true' });
    document = (await call(`${stack.api}/openapi.json`)).body;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Calls a route and asserts that the response is one the OpenAPI document describes. */
  async function expectDocumented(
    method: string,
    path: string,
    expectedStatus: number,
    init: { json?: unknown; headers?: Record<string, string>; body?: string } = {},
  ): Promise<JsonResponse> {
    const url = path.startsWith('http') ? path : `${stack.api}/${path}`;
    const response = await call(url, { method, ...init });
    expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBe(expectedStatus);
    const problems = validateResponse(document, {
      method,
      route: url,
      status: response.status,
      headers: response.headers,
      body: response.body,
    });
    expect(problems, `${method} ${path} ${response.status}`).toEqual([]);
    checked.push(`${method} ${response.status}`);
    return response;
  }

  const device = { deviceName: 'Contract iPhone', operatingSystem: 'iOS', osVersion: '17.5' };

  it('devices: PUT 201/200/400, GET one 200/404, list 200/400', async () => {
    await expectDocumented('PUT', 'deviceManagement/managedDevices/c-ios', 201, { json: device });
    await expectDocumented('PUT', 'deviceManagement/managedDevices/c-ios', 200, { json: device });
    await expectDocumented('PUT', 'deviceManagement/managedDevices/c-ios', 400, { json: { ...device, extra: 1 } });
    await expectDocumented('PUT', 'deviceManagement/managedDevices/c-android7', 201, {
      json: { deviceName: 'Pixel', operatingSystem: 'Android', osVersion: '7.0' },
    });
    await expectDocumented('GET', 'deviceManagement/managedDevices/c-ios', 200);
    await expectDocumented('GET', 'deviceManagement/managedDevices/nope', 404);
    const page = await expectDocumented('GET', 'deviceManagement/managedDevices?$top=1', 200);
    expect(page.body['@odata.nextLink']).toContain('$skipToken=');
    await expectDocumented('GET', page.body['@odata.nextLink'], 200);
    await expectDocumented('GET', 'deviceManagement/managedDevices?operatingSystem=Symbian', 400);
  });

  it('reset: 202, 409, 404, 422, 400; status 202 while pending; cancel 200, then 409 and 404', async () => {
    const accepted = await expectDocumented('POST', 'deviceManagement/managedDevices/c-ios/resetPasscode', 202, {
      json: { reason: 'contract' },
    });
    await expectDocumented('POST', 'deviceManagement/managedDevices/c-ios/resetPasscode', 409);
    await expectDocumented('POST', 'deviceManagement/managedDevices/nope/resetPasscode', 404);
    await expectDocumented('POST', 'deviceManagement/managedDevices/c-android7/resetPasscode', 422);
    await expectDocumented('POST', 'deviceManagement/managedDevices/c-ios/resetPasscode', 400, { json: { x: 1 } });
    const location = accepted.headers.get('location') ?? '';
    await expectDocumented('GET', location, 202);
    const actionPath = `deviceManagement/managedDevices/c-ios/deviceActionResults/${accepted.body.id}`;
    const canceled = await expectDocumented('DELETE', actionPath, 200);
    expect(canceled.body.actionState).toBe('canceled');
    await expectDocumented('DELETE', actionPath, 409);
    await expectDocumented('DELETE', 'deviceManagement/managedDevices/c-ios/deviceActionResults/0000000000000-00', 404);
    await expectDocumented('GET', 'deviceManagement/managedDevices/c-ios/deviceActionResults/0000000000000-00', 404);
  });

  it('with the worker enabled: Logic Apps-style polling to done and to failed; lists, audit, unlock, documents', async () => {
    await stack.host.stop();
    const { 'AzureWebJobs.resetPasscodeWorker.Disabled': _off, ...env } = stack.env;
    stack.env = env;
    stack.host = await spawnHost({ appDir: process.cwd(), env, port: 0 });
    stack.api = `${stack.host.url}/api`;

    const done = await pollLikeLogicApps(
      await expectDocumented('POST', 'deviceManagement/managedDevices/c-ios/resetPasscode', 202),
    );
    expect(done.final.status).toBe(200);
    expect(done.final.body.actionState).toBe('done');
    await expectDocumented(
      'GET',
      `deviceManagement/managedDevices/c-ios/deviceActionResults/${done.final.body.id}`,
      200,
    );

    // A device that refuses the passcode for good: the action ends failed, and polling stops there too.
    const simulator = new SimulatedDeviceChannel(
      tableClient(stack.azurite.connectionString, STORAGE_NAMES.tables.simulator),
      { latencyMs: 0, transientFailureRate: 0, randomInt, clock: { now: () => new Date() } },
    );
    await expectDocumented('PUT', 'deviceManagement/managedDevices/c-wiped', 201, { json: device });
    await simulator.script('c-wiped', { permanentFailure: { code: 'deviceWiped', message: 'The device was wiped.' } });
    const failed = await pollLikeLogicApps(
      await expectDocumented('POST', 'deviceManagement/managedDevices/c-wiped/resetPasscode', 202),
    );
    expect(failed.final.status).toBe(200);
    expect(failed.final.body).toMatchObject({ actionState: 'failed', error: { code: 'deviceWiped' } });
    await expectDocumented(
      'GET',
      `deviceManagement/managedDevices/c-wiped/deviceActionResults/${failed.final.body.id}`,
      200,
    );

    await expectDocumented('GET', 'deviceManagement/managedDevices/c-ios/deviceActionResults', 200);
    await expectDocumented('GET', 'deviceManagement/deviceActionResults?actionState=done', 200);
    await expectDocumented('GET', 'deviceManagement/deviceActionResults?actionState=bogus', 400);
    await expectDocumented('GET', 'deviceManagement/resetPasscode/supportMatrix', 200);
    await expectDocumented('GET', 'deviceManagement/auditEvents?deviceId=c-ios', 200);
    await expectDocumented('GET', 'deviceManagement/auditEvents?from=yesterday', 400);
    await expectDocumented('POST', 'simulator/managedDevices/c-ios/unlock', 200, {
      json: { passcode: done.final.body.passcode },
    });
    await expectDocumented('POST', 'simulator/managedDevices/c-ios/unlock', 403, { json: { passcode: 'nope' } });
    await expectDocumented('GET', 'health', 200);
    await expectDocumented('GET', 'openapi.json', 200);
    await expectDocumented('GET', 'swagger.json', 200);
    expect(checked.length).toBeGreaterThanOrEqual(35);
  });
});
