import { readFileSync } from 'node:fs';

/** One schema node of the discovery document (a named schema, a property, an array item or a map value). */
export interface DiscoverySchema {
  id?: string;
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'any';
  $ref?: string;
  format?: string;
  enum?: string[];
  items?: DiscoverySchema;
  additionalProperties?: DiscoverySchema;
  readOnly?: boolean;
  properties?: Record<string, DiscoverySchema>;
}

/** A parameter of a method, or one of Google's system parameters. */
export interface DiscoveryParameter {
  location: 'path' | 'query';
  type: 'string' | 'integer' | 'boolean';
  format?: string;
  pattern?: string;
  required?: boolean;
  enum?: string[];
  default?: string;
  repeated?: boolean;
}

/** One method of the discovery document. */
export interface DiscoveryMethod {
  id: string;
  httpMethod: 'GET' | 'POST';
  path: string;
  flatPath: string;
  parameterOrder: string[];
  parameters: Record<string, DiscoveryParameter>;
  request?: { $ref: string };
  response?: { $ref: string };
  scopes: string[];
}

interface DiscoveryResource {
  methods?: Record<string, DiscoveryMethod>;
  resources?: Record<string, DiscoveryResource>;
}

/** The derived discovery document (test/support/androidManagement/discovery.json). */
export interface DiscoveryDocument {
  derivedFrom: string;
  version: string;
  revision: string;
  rootUrl: string;
  servicePath: string;
  auth: { oauth2: { scopes: Record<string, object> } };
  parameters: Record<string, DiscoveryParameter>;
  resources: Record<string, DiscoveryResource>;
  schemas: Record<string, DiscoverySchema>;
}

/** The discovery document subset this directory validates against. */
export const discovery = JSON.parse(
  readFileSync(new URL('./discovery.json', import.meta.url), 'utf8'),
) as DiscoveryDocument;

/** The only OAuth scope the Android Management API declares. */
export const ANDROID_MANAGEMENT_SCOPE = Object.keys(discovery.auth.oauth2.scopes)[0]!;

/** The methods the stand-in serves, by short name ("devices.get", "operations.cancel", …). */
export const methods: Record<string, DiscoveryMethod> = (() => {
  const devices = discovery.resources.enterprises?.resources?.devices;
  const operations = devices?.resources?.operations;
  const found: Record<string, DiscoveryMethod> = {};
  for (const [name, method] of Object.entries(devices?.methods ?? {})) found[`devices.${name}`] = method;
  for (const [name, method] of Object.entries(operations?.methods ?? {})) found[`operations.${name}`] = method;
  return found;
})();

/** The google.protobuf.Any type URL of a message of this API. */
export const typeUrl = (message: string) => `type.googleapis.com/google.android.devicemanagement.v1.${message}`;

// Requests are read the way Google's proto3 JSON parser reads them (integers may come as strings, null means unset,
// output-only fields parse like the others); responses are held to what Google emits (int64 as strings, int32 as
// numbers, no nulls), because a stand-in laxer than Google would let the app's parsing bugs through.
/** Whether a value is a request (read leniently, as Google's parser does) or a response (held to Google's output). */
type Direction = 'request' | 'response';

/** How `validate` reads the value and words its problems. */
export interface ValidateOptions {
  direction?: Direction;
  /** The proto field the value sits in, for messages ("command" gives "Unknown name \"x\" at 'command'"). */
  root?: string;
  /** Properties whose values never appear in a problem (a passcode must not be echoed by an error message). */
  redact?: readonly string[];
}

const DURATION = /^\d+(\.\d{1,9})?s$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

function isDatetime(value: string): boolean {
  const match = DATETIME.exec(value);
  if (!match) return false;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const date = new Date(Date.UTC(year!, month! - 1, day!));
  // Date.UTC rolls 02-30 over into March: a calendar-valid date survives the round trip.
  return date.getUTCMonth() === month! - 1 && date.getUTCDate() === day! && hour! < 24 && minute! < 60 && second! < 60;
}

// Proto field paths in Google's messages are snake_case ("command.new_password"), JSON names camelCase.
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

class Validator {
  readonly problems: string[] = [];
  constructor(private readonly options: Required<Omit<ValidateOptions, 'root'>>) {}

  private at(path: string) {
    return path ? ` at '${path}'` : '';
  }

  private shown(value: unknown, secret: boolean) {
    return secret ? '<redacted>' : JSON.stringify(value);
  }

  private invalid(path: string, kind: string, value: unknown, secret: boolean) {
    this.problems.push(`Invalid value${this.at(path)} (${kind}), ${this.shown(value, secret)}`);
  }

