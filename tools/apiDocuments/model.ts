import * as z from 'zod';
import { ERROR_CATALOGUE, type ErrorCode, type ErrorEntry, exampleMessage } from '../../lib/core/errorCatalogue';
import { RESPONSE_SCHEMAS } from '../../lib/http/responseSchemas';
import { ROUTES, type RouteSpec } from '../../lib/http/routes';
import { IdempotencyKeySchema, IfMatchSchema } from '../../lib/http/schemas';
import {
  AUTHENTICATED_ERRORS,
  type HeaderName,
  type JsonSchema,
  OPERATIONS,
  type OperationSpec,
  PARAMETERS,
  type ParameterSpec,
  type RouteName,
  SIGNED_IN_ERRORS,
} from './operations';

/** The neutral model both documents are written from: each route joined with its operation spec. */
export interface Operation {
  route: RouteSpec;
  spec: OperationSpec;
  /** Path after the base path, with a leading slash and Functions route constraints removed. */
  path: string;
  method: 'get' | 'put' | 'post' | 'patch' | 'delete';
  parameters: Parameter[];
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
  info: ParameterSpec;
}

/** `{deviceId:regex}` and `{name?}` of Functions route templates become plain `{deviceId}`, `{name}`. */
const documentPath = (route: string) => `/${route.replace(/\{([^}:?]+)[^}]*\}/g, '{$1}')}`;

const stripDialect = (schema: JsonSchema): JsonSchema => {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
};

const inputJsonSchema = (schema: z.core.$ZodType): JsonSchema =>
  stripDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);

function parametersOf(spec: OperationSpec): Parameter[] {
  const parameters: Parameter[] = [];
  const add = (where: Parameter['in'], object: z.core.$ZodType | undefined) => {
    if (!object) return;
    const json = inputJsonSchema(object);
    const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json.required ?? []) as string[]);
    for (const [name, schema] of Object.entries(properties)) {
      const info = PARAMETERS[`${where}.${name}`];
      if (!info) throw new Error(`api documents: no description for ${where} parameter ${name}`);
      // A query parameter with a default is optional for the caller even though the parsed value always has it.
      parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema, info });
    }
  };
  add('path', spec.pathParams);
  add('query', spec.query);
  const idempotencyKey = PARAMETERS['header.Idempotency-Key'];
  if (spec.idempotencyKey && idempotencyKey) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      schema: inputJsonSchema(IdempotencyKeySchema),
      info: idempotencyKey,
    });
  }
  const ifMatch = PARAMETERS['header.If-Match'];
  if (spec.ifMatch && ifMatch) {
    parameters.push({
      name: 'If-Match',
      in: 'header',
      required: false,
      schema: inputJsonSchema(IfMatchSchema),
      info: ifMatch,
    });
  }
  return parameters;
}

const METHODS = { GET: 'get', PUT: 'put', POST: 'post', PATCH: 'patch', DELETE: 'delete' } as const;

/** Every route of ROUTES with what the documents say about it, in ROUTES order. */
export function operations(): Operation[] {
  return Object.entries(ROUTES).map(([name, route]: [string, RouteSpec]) => {
    const spec = OPERATIONS[name as RouteName];
    return {
      route,
      spec,
      path: documentPath(route.route),
      method: METHODS[route.method],
      parameters: parametersOf(spec),
    };
  });
}

/** Every error code the operation can answer, in status order. */
function errorCodesOf(operation: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(operation.spec.errors);
  if (operation.route.role) for (const code of AUTHENTICATED_ERRORS) codes.add(code);
  if (operation.route.signedIn) for (const code of SIGNED_IN_ERRORS) codes.add(code);
  return [...codes].sort((a, b) => ERROR_CATALOGUE[a].status - ERROR_CATALOGUE[b].status);
}

/** Error codes grouped by status. */
export function errorsByStatus(operation: Operation): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(operation)) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}

/** An example details list for a 400 (the catalogue has none: they depend on the request). */
const EXAMPLE_DETAILS = [
  { code: 'invalidValue', message: 'Too big: expected string to have <=500 characters', target: 'reason' },
];

/** The error body a caller of `operation` would get for `code`, with the catalogue's example message. */
export function errorExample(code: ErrorCode, operation: Operation) {
  const entry: ErrorEntry = ERROR_CATALOGUE[code];
  const role = operation.route.role;
  const message = code === 'forbidden' && role ? `This operation needs the role ${role}.` : exampleMessage(code);
  return {
    error: {
      code,
      message,
      ...(entry.target && { target: entry.target }),
      ...(code === 'invalidRequest' && { details: EXAMPLE_DETAILS }),
      innerError: { 'request-id': '5d1e0c2a-7f3b-4e59-9c1d-2a6b8e4f0c13', date: '2026-11-26T10:00:00.000Z' },
    },
  };
}

/** One response description for every code of a status: "code: when | code: when". */
export function errorDescription(codes: ErrorCode[]): string {
  return codes.map((code) => `${code}: ${ERROR_CATALOGUE[code].when}`).join(' | ');
}

/** Headers every error of a status carries (e.g. 429 always has Retry-After) and those only some carry. */
export function errorHeaders(codes: ErrorCode[]): { always: HeaderName[]; sometimes: HeaderName[] } {
  const entries: ErrorEntry[] = codes.map((code) => ERROR_CATALOGUE[code]);
  const lists = entries.map((entry) => [...(entry.headers ?? [])]);
  const all = new Set([...lists.flat(), ...entries.flatMap((entry) => entry.optionalHeaders ?? [])]);
  const always = [...all].filter((h) => lists.every((list) => list.includes(h)));
  return { always, sometimes: [...all].filter((h) => !always.includes(h)) };
}

/** JSON schemas of the named response schemas, referring to each other through `refBase<Name>`. */
export function responseComponents(refBase: string): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(RESPONSE_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `${refBase}${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, stripDialect(schema)]));
}

/** JSON schemas of the request bodies, by their names. */
export function requestComponents(): Record<string, JsonSchema> {
  const bodies = Object.values(OPERATIONS).flatMap((spec) => (spec.body ? [spec.body] : []));
  return Object.fromEntries(
    bodies.map((body) => [
      body.name,
      { title: body.title, description: body.description, ...inputJsonSchema(body.schema), examples: [body.example] },
    ]),
  );
}
