import {
  errorDescription,
  errorExample,
  errorHeaders,
  errorsByStatus,
  type Operation,
  operations,
  type Parameter,
  requestComponents,
  responseComponents,
} from './model';
import { OPENAPI_REF } from './openApi';
import {
  API_TITLE,
  API_VERSION,
  BASE_PATH,
  CONNECTOR_DESCRIPTION,
  HEADERS,
  type HeaderName,
  JSON_TYPE,
  type JsonSchema,
  OPERATIONS,
  PARAMETERS,
  type SuccessSpec,
  TAGS,
  type TriggerSpec,
} from './operations';

/**
 * The Swagger 2.0 document (served at GET /api/swagger.json), the only format a Power Platform custom connector
 * imports, with the connector extensions (x-ms-summary, x-ms-visibility, x-ms-pageable, x-ms-capabilities,
 * x-ms-connector-metadata). Generated at build time; the app fills in `host` and `schemes` when it serves the file,
 * and `npm run connector` when it writes the connector's files.
 *   https://learn.microsoft.com/connectors/custom-connectors/define-openapi-definition
 *   https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions
 */

type Json = Record<string, unknown>;

// Power Platform's Entra ID OAuth: the connector's connection signs in through these endpoints; the identity
// provider settings themselves are in apiProperties.json (tools/connector.ts).
const AAD_AUTHORIZATION_URL = 'https://login.microsoftonline.com/common/oauth2/authorize';
const AAD_TOKEN_URL = 'https://login.microsoftonline.com/common/oauth2/token';

const SWAGGER_REF = '#/definitions/';

/** "osVersion" → "OS Version", "$top" → "Top": a title for x-ms-summary when a schema has none. */
export function humanize(name: string): string {
  const words = name.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g) ?? [name];
  const acronyms: Record<string, string> = { Id: 'ID', Os: 'OS', Url: 'URL', Ad: 'AD' };
  return words
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .map((word) => acronyms[word] ?? word)
    .join(' ');
}

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Rewrites a JSON Schema 2020-12 schema (as z.toJSONSchema writes it) into the Swagger 2.0 subset: `const` becomes a
 * one-value `enum`, `examples` becomes `example`, a `oneOf`/`anyOf` of objects becomes one object whose properties
 * are the union (required: those every branch requires), refs point into `definitions`, and every property gets an
 * `x-ms-summary` (its title, else its humanized name) for the flow designer.
 *
 * A `$ref` stands alone: Swagger 2.0 ignores a reference's siblings (JSON Reference), and the connector validator
 * refuses them, so a referenced schema's title and description come from its definition.
 */
export function toSwaggerSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toSwaggerSchema);
  if (!isObject(schema)) return schema;
  if (typeof schema.$ref === 'string') return { $ref: schema.$ref.replace(OPENAPI_REF, SWAGGER_REF) };
  const variants = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (variants) {
    const { oneOf: _o, anyOf: _a, ...rest } = schema;
    return toSwaggerSchema({ ...mergeVariants(variants), ...rest });
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case '$schema':
      case '$id':
      case '$defs':
      case 'propertyNames':
      case 'prefixItems':
      case 'contentEncoding':
      case 'contentMediaType':
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'examples':
        if (Array.isArray(value) && value.length > 0) out.example = value[0];
        break;
      case 'type':
        if (Array.isArray(value)) {
          const types = value.filter((t) => t !== 'null');
          out.type = types[0];
          if (types.length < value.length) out['x-nullable'] = true;
        } else {
          out.type = value;
        }
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (typeof value === 'number') {
          out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = value;
          out[key] = true;
        }
        break;
      case 'properties':
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, unknown>).map(([name, property]) => {
            const converted = toSwaggerSchema(property) as JsonSchema;
            if ('$ref' in converted) return [name, converted];
            return [name, { ...converted, 'x-ms-summary': converted.title ?? humanize(name) }];
          }),
        );
        break;
      default:
        out[key] = isObject(value) || Array.isArray(value) ? toSwaggerSchema(value) : value;
    }
  }
  // A long generated date-time pattern says nothing `format` does not, and clutters the connector.
  if (out.format === 'date-time') delete out.pattern;
  return out;
}

function mergeVariants(variants: JsonSchema[]): JsonSchema {
  if (!variants.every((v) => v.type === 'object')) return {};
  const properties: Record<string, JsonSchema> = {};
  for (const variant of variants) {
    for (const [name, property] of Object.entries((variant.properties ?? {}) as Record<string, JsonSchema>)) {
      const seen = properties[name];
      if (!seen) {
        properties[name] = property;
      } else if ('const' in seen && 'const' in property && seen.const !== property.const) {
        const { const: _c, ...rest } = seen;
        properties[name] = { ...rest, enum: [seen.const, property.const] };
      }
    }
  }
  const requiredLists = variants.map((v) => (v.required ?? []) as string[]);
  const required = (requiredLists[0] ?? []).filter((name) => requiredLists.every((list) => list.includes(name)));
  const closed = variants.every((v) => v.additionalProperties === false);
  return {
    type: 'object',
    properties,
    ...(required.length > 0 && { required }),
    ...(closed && { additionalProperties: false }),
  };
}

