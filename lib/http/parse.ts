import type { HttpRequest } from '@azure/functions';
import { apiError, type ErrorDetail, invalidFields } from '../core/errors';
import { readAtMost } from '../streams';
import type * as z from '../zod';
import { queryObject } from './schemas';

/** Request bodies of this API are small; anything bigger is refused before it is parsed. */
const MAX_BODY_BYTES = 64 * 1024;

/** "idempotency-key" → "Idempotency-Key": header names as people write them. */
const headerName = (name: string) =>
  name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());

const PARTS = new Set(['params', 'query', 'headers', 'body']);

/**
 * The field an issue is about: the path inside its part of the request (`deviceId`, `$top`, `Idempotency-Key`,
 * `passcodePolicy.minLength`), or the part itself (`body`) when the whole of it is wrong.
 */
function targetOf(path: readonly PropertyKey[]): string {
  const [part, ...rest] = path.map(String);
  if (part === undefined || !PARTS.has(part)) return path.map(String).join('.') || 'body';
  if (rest.length === 0) return part === 'params' ? 'path' : part;
  return part === 'headers' ? headerName(rest.join('.')) : rest.join('.');
}

/** One detail per problem; an unknown property is named as the target itself, one detail each. */
const toDetails = (issues: readonly z.core.$ZodIssue[]): ErrorDetail[] =>
  issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          code: 'unknownProperty',
          message: `unknown property: ${key}`,
          target: targetOf([...issue.path, key]),
        }))
      : [{ code: 'invalidValue', message: issue.message, target: targetOf(issue.path) }],
  );

/** Parses `value` or throws one 400 listing every problem (docs/API.md "Errors": validation). */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidFields(toDetails(result.error.issues));
}

const UNSUPPORTED_CONTENT_TYPE: ErrorDetail = {
  code: 'unsupportedContentType',
  message: 'the request body must be JSON (Content-Type: application/json)',
  target: 'Content-Type',
};

/** `application/json`, or a `+json` type such as `application/merge-patch+json`, with or without parameters. */
const isJsonContentType = (type: string | null) => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type ?? '');

const CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Every POST, PUT and PATCH must say it is JSON, with a body or without one. An HTML form cannot send that type
 * without a CORS preflight, so a cross-site form cannot start a reset on the strength of a session cookie (App
 * Service Authentication's); a plain form post would otherwise pass as an empty body.
 */
export function requireJsonContentType(request: Pick<HttpRequest, 'method' | 'headers'>): void {
  if (CHANGING_METHODS.has(request.method.toUpperCase()) && !isJsonContentType(request.headers.get('content-type'))) {
    throw invalidFields([UNSUPPORTED_CONTENT_TYPE]);
  }
}

type BodyRead = { ok: true; value: unknown } | { ok: false; detail: ErrorDetail };

/**
 * Validates a whole request against `schema`, an object of the parts it checks (`params`, `query`, `headers` by
 * lower-case name, `body`), and throws one 400 `invalidRequest` whose details name every bad field of every part
 * (docs/API.md "Errors"). A body over the size limit is a 413 before anything else.
 */
export async function parseRequest<S extends z.ZodMiniObject>(
  request: HttpRequest,
  schema: S,
  options: { bodyOptional?: boolean } = {},
): Promise<z.infer<S>> {
  const body: BodyRead =
    'body' in schema.shape ? await readBody(request, options.bodyOptional ?? false) : { ok: true, value: undefined };
  const result = schema.safeParse({
    params: request.params,
    query: queryObject(request.query),
    headers: Object.fromEntries(request.headers.entries()),
    body: body.ok ? body.value : undefined,
  });
  if (result.success && body.ok) return result.data;
  // A body that is not JSON has one problem, said once: its schema's complaints about `undefined` are noise.
  const issues = result.success ? [] : result.error.issues.filter((issue) => body.ok || issue.path[0] !== 'body');
  throw invalidFields([...toDetails(issues), ...(body.ok ? [] : [body.detail])]);
}

/** Reads a JSON body: declared JSON, within the size limit (else a 413, thrown), parsable. */
async function readBody(request: HttpRequest, optional: boolean): Promise<BodyRead> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const bytes = await readAtMost(request.body, MAX_BODY_BYTES);
  if (bytes === undefined) throw tooLarge();
  const text = bytes.toString('utf8');
  if (text.trim() === '' && optional) return { ok: true, value: {} };
  if (!isJsonContentType(request.headers.get('content-type'))) return { ok: false, detail: UNSUPPORTED_CONTENT_TYPE };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return {
      ok: false,
      detail: { code: 'invalidJson', message: 'the request body is not valid JSON', target: 'body' },
    };
  }
}

const tooLarge = () => apiError('payloadTooLarge', { maxBytes: MAX_BODY_BYTES });
