import { resolve } from 'node:path';
import { type HostConfig, loadHostConfig, loadLocalSettings } from './config';
import { AppLoadError, FunctionsCore, installCoreModule, loadApp, type RegisteredFunction } from './coreApi';
import { createHttpHost, type HttpFunction, type HttpHost, toHttpFunction } from './http';
import { resolveHttpSettings } from './httpSettings';
import { Invoker } from './invoker';
import { createLogger, type Logger } from './logger';
import { parseSchedule } from './ncrontab';
import { QueueListener, resolveBindingExpression, resolveStorageConnection } from './queue';
import { TimerListener } from './timer';

export interface StartHostOptions {
  appDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Interface to bind; default 127.0.0.1. */
  hostname?: string;
  /** App settings; defaults to process.env (local.settings.json values are added to it). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Queue message lease, renewed at half-time while a function runs; the queues extension uses 10 minutes. */
  queueLeaseMs?: number;
  /** Upper bound for waiting on in-flight invocations at shutdown. */
  shutdownTimeoutMs?: number;
}

interface FunctionSummary {
  name: string;
  trigger: string;
  detail: string;
}

export interface RunningHost {
  url: string;
  port: number;
  config: HostConfig;
  functions: FunctionSummary[];
  /** Graceful stop: no new work, in-flight invocations finish (bounded), then appTerminate hooks. */
  stop(): Promise<void>;
}

const DEFAULT_LEASE_MS = 10 * 60_000;
const DEFAULT_SHUTDOWN_MS = 30_000;

function triggerOf(fn: RegisteredFunction): { name: string; binding: Record<string, unknown>; type: string } {
  for (const [name, binding] of Object.entries(fn.bindings)) {
    if (binding.direction === 'in' && typeof binding.type === 'string' && /trigger$/i.test(binding.type)) {
      return { name, binding, type: binding.type.toLowerCase() };
    }
  }
  throw new AppLoadError(`Function ${fn.name} has no trigger binding`);
}

