import {
  errorDescription,
  errorExample,
  errorHeaders,
  errorsByStatus,
  type Operation,
  operations,
  requestComponents,
  responseComponents,
} from './model';
import {
  API_DESCRIPTION,
  API_TITLE,
  API_VERSION,
  BASE_PATH,
  HEADERS,
  type HeaderName,
  JSON_TYPE,
  PARAMETERS,
  TAGS,
  type TriggerSpec,
} from './operations';

/**
 * The OpenAPI 3.1 document (served at GET /api/openapi.json), whose schemas are JSON Schema 2020-12 as
 * z.toJSONSchema writes them. Generated at build time; the app fills in `servers` when it serves the file.
 */

type Json = Record<string, unknown>;

export const OPENAPI_REF = '#/components/schemas/';

/** The OpenAPI 3.1 document; `serverUrl` is the app's origin (e.g. https://app.azurewebsites.net). */
export function buildOpenApiDocument(options: { serverUrl?: string } = {}): Json {
  const server = options.serverUrl ? `${options.serverUrl.replace(/\/+$/, '')}${BASE_PATH}` : BASE_PATH;
  const paths: Record<string, Record<string, Json>> = {};
  for (const operation of operations()) {
    paths[operation.path] ??= {};
    (paths[operation.path] as Record<string, Json>)[operation.method] = openApiOperation(operation);
  }
  return {
    openapi: '3.1.0',
    info: { title: API_TITLE, version: API_VERSION, description: API_DESCRIPTION },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: server }],
    tags: TAGS,
    security: [{ entraId: [] }],
    paths,
    components: {
      schemas: { ...responseComponents(OPENAPI_REF), ...requestComponents() },
      headers: Object.fromEntries(
        Object.entries(HEADERS).map(([name, header]) => [
          name,
          { description: header.description, schema: header.schema },
        ]),
      ),
      securitySchemes: {
        entraId: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An Entra ID (Azure AD) OAuth 2.0 access token for this API, in `Authorization: Bearer <token>`. Its ' +
            '`roles` claim carries the app roles: Devices.Read, Devices.Manage, Passcode.Reset, Passcode.Read, Audit.Read.',
        },
        statusLink: {
          type: 'apiKey',
          in: 'query',
          name: 'sig',
          description: PARAMETERS['query.sig']?.description,
        },
      },
    },
  };
}

function openApiHeaders(
  always: HeaderName[] = [],
  sometimes: HeaderName[] = [],
  descriptions: Partial<Record<HeaderName, string>> = {},
): Json | undefined {
  if (always.length + sometimes.length === 0) return undefined;
  const header = (name: HeaderName, required: boolean) => [
    name,
    { ...HEADERS[name], description: descriptions[name] ?? HEADERS[name].description, required },
  ];
  return Object.fromEntries([...always.map((n) => header(n, true)), ...sometimes.map((n) => header(n, false))]);
}

/**
 * A webhook subscription's callback (OpenAPI's Callback Object): what the service sends to the subscriber's
 * notificationUrl, the validation request first. https://spec.openapis.org/oas/v3.1.0#callback-object
 */
function openApiCallbacks(trigger: TriggerSpec): Json {
  return {
    changeNotification: {
      [`{$request.body#/${trigger.notificationUrlProperty}}`]: {
        post: {
          summary: 'Notification, or validation request',
          description:
            'With a `validationToken` query parameter (before the subscription is created): answer 200 with the ' +
            'token as text/plain within 10 seconds. Without it: a notification; answer 2xx within 10 seconds, else ' +
            'it is sent again (410 Gone deletes the subscription).',
          parameters: [
            {
              name: 'validationToken',
              in: 'query',
              required: false,
              description: 'Present only on the validation request: echo it back as text/plain.',
              schema: { type: 'string' },
            },
          ],
          requestBody: {
            required: false,
            description: `${trigger.contentDescription} The validation request has no body.`,
            content: {
              [JSON_TYPE]: { schema: { $ref: `${OPENAPI_REF}${trigger.content}` }, example: trigger.contentExample },
            },
          },
          responses: {
            '200': {
              description: 'Validation: the validationToken as text/plain. Notification: accepted.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            '202': { description: 'Notification accepted.' },
            '410': { description: 'Gone: the service deletes the subscription.' },
          },
        },
      },
    },
  };
}

function openApiOperation(operation: Operation): Json {
  const { spec, route } = operation;
  const responses: Record<string, Json> = {};
  for (const success of spec.success) {
    const headers = openApiHeaders(success.headers, success.optionalHeaders, success.headerDescriptions);
    responses[String(success.status)] = {
      description: success.description,
      ...(headers && { headers }),
      ...(success.schema && {
        content: {
          [JSON_TYPE]: {
            schema: { $ref: `${OPENAPI_REF}${success.schema}` },
            ...(success.example !== undefined && { example: success.example }),
          },
        },
      }),
    };
  }
  for (const [status, codes] of errorsByStatus(operation)) {
    const { always, sometimes } = errorHeaders(codes);
    const headers = openApiHeaders(always, sometimes);
    responses[String(status)] = {
      description: errorDescription(codes),
      ...(headers && { headers }),
      content: {
        [JSON_TYPE]: {
          schema: { $ref: `${OPENAPI_REF}ErrorBody` },
          examples: Object.fromEntries(
            codes.map((code) => [code, { summary: code, value: errorExample(code, operation) }]),
          ),
        },
      },
    };
  }
  const security =
    route.role || route.signedIn ? [{ entraId: [] }, ...(spec.statusLink ? [{ statusLink: [] }] : [])] : [];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    ...(operation.parameters.length > 0 && {
      parameters: operation.parameters.map((p) => ({
        name: p.name,
        in: p.in,
        required: p.required,
        description: p.info.description,
        schema: p.schema,
        ...(p.info.example !== undefined && { example: p.info.example }),
      })),
    }),
    ...(spec.body && {
      requestBody: {
        required: spec.body.required,
        description: spec.body.description,
        content: { [JSON_TYPE]: { schema: { $ref: `${OPENAPI_REF}${spec.body.name}` }, example: spec.body.example } },
      },
    }),
    responses,
    ...(spec.trigger && { callbacks: openApiCallbacks(spec.trigger) }),
    security,
    ...(route.role && { 'x-required-role': route.role }),
  };
}
