import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';
import { ApiError, type ErrorDetail, invalidRequest } from '../core/errors';
import { readAtMost } from '../streams';

/** Request bodies of this API are small; anything bigger is refused before it is parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

const toDetails = (issues: z.core.$ZodIssue[], prefix?: string): ErrorDetail[] =>
  issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown properties: ${issue.keys.join(', ')}` : issue.message;
    return {
      code: issue.code === 'unrecognized_keys' ? 'unknownProperty' : 'invalidValue',
      message,
      target: path || prefix || 'body',
    };
  });

/** Parses `value` or throws a 400 listing every problem (API.md: validation failures list every bad field). */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix?: string,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidRequest(`The ${what} is not valid.`, toDetails(result.error.issues, prefix), prefix);
}

/**
 * Reads a JSON body: it must be declared application/json, fit the size limit and parse.
 * An empty body counts as `emptyValue` (for endpoints whose body is optional).
 */
export async function readJsonBody(request: HttpRequest, emptyValue?: unknown): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const bytes = await readAtMost(request.body, MAX_BODY_BYTES);
  if (bytes === undefined) throw tooLarge();
  const text = bytes.toString('utf8');
  if (text.trim() === '' && emptyValue !== undefined) return emptyValue;
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw invalidRequest('The request body must be JSON (Content-Type: application/json).', [], 'Content-Type');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest('The request body is not valid JSON.', [], 'body');
  }
}

const tooLarge = () =>
  new ApiError(413, 'payloadTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, { target: 'body' });
