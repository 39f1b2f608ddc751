// Route templates as the Functions host (ASP.NET Core routing) understands them:
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint
// https://learn.microsoft.com/aspnet/core/fundamentals/routing#route-constraints

export class RouteTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`Invalid route template "${template}": ${reason}`);
    this.name = 'RouteTemplateError';
  }
}

type Constraint = (value: string) => boolean;

interface LiteralPart {
  kind: 'literal';
  text: string;
}

interface ParameterPart {
  kind: 'parameter';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}

type Part = LiteralPart | ParameterPart;

interface Segment {
  parts: Part[];
  pattern: RegExp;
}

export interface RouteTemplate {
  template: string;
  segments: Segment[];
  /** ASP.NET inbound precedence, one digit per segment: lower wins (literal 1 … catch-all 5). */
  precedence: number[];
}

const INT32 = { min: -2147483648n, max: 2147483647n };
const INT64 = { min: -9223372036854775808n, max: 9223372036854775807n };
const INTEGER = /^\s*[+-]?\d+\s*$/;
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;
const FLOAT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const GUID_D = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
// Guid.TryParse accepts the N, D, B and P formats.
const GUID = new RegExp(`^\\s*([0-9a-f]{32}|${GUID_D}|\\{${GUID_D}\\}|\\(${GUID_D}\\))\\s*$`, 'i');

function inRange(value: string, range: { min: bigint; max: bigint }): boolean {
  if (!INTEGER.test(value)) return false;
  const n = BigInt(value.trim());
  return n >= range.min && n <= range.max;
}

function integerArg(template: string, name: string, arg: string | undefined): bigint {
  if (arg === undefined || !INTEGER.test(arg))
    throw new RouteTemplateError(template, `${name} needs an integer argument`);
  return BigInt(arg.trim());
}

function integerArgs(template: string, name: string, arg: string | undefined): [bigint, bigint] {
  const [a, b, ...rest] = (arg ?? '').split(',');
  if (rest.length > 0 || b === undefined) throw new RouteTemplateError(template, `${name} needs two integer arguments`);
  return [integerArg(template, name, a), integerArg(template, name, b)];
}

function createConstraint(template: string, name: string, arg: string | undefined): Constraint {
  switch (name.toLowerCase()) {
    case 'int':
      return (v) => inRange(v, INT32);
    case 'long':
      return (v) => inRange(v, INT64);
    case 'bool':
      return (v) => /^\s*(true|false)\s*$/i.test(v);
    case 'alpha':
      return (v) => /^[a-z]*$/i.test(v);
    case 'guid':
      return (v) => GUID.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'decimal':
      return (v) => DECIMAL.test(v);
    case 'double':
    case 'float':
      return (v) => FLOAT.test(v);
    case 'required':
      return (v) => v.length > 0;
    case 'length': {
      if (arg?.includes(',')) {
        const [min, max] = integerArgs(template, name, arg);
        return (v) => BigInt(v.length) >= min && BigInt(v.length) <= max;
      }
      const exact = integerArg(template, name, arg);
      return (v) => BigInt(v.length) === exact;
    }
    case 'minlength': {
      const min = integerArg(template, name, arg);
      return (v) => BigInt(v.length) >= min;
    }
    case 'maxlength': {
      const max = integerArg(template, name, arg);
      return (v) => BigInt(v.length) <= max;
    }
    case 'min': {
      const min = integerArg(template, name, arg);
      return (v) => inRange(v, INT64) && BigInt(v.trim()) >= min;
    }
    case 'max': {
      const max = integerArg(template, name, arg);
      return (v) => inRange(v, INT64) && BigInt(v.trim()) <= max;
    }
    case 'range': {
      const [min, max] = integerArgs(template, name, arg);
      return (v) => inRange(v, INT64) && BigInt(v.trim()) >= min && BigInt(v.trim()) <= max;
    }
    case 'regex': {
      if (arg === undefined) throw new RouteTemplateError(template, 'regex needs a pattern');
      let pattern: RegExp;
      try {
        // ASP.NET evaluates the pattern with IgnoreCase and does not anchor it.
        pattern = new RegExp(arg, 'i');
      } catch (error) {
        throw new RouteTemplateError(template, `bad regex: ${(error as Error).message}`);
      }
      return (v) => pattern.test(v);
    }
    default:
      throw new RouteTemplateError(template, `unknown constraint "${name}"`);
  }
}