/** A non-body Swagger parameter carries its schema's keywords itself. */
const PARAMETER_KEYWORDS = [
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
] as const;

function swaggerParameter(parameter: Parameter): Json {
  const schema = toSwaggerSchema(parameter.schema) as JsonSchema;
  const keywords = Object.fromEntries(PARAMETER_KEYWORDS.flatMap((k) => (k in schema ? [[k, schema[k]]] : [])));
  return {
    name: parameter.name,
    in: parameter.in,
    required: parameter.required,
    description: parameter.info.description,
    'x-ms-summary': parameter.info.title,
    ...(parameter.info.visibility && { 'x-ms-visibility': parameter.info.visibility }),
    ...keywords,
    ...(keywords.type === undefined && { type: 'string' }),
  };
}

function swaggerHeaders(
  always: HeaderName[] = [],
  sometimes: HeaderName[] = [],
  descriptions: Partial<Record<HeaderName, string>> = {},
): Json | undefined {
  const names = [...always, ...sometimes];
  if (names.length === 0) return undefined;
  return Object.fromEntries(
    names.map((name) => {
      const { type, format } = HEADERS[name].schema as { type: string; format?: string };
      return [name, { type, ...(format && { format }), description: descriptions[name] ?? HEADERS[name].description }];
    }),
  );
}

