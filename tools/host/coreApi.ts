import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import type {
  Disposable,
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  HookData,
  ProgrammingModel,
  RpcBindingInfo,
  RpcFunctionMetadata,
  RpcLogCategory,
  RpcLogLevel,
} from './coreTypes';
import type { Logger } from './logger';

const CORE_MODULE = '@azure/functions-core';
/** The worker version this host imitates (reported as coreApi.version). */
const WORKER_VERSION = '3.10.1';
const HOST_VERSION = '4.1000.0-local';

export class AppLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppLoadError';
  }
}

export interface RegisteredFunction {
  name: string;
  functionId: string;
  metadata: RpcFunctionMetadata;
  bindings: Record<string, RpcBindingInfo>;
  callback: FunctionCallback;
}

class CoreDisposable implements Disposable {
  #callOnDispose: (() => unknown) | undefined;
  static from(...likes: { dispose: () => unknown }[]): CoreDisposable {
    return new CoreDisposable(() => {
      for (const like of likes) like.dispose();
    });
  }
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    call?.();
  }
}

function readOnlyError(name: string): Error {
  return new TypeError(`Cannot assign to read only property '${name}'`);
}

/**
 * The host side of `@azure/functions-core`, the module the Node worker provides to the @azure/functions
 * library. The library registers its programming model, functions and hooks here.
 * https://github.com/Azure/azure-functions-nodejs-worker/blob/v3.x/src/setupCoreModule.ts
 */
export class FunctionsCore {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly appHookData: HookData = {};
  readonly appLevelOnlyHookData: HookData = {};
  programmingModel: ProgrammingModel | undefined;
  #hooks = new Map<string, HookCallback[]>();
  #startupFinished = false;
  readonly #logger: Logger;
  readonly api: Record<string, unknown>;

  constructor(logger: Logger) {
    this.#logger = logger;
    this.api = {
      version: WORKER_VERSION,
      hostVersion: HOST_VERSION,
      registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback) =>
        this.registerFunction(metadata, callback),
      registerHook: (hookName: string, callback: HookCallback) => this.registerHook(hookName, callback),
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => this.log(level, category, message),
      Disposable: CoreDisposable,
    };
  }

  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (this.#startupFinished) throw new AppLoadError('A function can only be registered during app startup.');
    const name = metadata.name;
    const functionId = metadata.functionId ?? name;
    if (this.functions.has(functionId)) throw new AppLoadError(`A function named "${name}" is already registered.`);
    const bindings = metadata.bindings;
    const rpcMetadata: RpcFunctionMetadata = {
      name,
      functionId,
      bindings,
      rawBindings: Object.entries(bindings).map(([bindingName, binding]) =>
        JSON.stringify({ ...binding, name: bindingName }),
      ),
      scriptFile: 'n/a',
    };
    this.functions.set(functionId, { name, functionId, metadata: rpcMetadata, bindings, callback });
    return new CoreDisposable(() => {
      if (this.#startupFinished) throw new AppLoadError('A function can only be disposed during app startup.');
      this.functions.delete(functionId);
    });
  }

  registerHook(hookName: string, callback: HookCallback): Disposable {
    const hooks = this.getHooks(hookName);
    hooks.push(callback);
    return new CoreDisposable(() => {
      const index = hooks.indexOf(callback);
      if (index >= 0) hooks.splice(index, 1);
    });
  }

  getHooks(hookName: string): HookCallback[] {
    let hooks = this.#hooks.get(hookName);
    if (!hooks) {
      hooks = [];
      this.#hooks.set(hookName, hooks);
    }
    return hooks;
  }

  /** Runs hooks one after the other in registration order; a throwing hook stops the chain, as in the worker. */
  async executeHooks(hookName: string, context: Record<string, unknown>): Promise<void> {
    for (const callback of [...this.getHooks(hookName)]) await callback(context);
  }

  finishStartup(): void {
    this.#startupFinished = true;
  }

  /** Hook context for appStart/appTerminate, shaped like the worker's. */
  appHookContext(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const core = this;
    return {
      get hookData() {
        return core.appLevelOnlyHookData;
      },
      set hookData(_value) {
        throw readOnlyError('hookData');
      },
      get appHookData() {
        return core.appHookData;
      },
      set appHookData(_value) {
        throw readOnlyError('appHookData');
      },
      ...extra,
    };
  }

  /** Routes a log entry through the log hooks (which may change level and message), then to the logger. */
  log(
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    scope?: { functionName?: string; invocationId?: string },
  ): void {
    const entry: Record<string, unknown> = { level, message, category, hookData: {}, appHookData: this.appHookData };
    for (const hook of this.getHooks('log')) {
      try {
        const result = hook(entry);
        if (result instanceof Promise) result.catch(() => {});
      } catch (error) {
        this.#logger.warn(`A log hook threw: ${(error as Error).message}`);
      }
    }
    const finalLevel = typeof entry.level === 'string' ? (entry.level as RpcLogLevel) : level;
    const finalMessage = typeof entry.message === 'string' ? entry.message : message;
    this.#logger.log(finalLevel, finalMessage, scope);
  }
}

