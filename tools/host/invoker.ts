import { randomBytes, randomUUID } from 'node:crypto';
import type { FunctionsCore, RegisteredFunction } from './coreApi';
import type {
  CoreInvocationContext,
  InvocationState,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcParameterBinding,
  RpcTypedData,
} from './coreTypes';
import type { Logger } from './logger';

export class FunctionTimeoutError extends Error {
  constructor(functionName: string, timeoutMs: number) {
    super(`Timeout value of ${timeoutMs} ms exceeded by function '${functionName}'`);
    this.name = 'FunctionTimeoutError';
  }
}

export class HostStoppingError extends Error {
  constructor() {
    super('The host is shutting down');
    this.name = 'HostStoppingError';
  }
}

export interface InvocationInput {
  inputData: RpcParameterBinding[];
  triggerMetadata: Record<string, RpcTypedData>;
  /** Why the function runs, for the "Executing" log line (as Core Tools prints it). */
  reason: string;
  traceParent?: string;
}

/** A pre/postInvocation hook context as the worker builds it: hookData, appHookData and the context are read-only. */
function invocationHookContext(
  appHookData: unknown,
  hookData: Record<string, unknown>,
  invocationContext: unknown,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  const hookContext: Record<string, unknown> = { ...fields };
  for (const [name, value] of Object.entries({ hookData, appHookData, invocationContext })) {
    Object.defineProperty(hookContext, name, {
      enumerable: true,
      get: () => value,
      set: () => readOnly(name),
    });
  }
  return hookContext;
}

function readOnly(name: string): never {
  throw new TypeError(`Cannot assign to read only property '${name}'`);
}

/**
 * Runs invocations the way the Node worker's InvocationHandler does: getInvocationModel → getArguments →
 * preInvocation hooks → invokeFunction → postInvocation hooks → getResponse.
 * https://github.com/Azure/azure-functions-nodejs-worker/blob/v3.x/src/eventHandlers/InvocationHandler.ts
 */
export class Invoker {
  readonly #core: FunctionsCore;
  readonly #logger: Logger;
  readonly #timeoutMs: number | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  #stopping = false;

  constructor(core: FunctionsCore, logger: Logger, timeoutMs: number | undefined) {
    this.#core = core;
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Refuses new invocations from now on. */
  stop(): void {
    this.#stopping = true;
  }

  /** Waits until every running invocation has settled, or the deadline passes; true when all settled. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      while (this.#inFlight.size > 0) {
        const settled = await Promise.race([Promise.allSettled([...this.#inFlight]).then(() => true), deadline]);
        if (!settled) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  async invoke(fn: RegisteredFunction, input: InvocationInput): Promise<RpcInvocationResponse> {
    if (this.#stopping) throw new HostStoppingError();
    const invocationId = randomUUID();
    const scope = { functionName: `Functions.${fn.name}`, invocationId };
    const started = performance.now();
    this.#logger.log('information', `Executing 'Functions.${fn.name}' (Reason='${input.reason}', Id=${invocationId})`);
    const run = this.#run(fn, invocationId, input);
    this.#inFlight.add(run);
    const untrack = () => this.#inFlight.delete(run);
    run.then(untrack, untrack);

    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.#timeoutMs;
    const limited =
      timeoutMs === undefined
        ? run
        : Promise.race([
            run,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new FunctionTimeoutError(fn.name, timeoutMs)), timeoutMs);
            }),
          ]);
    try {
      const response = await limited;
      const duration = Math.round(performance.now() - started);
      this.#logger.log(
        'information',
        `Executed 'Functions.${fn.name}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)`,
      );
      return response;
    } catch (error) {
      const duration = Math.round(performance.now() - started);
      this.#logger.log('error', `Executed 'Functions.${fn.name}' (Failed, Id=${invocationId}, Duration=${duration}ms)`);
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.#logger.log('error', `Exception while executing function: Functions.${fn.name}. ${detail}`, scope);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(fn: RegisteredFunction, invocationId: string, input: InvocationInput): Promise<RpcInvocationResponse> {
    const core = this.#core;
    const model = core.programmingModel;
    if (!model) throw new Error('No programming model was registered by the app (is @azure/functions loaded?)');
    const request: RpcInvocationRequest = {
      invocationId,
      functionId: fn.functionId,
      inputData: input.inputData,
      triggerMetadata: input.triggerMetadata,
      traceContext: {
        traceParent: input.traceParent ?? `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        traceState: '',
        attributes: {},
      },
      retryContext: null,
    };
    const scope = { functionName: `Functions.${fn.name}`, invocationId };
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request,
      metadata: fn.metadata,
      state: undefined as InvocationState | undefined,
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => core.log(level, category, message, scope),
    };
    const invocationModel = await model.getInvocationModel(coreCtx);
    const hookData: Record<string, unknown> = {};
    const { context, inputs: initialInputs } = await invocationModel.getArguments();

    const preContext = invocationHookContext(core.appHookData, hookData, context, {
      functionCallback: fn.callback,
      inputs: initialInputs,
    });
    coreCtx.state = 'preInvocationHooks';
    try {
      await core.executeHooks('preInvocation', preContext);
    } finally {
      coreCtx.state = undefined;
    }
    const inputs = Array.isArray(preContext.inputs) ? preContext.inputs : initialInputs;
    const callback = typeof preContext.functionCallback === 'function' ? preContext.functionCallback : fn.callback;

    const postContext = invocationHookContext(core.appHookData, hookData, context, {
      inputs,
      result: null,
      error: null,
    });
    coreCtx.state = 'invocation';
    try {
      postContext.result = await invocationModel.invokeFunction(context, inputs, (...args: unknown[]) =>
        Reflect.apply(callback, undefined, args),
      );
    } catch (error) {
      postContext.error = error;
    } finally {
      coreCtx.state = undefined;
    }
    coreCtx.state = 'postInvocationHooks';
    try {
      await core.executeHooks('postInvocation', postContext);
    } finally {
      coreCtx.state = undefined;
    }
    if (postContext.error !== null && postContext.error !== undefined) throw postContext.error;
    return invocationModel.getResponse(context, postContext.result);
  }
}