function parseParameter(template: string, inner: string): ParameterPart {
  let rest = inner;
  let catchAll = false;
  if (rest.startsWith('**')) {
    catchAll = true;
    rest = rest.slice(2);
  } else if (rest.startsWith('*')) {
    catchAll = true;
    rest = rest.slice(1);
  }
  const nameMatch = /^[^:=?]+/.exec(rest);
  if (!nameMatch) throw new RouteTemplateError(template, `parameter "{${inner}}" has no name`);
  const name = nameMatch[0].trim();
  rest = rest.slice(nameMatch[0].length);
  const constraints: Constraint[] = [];
  while (rest.startsWith(':')) {
    const constraintName = /^:([a-zA-Z]+)/.exec(rest);
    if (!constraintName?.[1]) throw new RouteTemplateError(template, `bad constraint in "{${inner}}"`);
    rest = rest.slice(constraintName[0].length);
    let arg: string | undefined;
    if (rest.startsWith('(')) {
      let end = -1;
      for (let i = 1; i < rest.length; i++) {
        const next = rest[i + 1];
        if (rest[i] === ')' && (next === undefined || next === ':' || next === '?' || next === '=')) {
          end = i;
          break;
        }
      }
      if (end < 0) throw new RouteTemplateError(template, `unclosed constraint argument in "{${inner}}"`);
      arg = rest.slice(1, end);
      rest = rest.slice(end + 1);
    }
    constraints.push(createConstraint(template, constraintName[1], arg));
  }
  let optional = false;
  let defaultValue: string | undefined;
  if (rest.startsWith('=')) {
    defaultValue = rest.slice(1);
    rest = '';
  } else if (rest === '?') {
    optional = true;
    rest = '';
  }
  if (rest !== '') throw new RouteTemplateError(template, `unexpected "${rest}" in "{${inner}}"`);
  return { kind: 'parameter', name, optional, catchAll, defaultValue, constraints };
}

function parseSegment(template: string, text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if ((c === '{' && next === '{') || (c === '}' && next === '}')) {
      literal += c;
      i += 2;
    } else if (c === '{') {
      let inner = '';
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '}' && text[j + 1] === '}') {
          inner += '}';
          j++;
        } else if (text[j] === '{' && text[j + 1] === '{') {
          inner += '{';
          j++;
        } else if (text[j] === '}') {
          break;
        } else {
          inner += text[j];
        }
      }
      if (j >= text.length) throw new RouteTemplateError(template, 'unclosed "{"');
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      const previous = parts.at(-1);
      if (previous?.kind === 'parameter') {
        throw new RouteTemplateError(template, 'two parameters must be separated by a literal');
      }
      parts.push(parseParameter(template, inner));
      i = j + 1;
    } else if (c === '}') {
      throw new RouteTemplateError(template, 'unmatched "}"');
    } else {
      literal += c;
      i++;
    }
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parses a route template once; throws RouteTemplateError for templates the real host would reject. */
export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^~?\/+/, '').replace(/\/+$/, '');
  const texts = trimmed === '' ? [] : trimmed.split('/');
  const segments: Segment[] = [];
  const precedence: number[] = [];
  const names = new Set<string>();
  texts.forEach((text, index) => {
    if (text === '') throw new RouteTemplateError(template, 'empty segment');
    const parts = parseSegment(template, text);
    for (const part of parts) {
      if (part.kind !== 'parameter') continue;
      const key = part.name.toLowerCase();
      if (names.has(key)) throw new RouteTemplateError(template, `parameter "${part.name}" appears twice`);
      names.add(key);
      if (part.catchAll && (index !== texts.length - 1 || parts.length !== 1)) {
        throw new RouteTemplateError(template, 'a catch-all parameter must be the whole last segment');
      }
      if ((part.optional || part.defaultValue !== undefined) && parts.length !== 1) {
        throw new RouteTemplateError(template, 'an optional parameter must be a whole segment');
      }
    }
    const source = parts
      .map((part) => (part.kind === 'literal' ? escapeRegExp(part.text) : parts.length === 1 ? '(.+)' : '(.+?)'))
      .join('');
    segments.push({ parts, pattern: new RegExp(`^${source}$`, 'i') });
    const only = parts[0];
    if (parts.length > 1) precedence.push(2);
    else if (only?.kind === 'literal') precedence.push(1);
    else if (only?.catchAll) precedence.push(5);
    else if (only && only.constraints.length > 0) precedence.push(3);
    else precedence.push(4);
  });
  return { template, segments, precedence };
}

