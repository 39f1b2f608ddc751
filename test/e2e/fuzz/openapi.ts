import fc from 'fast-check';
import { z } from 'zod';
import type { Random } from './random';

/** The JSON Schema keywords the generator reads (OpenAPI 3.1 = JSON Schema 2020-12). */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  $ref?: string;
  examples?: unknown[];
}

const JsonSchemaSchema: z.ZodType<JsonSchema> = z.lazy(() =>
  z.looseObject({
    type: z.union([z.string(), z.array(z.string())]).optional(),
    enum: z.array(z.unknown()).optional(),
    const: z.unknown().optional(),
    pattern: z.string().optional(),
    format: z.string().optional(),
    minLength: z.number().optional(),
    maxLength: z.number().optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    properties: z.record(z.string(), JsonSchemaSchema).optional(),
    required: z.array(z.string()).optional(),
    additionalProperties: z.union([z.boolean(), JsonSchemaSchema]).optional(),
    items: JsonSchemaSchema.optional(),
    $ref: z.string().optional(),
    examples: z.array(z.unknown()).optional(),
  }),
);

const ParameterSchema = z.object({
  name: z.string(),
  in: z.enum(['path', 'query', 'header', 'cookie']),
  required: z.boolean().optional(),
  schema: JsonSchemaSchema,
});

const OperationSchema = z.object({
  operationId: z.string(),
  parameters: z.array(ParameterSchema).optional(),
  requestBody: z
    .object({
      required: z.boolean().optional(),
      content: z.record(z.string(), z.object({ schema: JsonSchemaSchema })),
    })
    .optional(),
  security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
});

const DocumentSchema = z.object({
  openapi: z.string().startsWith('3.'),
  servers: z.array(z.object({ url: z.string() })).min(1),
  security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.object({ schemas: z.record(z.string(), JsonSchemaSchema) }),
});

export type Parameter = z.infer<typeof ParameterSchema>;

/** One operation of the served document, with every $ref resolved. */
export interface Operation {
  id: string;
  method: string;
  /** The path template after the server URL, e.g. "/deviceManagement/managedDevices/{deviceId}". */
  path: string;
  /** Every method the document lists for this path (the others are "wrong methods" for it). */
  pathMethods: string[];
  params: Parameter[];
  body?: { required: boolean; schema: JsonSchema };
  /** No credentials needed (security: []). */
  anonymous: boolean;
}

export interface ApiDocument {
  operations: Operation[];
  /** The error body every 4xx and 5xx must have (components.schemas.ErrorBody), refs resolved. */
  errorBody: JsonSchema;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Reads the served OpenAPI document; throws when it lacks what the fuzzer needs. */
export function readApiDocument(raw: unknown): ApiDocument {
  const parsed = DocumentSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`not an OpenAPI 3 document: ${z.prettifyError(parsed.error)}`);
  const { paths, components } = parsed.data;
  const resolve = (schema: JsonSchema, depth = 0): JsonSchema => resolveRefs(schema, components.schemas, depth);
  const defaultAnonymous = (parsed.data.security ?? []).length === 0;
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const methods = Object.keys(item).filter((key) => HTTP_METHODS.includes(key));
    for (const method of methods) {
      const operation = OperationSchema.safeParse(item[method]);
      if (!operation.success) throw new Error(`${method} ${path}: ${z.prettifyError(operation.error)}`);
      const { operationId, parameters = [], requestBody, security } = operation.data;
      const json = requestBody?.content['application/json'];
      operations.push({
        id: operationId,
        method: method.toUpperCase(),
        path,
        pathMethods: methods.map((m) => m.toUpperCase()),
        params: parameters.map((p) => ({ ...p, schema: resolve(p.schema) })),
        ...(json && { body: { required: requestBody?.required ?? false, schema: resolve(json.schema) } }),
        anonymous: security === undefined ? defaultAnonymous : security.length === 0,
      });
    }
  }
  const errorBody = components.schemas.ErrorBody;
  if (!errorBody) throw new Error('the document has no ErrorBody schema');
  return { operations, errorBody: resolve(errorBody) };
}

function resolveRefs(schema: JsonSchema, all: Record<string, JsonSchema>, depth: number): JsonSchema {
  if (depth > 20) throw new Error('schema references nest too deep');
  if (schema.$ref) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : all[name];
    if (!target) throw new Error(`unresolvable $ref ${schema.$ref}`);
    return resolveRefs(target, all, depth + 1);
  }
  const out: JsonSchema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, resolveRefs(v, all, depth + 1)]),
    );
  }
  if (schema.items) out.items = resolveRefs(schema.items, all, depth + 1);
  return out;
}

const typeOf = (schema: JsonSchema): string | undefined =>
  Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;

const patternArbitraries = new Map<string, fc.Arbitrary<string>>();

/** A string matching `pattern`, drawn by fast-check from a seed of ours so the run stays replayable. */
function stringMatching(pattern: string, random: Random): string {
  let arbitrary = patternArbitraries.get(pattern);
  if (!arbitrary) {
    arbitrary = fc.stringMatching(new RegExp(pattern));
    patternArbitraries.set(pattern, arbitrary);
  }
  const [value] = fc.sample(arbitrary, { seed: random.nextSeed(), numRuns: 1 });
  return value ?? '';
}