function swaggerOperation(operation: Operation): Json {
  const { spec, route } = operation;
  const parameters = operation.parameters.map(swaggerParameter);
  if (spec.statusLink) {
    parameters.push({
      name: 'sig',
      in: 'query',
      required: false,
      type: 'string',
      description: PARAMETERS['query.sig']?.description,
      'x-ms-summary': PARAMETERS['query.sig']?.title,
      'x-ms-visibility': 'internal',
    });
  }
  if (spec.body) {
    parameters.push({
      name: 'body',
      in: 'body',
      required: spec.body.required,
      description: spec.body.description,
      'x-ms-summary': spec.body.title,
      schema: { $ref: `${SWAGGER_REF}${spec.body.name}` },
    });
  }
  const responses: Record<string, Json> = {};
  for (const success of [...(spec.finalResponse ? [spec.finalResponse] : []), ...spec.success]) {
    responses[String(success.status)] = swaggerSuccess(success);
  }
  for (const [status, codes] of errorsByStatus(operation)) {
    const { always, sometimes } = errorHeaders(codes);
    const headers = swaggerHeaders(always, sometimes);
    const [first] = codes;
    responses[String(status)] = {
      description: errorDescription(codes),
      schema: { $ref: `${SWAGGER_REF}ErrorBody` },
      ...(headers && { headers }),
      ...(first && { examples: { [JSON_TYPE]: errorExample(first, operation) } }),
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.trigger?.summary ?? spec.summary,
    description: spec.description,
    tags: [spec.tag],
    ...(spec.visibility && { 'x-ms-visibility': spec.visibility }),
    ...(spec.trigger && { 'x-ms-trigger': spec.trigger.kind, 'x-ms-trigger-hint': spec.trigger.hint }),
    ...(spec.body && { consumes: [JSON_TYPE] }),
    produces: [JSON_TYPE],
    parameters,
    responses,
    ...(route.role || route.signedIn ? {} : { security: [] }),
    ...(spec.pageable && { 'x-ms-pageable': { nextLinkName: '@odata.nextLink' } }),
  };
}

function swaggerSuccess(success: SuccessSpec): Json {
  const headers = swaggerHeaders(success.headers, success.optionalHeaders, success.headerDescriptions);
  return {
    description: success.description,
    ...(success.schema && { schema: { $ref: `${SWAGGER_REF}${success.schema}` } }),
    ...(headers && { headers }),
    ...(success.schema && success.example !== undefined && { examples: { [JSON_TYPE]: success.example } }),
  };
}

/**
 * A webhook trigger's request body as the workflow designer needs it: the callback URL property filled by the
 * workflow service (x-ms-notification-url) and hidden, every other property shown as the trigger says, a hidden
 * required one with the value to send. https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions
 */
function triggerBody(definition: JsonSchema, trigger: TriggerSpec): JsonSchema {
  const properties = { ...((definition.properties ?? {}) as Record<string, JsonSchema>) };
  const url = properties[trigger.notificationUrlProperty];
  if (!url) throw new Error(`api documents: the trigger body has no ${trigger.notificationUrlProperty}`);
  properties[trigger.notificationUrlProperty] = {
    ...url,
    'x-ms-notification-url': true,
    'x-ms-visibility': 'internal',
  };
  for (const [name, shown] of Object.entries(trigger.bodyProperties)) {
    const property = properties[name];
    if (!property) throw new Error(`api documents: the trigger body has no ${name}`);
    properties[name] = {
      ...property,
      'x-ms-visibility': shown.visibility,
      ...(shown.default !== undefined && { default: shown.default }),
    };
  }
  return { ...definition, properties };
}

/** Who publishes the connector: `info.contact` and `x-ms-connector-metadata`, which certification requires. */
export interface ConnectorInfo {
  contactName: string;
  contactEmail: string;
  /** The publisher's website (contact URL and the "Website" metadata). */
  website: string;
  privacyPolicy: string;
  /** Connector categories, `;`-separated, from Power Platform's list (e.g. "IT Operations;Security"). */
  categories: string;
}

/** Example values (contoso.com is the documentation example domain): `npm run connector` says to replace them. */
export const PLACEHOLDER_CONNECTOR_INFO: ConnectorInfo = {
  contactName: 'Contoso IT operations',
  contactEmail: 'it-operations@contoso.com',
  website: 'https://www.contoso.com',
  privacyPolicy: 'https://www.contoso.com/privacy',
  categories: 'IT Operations;Security',
};

/**
 * The Swagger 2.0 document of the app as a Power Platform custom connector. Without `host` it has none (a client
 * then uses the host that served it); the app and `npm run connector` set it.
 */
export function buildSwaggerDocument(
  options: { host?: string; schemes?: string[]; connector?: ConnectorInfo } = {},
): Json {
  const connector = options.connector ?? PLACEHOLDER_CONNECTOR_INFO;
  const paths: Record<string, Record<string, Json>> = {};
  const definitions: Record<string, JsonSchema> = Object.fromEntries(
    Object.entries({ ...responseComponents(OPENAPI_REF), ...requestComponents() }).map(([name, schema]) => [
      name,
      toSwaggerSchema(schema) as JsonSchema,
    ]),
  );
  for (const operation of operations()) {
    const item: Record<string, Json> = paths[operation.path] ?? {};
    paths[operation.path] = item;
    item[operation.method] = swaggerOperation(operation);
    const { trigger, body } = operation.spec;
    if (!trigger) continue;
    // x-ms-notification-content belongs to the path item (the PowerPlatformConnectors schema puts it there).
    item['x-ms-notification-content'] = {
      description: trigger.contentDescription,
      schema: { $ref: `${SWAGGER_REF}${trigger.content}` },
    };
    const bodyDefinition = body && definitions[body.name];
    if (!body || !bodyDefinition)
      throw new Error(`api documents: the trigger ${operation.spec.operationId} has no body`);
    definitions[body.name] = triggerBody(bodyDefinition, trigger);
  }
  return {
    swagger: '2.0',
    info: {
      title: API_TITLE,
      version: API_VERSION,
      description: CONNECTOR_DESCRIPTION,
      contact: { name: connector.contactName, url: connector.website, email: connector.contactEmail },
    },
    ...(options.host && { host: options.host }),
    basePath: BASE_PATH,
    schemes: options.schemes ?? ['https'],
    consumes: [JSON_TYPE],
    produces: [JSON_TYPE],
    tags: TAGS,
    paths,
    definitions,
    // Power Platform uses the first security definition only, and no client-credentials flow: one accessCode
    // (authorization code) definition for Entra ID. https://learn.microsoft.com/connectors/custom-connectors/define-openapi-definition
    securityDefinitions: {
      oauth2_auth: {
        type: 'oauth2',
        flow: 'accessCode',
        authorizationUrl: AAD_AUTHORIZATION_URL,
        tokenUrl: AAD_TOKEN_URL,
        scopes: {},
        description: 'Sign-in with a work account (OAuth 2.0 authorization code flow).',
      },
    },
    security: [{ oauth2_auth: [] }],
    // Lets Power Platform check a new connection by calling an operation that every reader may call.
    'x-ms-capabilities': { testConnection: { operationId: OPERATIONS.getSupportMatrix.operationId, parameters: {} } },
    'x-ms-connector-metadata': [
      { propertyName: 'Website', propertyValue: connector.website },
      { propertyName: 'Privacy policy', propertyValue: connector.privacyPolicy },
      { propertyName: 'Categories', propertyValue: connector.categories },
    ],
  };
}