/** Loads the app in this process and starts its HTTP, queue and timer triggers. */
export async function startHost(options: StartHostOptions): Promise<RunningHost> {
  const appDir = resolve(options.appDir);
  const env = options.env ?? process.env;
  const localSettings = loadLocalSettings(appDir, env);
  const config = loadHostConfig(appDir, env);
  const httpSettings = resolveHttpSettings(env, localSettings);
  const logger = options.logger ?? createLogger(config.logLevel);
  const core = new FunctionsCore(logger);
  const uninstall = installCoreModule(core.api);
  const hostname = options.hostname ?? '127.0.0.1';

  let http: HttpHost | undefined;
  const queues: QueueListener[] = [];
  const timers: TimerListener[] = [];
  try {
    // As the Node worker does during its init: load the entry points, run the appStart hooks (init waits for them),
    // and only then report capabilities and index the functions. An appStart hook may still register functions.
    // https://github.com/Azure/azure-functions-nodejs-worker/blob/v3.x/src/startApp.ts
    await loadApp(appDir);
    await core.executeHooks('appStart', core.appHookContext({ functionAppDirectory: appDir }));
    core.finishStartup();
    const model = core.programmingModel;
    if (!model)
      throw new AppLoadError(`The app in ${appDir} did not register a programming model (no @azure/functions?)`);
    const capabilities = (await model.getCapabilities?.({})) ?? {};
    if (capabilities.HttpUri)
      throw new AppLoadError('HTTP streaming (app.setup({ enableHttpStream })) is not supported');

    const invoker = new Invoker(core, logger, config.functionTimeoutMs);
    const httpFunctions: HttpFunction[] = [];
    const summaries: FunctionSummary[] = [];
    const pendingTimers: TimerListener[] = [];
    for (const fn of core.functions.values()) {
      const trigger = triggerOf(fn);
      // The real host's switch: app setting AzureWebJobs.<FunctionName>.Disabled = true (or 1) disables a function.
      // https://learn.microsoft.com/azure/azure-functions/disable-function
      if (/^(true|1)$/i.test(env[`AzureWebJobs.${fn.name}.Disabled`] ?? '')) {
        summaries.push({ name: fn.name, trigger: trigger.type, detail: 'disabled' });
        continue;
      }
      for (const [name, binding] of Object.entries(fn.bindings)) {
        const type = String(binding.type ?? '').toLowerCase();
        // The HTTP front end writes the http output; the app writes its queues through its own clients.
        if (binding.direction === 'out' && type !== 'http') {
          logger.warn(
            `Output binding ${name} (${binding.type}) of ${fn.name} is not supported by the local host; it is ignored`,
          );
        } else if (binding.direction === 'in' && name !== trigger.name) {
          logger.warn(
            `Input binding ${name} (${binding.type}) of ${fn.name} is not supported by the local host; it stays empty`,
          );
        }
      }
      if (trigger.type === 'httptrigger') {
        const httpFunction = toHttpFunction(fn, trigger.name, trigger.binding);
        httpFunctions.push(httpFunction);
        const methods = httpFunction.methods.length > 0 ? httpFunction.methods.join(',') : 'ALL';
        summaries.push({
          name: fn.name,
          trigger: 'httpTrigger',
          detail: `[${methods}] ${httpFunction.route.template}`,
        });
      } else if (trigger.type === 'queuetrigger') {
        const queueName = resolveBindingExpression(String(trigger.binding.queueName ?? ''), env);
        queues.push(
          new QueueListener({
            fn,
            triggerName: trigger.name,
            binding: trigger.binding,
            queueName,
            connection: resolveStorageConnection(trigger.binding.connection, env),
            config: config.queues,
            invoker,
            logger,
            leaseMs: options.queueLeaseMs ?? DEFAULT_LEASE_MS,
          }),
        );
        summaries.push({ name: fn.name, trigger: 'queueTrigger', detail: `queue ${queueName}` });
      } else if (trigger.type === 'timertrigger') {
        const expression = resolveBindingExpression(String(trigger.binding.schedule ?? ''), env);
        const schedule = parseSchedule(expression);
        pendingTimers.push(
          new TimerListener({
            fn,
            triggerName: trigger.name,
            schedule,
            runOnStartup: trigger.binding.runOnStartup === true,
            invoker,
            logger,
          }),
        );
        summaries.push({ name: fn.name, trigger: 'timerTrigger', detail: `schedule ${expression}` });
      } else {
        logger.warn(`Function ${fn.name} uses ${String(trigger.binding.type)}, which the local host does not run`);
        summaries.push({ name: fn.name, trigger: String(trigger.binding.type), detail: 'not supported locally' });
      }
    }

    http = createHttpHost({
      routePrefix: config.http.routePrefix,
      maxRequestBodySize: config.http.maxRequestBodySize,
      functions: httpFunctions,
      invoker,
      logger,
      keys: { functionKey: env.FUNCTIONS_HOST_KEY || undefined, masterKey: env.FUNCTIONS_MASTER_KEY || undefined },
      ...httpSettings,
    });
    const port = await http.listen(options.port, hostname);
    for (const queue of queues) await queue.start();
    for (const timer of pendingTimers) {
      timers.push(timer);
      timer.start();
    }

    const url = `http://${hostname}:${port}`;
    const base = config.http.routePrefix ? `${url}/${config.http.routePrefix}` : url;
    for (const summary of summaries) {
      if (summary.trigger === 'httpTrigger') {
        const [methods, template] = summary.detail.split(' ');
        summary.detail = `${methods} ${base}/${template}`;
      }
    }

    let stopping: Promise<void> | undefined;
    const runningHttp = http;
    const stop = () => {
      stopping ??= (async () => {
        logger.info('Stopping the host: no new requests or messages; waiting for running invocations');
        runningHttp.stopAccepting();
        const deadline = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_MS;
        const started = Date.now();
        const listenersDone = Promise.all([...queues.map((q) => q.stop()), ...timers.map((t) => t.stop())]);
        const listenersInTime = await Promise.race([
          listenersDone.then(() => true),
          new Promise<false>((r) => setTimeout(r, deadline, false).unref()),
        ]);
        const drained = listenersInTime && (await invoker.drain(Math.max(0, deadline - (Date.now() - started))));
        if (!drained)
          logger.warn(`${invoker.inFlight} invocation(s) still running after ${deadline} ms; stopping anyway`);
        invoker.stop();
        await runningHttp.close();
        try {
          await core.executeHooks('appTerminate', core.appHookContext());
        } catch (error) {
          logger.error(`An appTerminate hook failed: ${String(error)}`);
        }
        uninstall();
        logger.info('Host stopped');
      })();
      return stopping;
    };
    return { url, port, config, functions: summaries, stop };
  } catch (error) {
    await Promise.allSettled([...queues.map((q) => q.stop()), ...timers.map((t) => t.stop())]);
    await http?.close();
    uninstall();
    throw error;
  }
}