type ModuleLoad = (request: string, parent: unknown, isMain: boolean) => unknown;
type ModuleResolve = (request: string, ...rest: unknown[]) => string;
// Node's CommonJS loader internals, patched the way the Node worker provides its built-in module.
const moduleInternals = Module as unknown as { _load: ModuleLoad; _resolveFilename: ModuleResolve };

/** Makes `require('@azure/functions-core')` return `api`; returns a function that removes the hook. */
export function installCoreModule(api: unknown): () => void {
  const originalLoad = moduleInternals._load;
  const originalResolve = moduleInternals._resolveFilename;
  moduleInternals._load = function load(this: unknown, request, parent, isMain) {
    return request === CORE_MODULE ? api : originalLoad.call(this, request, parent, isMain);
  };
  moduleInternals._resolveFilename = function resolveFilename(this: unknown, request, ...rest) {
    return request === CORE_MODULE ? CORE_MODULE : originalResolve.call(this, request, ...rest);
  };
  return () => {
    moduleInternals._load = originalLoad;
    moduleInternals._resolveFilename = originalResolve;
  };
}

const PackageJsonSchema = z.object({ main: z.string().min(1).optional(), type: z.string().optional() }).loose();

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '{') source += '(?:';
    else if (c === '}') source += ')';
    else if (c === ',') source += '|';
    else source += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out;
}

/** The entry point files named by package.json `main` (a path or a glob, as the worker accepts). */
function resolveEntryPoints(appDir: string): { files: string[]; esm: boolean } {
  const file = join(appDir, 'package.json');
  if (!existsSync(file)) throw new AppLoadError(`${file} not found`);
  const parsed = PackageJsonSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new AppLoadError(`${file}: ${parsed.error.message}`);
  const main = parsed.data.main ?? 'index.js';
  const esm = parsed.data.type === 'module';
  if (!/[*?{]/.test(main)) {
    const full = resolve(appDir, main);
    if (!existsSync(full)) throw new AppLoadError(`package.json "main" names ${full}, which does not exist`);
    return { files: [full], esm };
  }
  const pattern = globToRegExp(main.replace(/^\.\//, ''));
  const files = listFiles(appDir)
    .filter((f) => pattern.test(relative(appDir, f).split(sep).join('/')))
    .sort();
  if (files.length === 0) throw new AppLoadError(`package.json "main" (${main}) matches no file`);
  return { files, esm };
}

/** Loads the app's entry point files; their `app.*` calls register functions with `core`. */
export async function loadApp(appDir: string): Promise<string[]> {
  const { files, esm } = resolveEntryPoints(appDir);
  const appRequire = createRequire(join(appDir, 'package.json'));
  for (const file of files) {
    if (file.endsWith('.mjs') || (esm && file.endsWith('.js'))) await import(pathToFileURL(file).href);
    else appRequire(file);
  }
  return files;
}