function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Matches a request path (already stripped of the route prefix) against a template; returns the route values. */
export function matchRoute(route: RouteTemplate, path: string): Record<string, string> | undefined {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  const raw = trimmed === '' ? [] : trimmed.split('/');
  const values: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    const only = segment.parts.length === 1 ? segment.parts[0] : undefined;
    if (only?.kind === 'parameter' && only.catchAll) {
      const rest = raw.slice(i).map(decodeSegment);
      if (rest.some((s) => s === undefined)) return undefined;
      const value = rest.join('/');
      if (value === '') {
        if (only.defaultValue !== undefined) values[only.name] = only.defaultValue;
      } else {
        if (!only.constraints.every((c) => c(value))) return undefined;
        values[only.name] = value;
      }
      return values;
    }
    const rawSegment = raw[i];
    if (rawSegment === undefined) {
      if (only?.kind === 'parameter' && (only.optional || only.defaultValue !== undefined)) {
        if (only.defaultValue !== undefined) values[only.name] = only.defaultValue;
        continue;
      }
      return undefined;
    }
    const decoded = decodeSegment(rawSegment);
    if (decoded === undefined) return undefined;
    const match = segment.pattern.exec(decoded);
    if (!match) return undefined;
    let group = 1;
    for (const part of segment.parts) {
      if (part.kind !== 'parameter') continue;
      const value = match[group++] ?? '';
      if (!part.constraints.every((c) => c(value))) return undefined;
      values[part.name] = value;
    }
  }
  return raw.length > route.segments.length ? undefined : values;
}

function comparePrecedence(a: RouteTemplate, b: RouteTemplate): number {
  const length = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < length; i++) {
    // A template that ends earlier loses to one that still has segments to match.
    const x = a.precedence[i] ?? 6;
    const y = b.precedence[i] ?? 6;
    if (x !== y) return x - y;
  }
  return a.template.localeCompare(b.template);
}

export interface RouteEntry<T> {
  route: RouteTemplate;
  /** Upper-case methods; empty means every method. */
  methods: string[];
  value: T;
}

export type RouteSelection<T> =
  | { kind: 'match'; value: T; params: Record<string, string> }
  | { kind: 'methodNotAllowed'; allowed: string[] }
  | { kind: 'notFound' };

/** Picks the most specific route for a path, then applies the method; literal segments beat parameters. */
export function selectRoute<T>(entries: RouteEntry<T>[], method: string, path: string): RouteSelection<T> {
  const candidates = entries
    .map((entry) => ({ entry, params: matchRoute(entry.route, path) }))
    .filter((c): c is { entry: RouteEntry<T>; params: Record<string, string> } => c.params !== undefined)
    .sort((a, b) => comparePrecedence(a.entry.route, b.entry.route));
  if (candidates.length === 0) return { kind: 'notFound' };
  const upper = method.toUpperCase();
  const hit = candidates.find((c) => c.entry.methods.length === 0 || c.entry.methods.includes(upper));
  if (hit) return { kind: 'match', value: hit.entry.value, params: hit.params };
  const allowed = [...new Set(candidates.flatMap((c) => c.entry.methods))].sort();
  return { kind: 'methodNotAllowed', allowed };
}
