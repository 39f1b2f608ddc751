// ajv 8 comes with @apidevtools/swagger-parser (its own schema validation uses ajv/dist/2020); the OpenAPI 3.1
// document's schemas are JSON Schema 2020-12, so they are checked with the same draft.
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

/** One HTTP response to check against the OpenAPI 3.1 document. */
export interface ResponseUnderTest {
  method: string;
  /** A route template ("deviceManagement/managedDevices/{deviceId}"), or a concrete path or URL ("/api/health?x=1"). */
  route: string;
  status: number;
  headers?: Headers | Record<string, string | undefined>;
  /** The parsed JSON body (undefined when there is none). */
  body?: unknown;
}

type Json = Record<string, unknown>;

const DOCUMENT_ID = 'https://openapi.test/document.json';

interface Compiled {
  ajv: Ajv2020;
  validators: Map<string, ValidateFunction>;
}

const compiled = new WeakMap<object, Compiled>();

function compilerFor(document: Json): Compiled {
  let entry = compiled.get(document);
  if (!entry) {
    // The whole document is registered as one schema so that its "#/components/schemas/…" refs resolve; ajv only
    // reads JSON Schema keywords and JSON pointers into it. Formats are not checked (zod's patterns already say what
    // a date-time looks like); `example` and the x- extensions are not JSON Schema keywords, hence strict: false.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...structuredClone(document), $id: DOCUMENT_ID });
    entry = { ajv, validators: new Map() };
    compiled.set(document, entry);
  }
  return entry;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** The document path template ("/deviceManagement/…/{deviceId}") that `route` is, or matches. */
function findPath(document: Json, route: string): string | undefined {
  const paths = Object.keys((document.paths ?? {}) as Json);
  const template = `/${route.replace(/^\/+/, '')}`;
  if (paths.includes(template)) return template;
  const basePath = serverBasePath(document);
  let path = /^https?:\/\//.test(route) ? new URL(route).pathname : (route.split('?')[0] ?? route);
  path = `/${path.replace(/^\/+/, '')}`;
  if (basePath && path.startsWith(`${basePath}/`)) path = path.slice(basePath.length);
  return paths.find((candidate) => {
    const pattern = candidate.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
    return new RegExp(`^${pattern}$`).test(path);
  });
}

function serverBasePath(document: Json): string {
  const servers = (document.servers ?? []) as { url?: string }[];
  const url = servers[0]?.url ?? '';
  const path = /^https?:\/\//.test(url) ? new URL(url).pathname : url;
  return path.replace(/\/+$/, '');
}

function headerValue(headers: ResponseUnderTest['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase());
  return entry?.[1] ?? undefined;
}

/**
 * Checks one response against an OpenAPI 3.1 document: the operation and the status are documented, every header
 * the document marks required is present, the Content-Type is a documented one, and the body validates against the
 * documented JSON schema (ajv, draft 2020-12). Returns the problems found; an empty list means it conforms.
 */
export function validateResponse(document: object, response: ResponseUnderTest): string[] {
  const doc = document as Json;
  const what = `${response.method.toUpperCase()} ${response.route} → ${response.status}`;
  const path = findPath(doc, response.route);
  if (!path) return [`${what}: no path in the document matches ${response.route}`];
  const method = response.method.toLowerCase();
  const operation = ((doc.paths as Json)[path] as Json | undefined)?.[method] as Json | undefined;
  if (!operation) return [`${what}: ${method.toUpperCase()} ${path} is not documented`];

  const responses = (operation.responses ?? {}) as Json;
  const statusKey = [String(response.status), `${String(response.status)[0]}XX`, 'default'].find(
    (key) => key in responses,
  );
  if (!statusKey) return [`${what}: status ${response.status} is not documented for ${operation.operationId}`];
  const documented = responses[statusKey] as Json;
  const problems: string[] = [];

  for (const [name, header] of Object.entries((documented.headers ?? {}) as Record<string, Json>)) {
    if (header.required === true && headerValue(response.headers, name) === undefined) {
      problems.push(`${what}: required header ${name} is missing`);
    }
  }

  const content = documented.content as Record<string, Json> | undefined;
  if (!content) {
    if (response.body !== undefined && response.body !== '') problems.push(`${what}: a body was not documented`);
    return problems;
  }
  const contentType = headerValue(response.headers, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (response.headers && mediaType && !(mediaType in content)) {
    problems.push(`${what}: Content-Type ${contentType} is not one of ${Object.keys(content).join(', ')}`);
  }
  const documentedType = mediaType && mediaType in content ? mediaType : Object.keys(content)[0];
  if (!documentedType || !(content[documentedType] as Json).schema) return problems;

  const ref = `${DOCUMENT_ID}#/${pointer('paths', path, method, 'responses', statusKey, 'content', documentedType, 'schema')}`;
  const { ajv, validators } = compilerFor(doc);
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  if (!validate(response.body)) {
    for (const error of validate.errors ?? []) {
      const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : '';
      problems.push(`${what}: body${error.instancePath || ''} ${error.message ?? 'is invalid'}${extra}`);
    }
  }
  return problems;
}
