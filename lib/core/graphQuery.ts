import { invalidFields } from './errors';

/**
 * Microsoft Graph's query options as far as this API supports them (docs/API.md "Query options"): `$filter` with `eq`
 * and `startswith(property,'prefix')` joined by `and`, and `$select`. Anything else is refused with a 400 that names
 * it, never ignored: a Graph client that sends an option it relies on must not get an unfiltered answer.
 */

/** One comparison of a `$filter`: `property eq 'value'` or `startswith(property,'value')`. */
export interface FilterTerm {
  operator: 'eq' | 'startswith';
  property: string;
  value: string;
}

/** What a list lets callers filter on: the properties each operator takes. */
export interface FilterSpec {
  eq: readonly string[];
  startswith: readonly string[];
}

const MAX_FILTER_LENGTH = 1024;

type QueryOption = '$filter' | '$select' | '$count';
const refuse = (target: QueryOption, message: string) => invalidFields([{ code: 'notSupported', message, target }]);

/** 400 invalidRequest: a `$filter` this API cannot answer, and why. */
export const notSupported = (message: string) => refuse('$filter', message);

type Token = { kind: 'word' | 'string' | '(' | ')' | ','; text: string };

/** Splits a `$filter` into words, quoted strings ('' is a quote inside one) and punctuation. */
function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c });
      i++;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= filter.length) throw refuse('$filter', 'a quoted value is not closed');
        if (filter.charAt(i) === "'") {
          if (filter.charAt(i + 1) !== "'") break;
          i++;
        }
        text += filter.charAt(i);
        i++;
      }
      i++;
      tokens.push({ kind: 'string', text });
    } else {
      const word = /^[A-Za-z0-9_./$-]+/.exec(filter.slice(i))?.[0];
      if (!word) throw refuse('$filter', `unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: 'word', text: word });
      i += word.length;
    }
  }
  return tokens;
}

/**
 * Parses a `$filter` into its terms (all joined by `and`), checking each against `spec`. Parentheses around terms are
 * allowed; `or`, `not`, other operators and functions, and properties the list cannot filter on are a 400 naming them.
 */
export function parseFilter(filter: string, spec: FilterSpec): FilterTerm[] {
  if (filter.length > MAX_FILTER_LENGTH) throw refuse('$filter', `at most ${MAX_FILTER_LENGTH} characters`);
  const tokens = tokenize(filter);
  let at = 0;
  const peek = () => tokens[at];
  const take = (kind: Token['kind'], what: string): Token => {
    const token = tokens[at];
    if (token?.kind !== kind)
      throw refuse('$filter', `expected ${what}${token ? ` before "${token.text}"` : ' at the end'}`);
    at++;
    return token;
  };
  const terms: FilterTerm[] = [];
  const property = (operator: FilterTerm['operator']) => {
    const name = take('word', 'a property name').text;
    if (!spec[operator].includes(name)) {
      const allowed = spec[operator].length ? `; it takes ${spec[operator].join(', ')}` : '';
      throw refuse('$filter', `${operator} on "${name}" is not supported${allowed}`);
    }
    return name;
  };
  const clause = () => {
    const token = peek();
    if (token?.kind === '(') {
      at++;
      expression();
      take(')', '")"');
      return;
    }
    if (token?.kind === 'word' && token.text === 'startswith') {
      at++;
      take('(', '"(" after startswith');
      const name = property('startswith');
      take(',', '","');
      const value = take('string', 'a quoted value').text;
      take(')', '")"');
      terms.push({ operator: 'startswith', property: name, value });
      return;
    }
    if (token?.kind === 'word' && peek() && tokens[at + 1]?.kind === '(') {
      throw refuse('$filter', `the function "${token.text}" is not supported; use startswith`);
    }
    const name = take('word', 'a property name or startswith(…)').text;
    const operator = take('word', 'an operator').text;
    if (operator !== 'eq') throw refuse('$filter', `the operator "${operator}" is not supported; use eq`);
    if (!spec.eq.includes(name)) {
      throw refuse('$filter', `eq on "${name}" is not supported; it takes ${spec.eq.join(', ')}`);
    }
    terms.push({ operator: 'eq', property: name, value: take('string', 'a quoted value').text });
  };
  const expression = () => {
    clause();
    while (peek()?.kind === 'word' && peek()?.text === 'and') {
      at++;
      clause();
    }
    const next = peek();
    if (next?.kind === 'word' && (next.text === 'or' || next.text === 'not')) {
      throw refuse('$filter', `"${next.text}" is not supported; terms combine with and`);
    }
  };
  expression();
  if (at < tokens.length) throw refuse('$filter', `unexpected "${tokens[at]?.text}"`);
  return terms;
}

/** The one term on `property`, or undefined; the same property twice is refused (it could only narrow to nothing). */
export function termOn(terms: FilterTerm[], property: string): FilterTerm | undefined {
  const found = terms.filter((t) => t.property === property);
  if (found.length > 1) throw refuse('$filter', `"${property}" appears more than once`);
  return found[0];
}

/** The properties of a `$select` (comma-separated), each one the list has; `id` is always returned, as in Graph. */
export function parseSelect(select: string, properties: readonly string[]): string[] {
  const names = select.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !properties.includes(name));
  if (unknown.length > 0) {
    throw refuse(
      '$select',
      `cannot select ${unknown.map((n) => `"${n}"`).join(', ')}; it takes ${properties.join(', ')}`,
    );
  }
  return [...new Set(['id', ...names])];
}

/** An item with only the selected properties (all of them without `$select`). */
export function selectProperties<T extends object>(item: T, selected: string[] | undefined): Partial<T> {
  if (!selected) return item;
  return Object.fromEntries(Object.entries(item).filter(([key]) => selected.includes(key))) as Partial<T>;
}

/** `$count=true` is answered only where counting costs nothing (see docs/API.md); `false` is the default. */
export function parseCount(count: string | undefined): boolean {
  if (count === undefined || count === 'false') return false;
  if (count === 'true') return true;
  throw refuse('$count', '$count takes true or false');
}