const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';

/** Free text the schema allows: mostly printable ASCII, sometimes the characters that break naive code. */
function freeText(random: Random, min: number, max: number): string {
  // Sometimes exactly as long as allowed: the boundary is where storage limits and off-by-ones show.
  const length = random.chance(0.1) && max <= 4096 ? max : random.int(min, Math.max(min, Math.min(max, 40)));
  if (random.chance(0.15)) {
    const exotic = [
      'ключ',
      'Ω≈ç√',
      '日本語',
      '😀👍🏽',
      '\u202eRTL',
      'a\u0301',
      '\\',
      '"quoted"',
      '<script>',
      "O'Brien",
      'lone \ud800 surrogate',
      'zero\u200bwidth\u00a0space',
      '\ufeffbom',
    ];
    const text = random.pick(exotic);
    if (text.length >= min && text.length <= max) return text;
  }
  let text = '';
  for (let i = 0; i < length; i++) text += PRINTABLE[random.int(0, PRINTABLE.length - 1)];
  return text;
}

/** A value valid for `schema` (as far as the schema says; the app may be stricter). */
export function validValue(schema: JsonSchema, random: Random): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return random.pick(schema.enum);
  switch (typeOf(schema)) {
    case 'boolean':
      return random.chance(0.5);
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? 0;
      return random.int(min, schema.maximum ?? min + 1000);
    }
    case 'array':
      return schema.items ? Array.from({ length: random.int(0, 3) }, () => validValue(schema.items ?? {}, random)) : [];
    case 'object':
      return validObject(schema, random);
    default:
      return validString(schema, random);
  }
}

function validString(schema: JsonSchema, random: Random): string {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 64;
  if (schema.pattern) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const value = stringMatching(schema.pattern, random);
      if (value.length >= min && value.length <= max) return value;
    }
    const example = schema.examples?.find((e): e is string => typeof e === 'string');
    if (example !== undefined) return example;
  }
  return freeText(random, min, max);
}

function validObject(schema: JsonSchema, random: Random): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (required.has(name) || random.chance(0.5)) out[name] = validValue(property, random);
  }
  return out;
}

/** A value the schema forbids, with what makes it wrong. */
export interface WrongValue {
  what: string;
  value: unknown;
}

/** Values that violate `schema`: wrong types, out-of-range numbers, strings too long or off-pattern, unknown enums. */
export function wrongValues(schema: JsonSchema): WrongValue[] {
  const type = schema.enum ? 'enum' : typeOf(schema);
  const notOfType = (t: string): WrongValue[] =>
    (
      [
        ['string', 'x'],
        ['number', 42],
        ['fraction', 4.5],
        ['boolean', true],
        ['null', null],
        ['array', []],
        ['object', {}],
      ] as const
    )
      .filter(([kind]) => kind !== t && !(t === 'number' && kind === 'fraction'))
      .map(([kind, value]) => ({ what: `a ${kind} where ${t} is expected`, value }));
  switch (type) {
    case 'enum':
      return [
        { what: 'a value outside the enum', value: 'Symbian' },
        { what: 'an enum value in another case', value: swapCase(String(schema.enum?.[0])) },
        { what: 'a number where an enum is expected', value: 1 },
        { what: 'null where an enum is expected', value: null },
      ];
    case 'boolean':
      return [...notOfType('boolean'), { what: 'the string "true"', value: 'true' }];
    case 'integer':
    case 'number':
      return [
        ...notOfType(type),
        { what: 'a numeric string', value: String(schema.minimum ?? 6) },
        ...(schema.minimum === undefined ? [] : [{ what: 'below the minimum', value: schema.minimum - 1 }]),
        ...(schema.maximum === undefined ? [] : [{ what: 'above the maximum', value: schema.maximum + 1 }]),
        { what: 'a huge number', value: 1e300 },
      ];
    case 'object':
      return [
        ...notOfType('object'),
        ...(schema.additionalProperties === false ? [{ what: 'an unknown property', value: { zzUnknown: 1 } }] : []),
      ];
    case 'array':
      return notOfType('array');
    default:
      return [
        ...notOfType('string'),
        ...(schema.maxLength === undefined
          ? []
          : [{ what: `longer than ${schema.maxLength}`, value: 'x'.repeat(schema.maxLength + 1) }]),
        ...((schema.minLength ?? 0) > 0 ? [{ what: 'an empty string', value: '' }] : []),
        ...(schema.pattern
          ? [
              { what: 'off-pattern (spaces and @@)', value: ' @@ \u00e9 ' },
              { what: 'off-pattern (control characters)', value: 'a\u0000\u0007\nb' },
            ]
          : []),
      ];
  }
}

const swapCase = (text: string) =>
  [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');

/** A path into a body schema ([] = the body itself) with the schema found there. */
export interface SchemaSite {
  path: string[];
  schema: JsonSchema;
  required: boolean;
}

/** Every property of an object schema, nested ones included, and the body itself. */
export function schemaSites(schema: JsonSchema, path: string[] = [], required = true): SchemaSite[] {
  const sites: SchemaSite[] = [{ path, schema, required }];
  const requiredNames = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    sites.push(...schemaSites(property, [...path, name], requiredNames.has(name)));
  }
  return sites;
}
