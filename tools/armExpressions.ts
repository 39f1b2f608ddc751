// A small evaluator of ARM template expressions ("[format('{0}', parameters('x'))]"), enough for the checks in
// tools/armChecks.ts to see the app settings a deployment would get. It knows the functions this project's template
// uses and a few more; an unknown one throws, naming it. Values that only exist in Azure (reference(), resource
// group, tenant) are stand-ins. Grammar: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions
import { createHash } from 'node:crypto';

export type ArmValue = null | boolean | number | string | ArmValue[] | { [key: string]: ArmValue };

export interface ArmContext {
  parameters: Record<string, ArmValue>;
  variables: Record<string, ArmValue>;
  /** Current copy loop index, for copyIndex(). */
  copyIndex?: number;
  /** Stand-in for reference(resourceId).property; default `stub-<property>` (lower case). */
  reference?: (resourceId: string, property: string) => ArmValue;
}

export class ArmExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArmExpressionError';
  }
}

type Token = { kind: 'name' | 'string' | 'number' | 'punct'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new ArmExpressionError(`unterminated string in ${source}`);
        if (source[i] === "'" && source[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (source[i] === "'") {
          i++;
          break;
        } else {
          text += source.charAt(i++);
        }
      }
      tokens.push({ kind: 'string', text });
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?\d+/.exec(source.slice(i));
      if (!match) throw new ArmExpressionError(`unexpected "${c}" in ${source}`);
      tokens.push({ kind: 'number', text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
      tokens.push({ kind: 'name', text: match?.[0] ?? c });
      i += match?.[0].length ?? 1;
    } else if ('(),.[]'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else {
      throw new ArmExpressionError(`unexpected "${c}" in ${source}`);
    }
  }
  return tokens;
}

type Node =
  | { type: 'literal'; value: ArmValue }
  | { type: 'call'; name: string; args: Node[] }
  | { type: 'property'; target: Node; name: string }
  | { type: 'index'; target: Node; index: Node };

function parse(source: string): Node {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const expect = (text: string) => {
    const token = tokens[at++];
    if (token?.text !== text) throw new ArmExpressionError(`expected "${text}" in ${source}`);
  };
  const primary = (): Node => {
    const token = tokens[at++];
    if (!token) throw new ArmExpressionError(`unexpected end of ${source}`);
    if (token.kind === 'string') return { type: 'literal', value: token.text };
    if (token.kind === 'number') return { type: 'literal', value: Number(token.text) };
    if (token.kind !== 'name') throw new ArmExpressionError(`unexpected "${token.text}" in ${source}`);
    expect('(');
    const args: Node[] = [];
    if (peek()?.text !== ')') {
      args.push(expression());
      while (peek()?.text === ',') {
        at++;
        args.push(expression());
      }
    }
    expect(')');
    return { type: 'call', name: token.text, args };
  };
  const expression = (): Node => {
    let node = primary();
    for (;;) {
      if (peek()?.text === '.') {
        at++;
        const name = tokens[at++];
        if (name?.kind !== 'name') throw new ArmExpressionError(`expected a property name in ${source}`);
        node = { type: 'property', target: node, name: name.text };
      } else if (peek()?.text === '[') {
        at++;
        const index = expression();
        expect(']');
        node = { type: 'index', target: node, index };
      } else {
        return node;
      }
    }
  };
  const node = expression();
  if (at !== tokens.length) throw new ArmExpressionError(`unexpected "${tokens[at]?.text}" in ${source}`);
  return node;
}

const hash = (...parts: ArmValue[]) => createHash('sha256').update(JSON.stringify(parts)).digest();
const isObject = (value: ArmValue | undefined): value is { [key: string]: ArmValue } =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: ArmValue): string => (typeof value === 'string' ? value : JSON.stringify(value));
const truthy = (value: ArmValue): boolean => value === true;

/** The stand-in resource a reference() call returns: any property reads as `stub-<name>` unless the context says. */
function referenceStub(resourceId: string, context: ArmContext): { [key: string]: ArmValue } {
  return new Proxy(
    {},
    {
      get: (_, property) =>
        typeof property === 'string'
          ? (context.reference?.(resourceId, property) ?? `stub-${property.toLowerCase()}`)
          : undefined,
      has: () => true,
    },
  );
}

const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000aa';
const TENANT = '00000000-0000-0000-0000-0000000000bb';
const RESOURCE_GROUP = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-reset-passcode`;

function call(
  name: string,
  args: ArmValue[],
  context: ArmContext,
  evaluateIn: (value: ArmValue) => ArmValue,
): ArmValue {
  const [a, b, c] = args;
  switch (name.toLowerCase()) {
    case 'parameters': {
      const key = text(a ?? '');
      if (!(key in context.parameters)) throw new ArmExpressionError(`parameter ${key} has no value`);
      return context.parameters[key] ?? null;
    }
    case 'variables': {
      const key = text(a ?? '');
      if (!(key in context.variables)) throw new ArmExpressionError(`variable ${key} is not defined`);
      return evaluateIn(context.variables[key] ?? null);
    }
    case 'concat':
      return args.every(Array.isArray) ? args.flat() : args.map(text).join('');
    case 'format':
      return text(a ?? '').replace(/\{(\d+)(:[^}]*)?\}/g, (_, n: string) => text(args[Number(n) + 1] ?? ''));
    case 'if':
      return truthy(a ?? false) ? (b ?? null) : (c ?? null);
    case 'equals':
      return JSON.stringify(a) === JSON.stringify(b);
    case 'not':
      return !truthy(a ?? false);
    case 'and':
      return args.every(truthy);
    case 'or':
      return args.some(truthy);
    case 'true':
      return true;
    case 'false':
      return false;
    case 'empty':
      return (
        a === null || a === '' || (Array.isArray(a) && a.length === 0) || (isObject(a) && Object.keys(a).length === 0)
      );
    case 'length':
      return Array.isArray(a) || typeof a === 'string' ? a.length : isObject(a) ? Object.keys(a).length : 0;
    case 'tolower':
      return text(a ?? '').toLowerCase();
    case 'toupper':
      return text(a ?? '').toUpperCase();
    case 'string':
      return typeof a === 'boolean' ? (a ? 'True' : 'False') : text(a ?? '');
    case 'split':
      return text(a ?? '').split(text(b ?? ''));
    case 'join':
      return (Array.isArray(a) ? a : []).map(text).join(text(b ?? ''));
    case 'replace':
      return text(a ?? '').replaceAll(text(b ?? ''), text(c ?? ''));
    case 'json':
      return JSON.parse(text(a ?? 'null'));
    case 'createarray':
      return args;
    case 'copyindex':
      return (context.copyIndex ?? 0) + (typeof a === 'number' ? a : 0);
    case 'uniquestring':
      return [...hash(...args)]
        .slice(0, 13)
        .map((byte) => 'abcdefghijklmnopqrstuvwxyz234567'.charAt(byte % 32))
        .join('');
    case 'guid': {
      const h = hash(...args).toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    }
    case 'resourcegroup':
      return { id: RESOURCE_GROUP, name: 'rg-reset-passcode', location: 'westeurope' };
    case 'subscription':
      return { id: `/subscriptions/${SUBSCRIPTION}`, subscriptionId: SUBSCRIPTION, tenantId: TENANT };
    case 'environment':
      return {
        name: 'AzureCloud',
        authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
        suffixes: { storage: 'core.windows.net' },
      };
    case 'resourceid':
    case 'subscriptionresourceid': {
      const [type, ...names] = args.map(text);
      const scope = name.toLowerCase() === 'resourceid' ? RESOURCE_GROUP : `/subscriptions/${SUBSCRIPTION}`;
      const types = (type ?? '').split('/');
      const segments = names.map((n, i) => `${i === 0 ? '' : `${types[i + 1] ?? ''}/`}${n}`);
      return `${scope}/providers/${types.slice(0, 2).join('/')}/${segments.join('/')}`;
    }
    case 'extensionresourceid':
      return `${text(a ?? '')}/providers/${text(b ?? '')}/${args.slice(2).map(text).join('/')}`;
    case 'reference':
      return referenceStub(text(a ?? ''), context);
    default:
      throw new ArmExpressionError(`function ${name}() is not known to tools/armExpressions.ts`);
  }
}

function evaluateNode(node: Node, context: ArmContext, evaluateIn: (value: ArmValue) => ArmValue): ArmValue {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'call': {
      const args = node.args.map((arg) => evaluateNode(arg, context, evaluateIn));
      // if() evaluates only the branch it takes, as ARM does (the other may refer to something absent).
      if (node.name.toLowerCase() === 'if') {
        const [condition, whenTrue, whenFalse] = node.args;
        const taken = truthy(condition ? evaluateNode(condition, context, evaluateIn) : false) ? whenTrue : whenFalse;
        return taken ? evaluateNode(taken, context, evaluateIn) : null;
      }
      return call(node.name, args, context, evaluateIn);
    }
    case 'property': {
      const target = evaluateNode(node.target, context, evaluateIn);
      // A stand-in's property has a stand-in value too (reference(x).primaryEndpoints.blob).
      if (typeof target === 'string' && target.startsWith('stub-')) return `${target}.${node.name.toLowerCase()}`;
      if (!isObject(target) || !(node.name in target)) {
        throw new ArmExpressionError(`no property ${node.name} on ${JSON.stringify(target)}`);
      }
      return target[node.name] ?? null;
    }
    case 'index': {
      const target = evaluateNode(node.target, context, evaluateIn);
      const index = evaluateNode(node.index, context, evaluateIn);
      if (Array.isArray(target) && typeof index === 'number') return target[index] ?? null;
      if (isObject(target) && typeof index === 'string') return target[index] ?? null;
      throw new ArmExpressionError(`cannot index ${JSON.stringify(target)} by ${JSON.stringify(index)}`);
    }
  }
}

/** True for a string ARM reads as an expression. "[[" escapes a literal "[". */
export const isExpression = (value: string): boolean =>
  value.startsWith('[') && value.endsWith(']') && !value.startsWith('[[');

/** Evaluates a template value: expressions in strings (keys included), recursively through arrays and objects. */
export function evaluate(value: ArmValue, context: ArmContext): ArmValue {
  const self = (inner: ArmValue) => evaluate(inner, context);
  if (typeof value === 'string') {
    if (isExpression(value)) return evaluateNode(parse(value.slice(1, -1)), context, self);
    return value.startsWith('[[') ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map(self);
  if (isObject(value)) {
    const result: { [key: string]: ArmValue } = {};
    for (const [key, inner] of Object.entries(value)) result[text(self(key))] = self(inner);
    return result;
  }
  return value;
}

/** The string literals inside an expression (or the string itself when it is not one), for scanning. */
export function literalsOf(value: string): string[] {
  if (!isExpression(value)) return [value];
  try {
    return tokenize(value.slice(1, -1))
      .filter((t) => t.kind === 'string')
      .map((t) => t.text);
  } catch {
    return [value];
  }
}