  check(schema: DiscoverySchema, value: unknown, path: string, secret: boolean): void {
    if (schema.$ref) {
      const target = discovery.schemas[schema.$ref];
      if (!target) throw new Error(`the discovery subset has no schema ${schema.$ref}`);
      this.check(target, value, path, secret);
    } else if (value === null) {
      if (this.options.direction === 'response') {
        this.problems.push(`Null value${this.at(path)}: Google omits unset fields`);
      }
    } else if (schema.type === 'boolean') {
      if (typeof value !== 'boolean') this.invalid(path, 'TYPE_BOOL', value, secret);
    } else if (schema.type === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value)) this.invalid(path, 'TYPE_FLOAT', value, secret);
    } else if (schema.type === 'integer') {
      if (schema.format === 'int64') this.int64(value, path, secret);
      else this.int32(value, path, secret);
    } else if (schema.type === 'string') {
      this.string(schema, value, path, secret);
    } else if (schema.type === 'array') {
      if (!Array.isArray(value)) this.invalid(path, 'TYPE_LIST', value, secret);
      else
        for (const [index, item] of value.entries())
          this.check(schema.items ?? { type: 'any' }, item, `${path}[${index}]`, secret);
    } else if (schema.type === 'object') {
      this.object(schema, value, path);
    } else if (schema.type !== 'any') {
      throw new Error(`the validator does not know schema type ${String(schema.type)}${this.at(path)}`);
    }
  }

  private int32(value: unknown, path: string, secret: boolean) {
    // proto3 JSON parsers take integers as numbers or as decimal strings; Google emits int32 as numbers.
    const number =
      typeof value === 'string' && this.options.direction === 'request' && /^-?\d+$/.test(value)
        ? Number(value)
        : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < INT32.min || number > INT32.max) {
      this.invalid(path, 'TYPE_INT32', value, secret);
    }
  }

  private int64(value: unknown, path: string, secret: boolean) {
    // int64 does not fit a JavaScript number: Google emits it as a decimal string and accepts either on input.
    const text =
      typeof value === 'number' && this.options.direction === 'request' && Number.isSafeInteger(value)
        ? String(value)
        : value;
    if (typeof text !== 'string' || !/^-?\d+$/.test(text) || BigInt(text) < INT64.min || BigInt(text) > INT64.max) {
      this.invalid(path, 'TYPE_INT64', value, secret);
    }
  }

  private string(schema: DiscoverySchema, value: unknown, path: string, secret: boolean) {
    if (schema.format === 'int64') return this.int64(value, path, secret);
    if (typeof value !== 'string') return this.invalid(path, schema.enum ? 'TYPE_ENUM' : 'TYPE_STRING', value, secret);
    if (schema.enum && !schema.enum.includes(value)) return this.invalid(path, 'TYPE_ENUM', value, secret);
    if (schema.format === 'google-duration' && !DURATION.test(value)) {
      return this.invalid(path, 'type.googleapis.com/google.protobuf.Duration', value, secret);
    }
    if (schema.format === 'google-datetime' && !isDatetime(value)) {
      return this.invalid(path, 'type.googleapis.com/google.protobuf.Timestamp', value, secret);
    }
  }

  private object(schema: DiscoverySchema, value: unknown, path: string) {
    if (typeof value !== 'object' || Array.isArray(value)) return this.invalid(path, 'TYPE_MESSAGE', value, false);
    const record = value as Record<string, unknown>;
    const map = schema.additionalProperties;
    if (map?.type === 'any') return this.any(record, path);
    for (const [key, item] of Object.entries(record)) {
      const property = schema.properties?.[key];
      const secret = this.options.redact.includes(key);
      if (property) {
        // Output-only fields (readOnly) are parsed like any other in a request; the server then ignores them.
        this.check(property, item, path ? `${path}.${snake(key)}` : snake(key), secret);
      } else if (map) {
        this.check(map, item, `${path}[${JSON.stringify(key)}]`, secret);
      } else {
        this.problems.push(`Unknown name ${JSON.stringify(key)}${this.at(path)}: Cannot find field.`);
      }
    }
  }

  /**
   * In this API's subset, a map of `any` is always a google.protobuf.Any (Operation.metadata, Operation.response,
   * Status.details): it must say its type, and when the type is one of this API's messages the rest must be one.
   */
  private any(record: Record<string, unknown>, path: string) {
    const type = record['@type'];
    if (typeof type !== 'string') {
      this.problems.push(`Invalid value${this.at(path)} (type.googleapis.com/google.protobuf.Any): no "@type"`);
      return;
    }
    const { '@type': _, ...rest } = record;
    const prefix = typeUrl('');
    if (type === 'type.googleapis.com/google.protobuf.Empty') {
      this.object({ properties: {} }, rest, path);
    } else if (type.startsWith(prefix) && discovery.schemas[type.slice(prefix.length)]) {
      this.check({ $ref: type.slice(prefix.length) }, rest, path, false);
    }
  }
}

/** The problems of a JSON value against a schema of the discovery subset, worded like Google's; [] when valid. */
export function validate(schemaName: string, value: unknown, options: ValidateOptions = {}): string[] {
  if (!discovery.schemas[schemaName]) throw new Error(`the discovery subset has no schema ${schemaName}`);
  const validator = new Validator({
    direction: options.direction ?? 'response',
    redact: options.redact ?? [],
  });
  validator.check({ $ref: schemaName }, value, options.root ?? '', false);
  return validator.problems;
}
