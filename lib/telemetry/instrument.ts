import { isTerminal } from '../core/actionLifecycle';
import { TransientError } from '../core/errors';
import type { CommandStatus, DeviceAction, ResetMessage } from '../core/model';
import type { ActionStore, DeviceChannel, NotificationMessage, NotificationSender } from '../ports';
import type { Services } from '../useCases/services';
import { type AppMetrics, createAppMetrics, noMetrics } from './metrics';
import { type Attributes, type Telemetry, telemetry } from './telemetry';

let metricsFor: { telemetry: Telemetry; metrics: AppMetrics } | undefined;

/** The app's instruments on the active telemetry's meter (none while telemetry is off). */
export function appMetrics(): AppMetrics {
  const active = telemetry();
  if (metricsFor?.telemetry !== active) {
    metricsFor = { telemetry: active, metrics: active.meter ? createAppMetrics(active.meter) : noMetrics };
  }
  return metricsFor.metrics;
}

// Azure Storage queues have no messaging.system value of their own in the semantic conventions.
const QUEUE_SYSTEM = 'azure.storage.queue';

export interface QueueNames {
  resets: string;
  notifications: string;
}

/**
 * The services with spans and metrics around every hop of a reset: each enqueue is a producer span whose context the
 * message carries (so the worker continues the trace), each device channel call and notification POST a client span,
 * and each move of an action to a terminal state the "finish reset" span. lib/deps.ts applies it only when telemetry
 * is configured.
 */
export function instrumentServices(services: Services, queues: QueueNames): Services {
  const channel = services.settings.deviceChannel;
  return {
    ...services,
    queue: tracedQueue<ResetMessage>(services.queue, queues.resets, (_, options) => ({
      'app.queue.delay_seconds': options?.delaySeconds,
    })),
    notifications: tracedQueue<NotificationMessage>(services.notifications, queues.notifications, (message) => ({
      'app.notification.kind': message.kind,
    })),
    channel: tracedChannel(services.channel, channel),
    notifier: tracedNotifier(services.notifier),
    actions: tracedActions(services.actions, channel),
  };
}

/** A queue whose messages name an action and carry the trace they belong to. */
interface TracedMessageQueue<M extends { actionId: string; traceparent?: string }> {
  enqueue(message: M, options?: { delaySeconds?: number }): Promise<void>;
}

/**
 * Each enqueue as a producer span, the message carrying that span's context (so its consumer continues the trace);
 * `attributes` adds what is particular to the queue's messages.
 */
function tracedQueue<M extends { actionId: string; traceparent?: string }>(
  inner: TracedMessageQueue<M>,
  queue: string,
  attributes: (message: M, options?: { delaySeconds?: number }) => Attributes,
): TracedMessageQueue<M> {
  return {
    enqueue: (message, options) =>
      telemetry().tracing.span(
        `send ${queue}`,
        {
          kind: 'producer',
          attributes: {
            'messaging.system': QUEUE_SYSTEM,
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'send',
            'messaging.destination.name': queue,
            'app.action.id': message.actionId,
            ...attributes(message, options),
          },
        },
        (span) => inner.enqueue({ ...message, traceparent: span.traceparent() || message.traceparent }, options),
      ),
  };
}

/** What a channel call came to, for the span and the metric: the command's status, or how the call failed. */
const outcomeOf = (result: CommandStatus | boolean | 'transient' | 'error') =>
  typeof result === 'object' ? result.status : typeof result === 'boolean' ? String(result) : result;

function tracedChannel(inner: DeviceChannel, channel: string): DeviceChannel {
  const call = <T extends CommandStatus | boolean>(
    operation: 'send' | 'check' | 'cancel',
    actionId: string,
    work: (traceparent: string) => Promise<T>,
  ): Promise<T> =>
    telemetry().tracing.span(
      `DeviceChannel/${operation}`,
      {
        kind: 'client',
        attributes: {
          'rpc.service': 'DeviceChannel',
          'rpc.method': operation,
          'device_channel.name': channel,
          'app.action.id': actionId,
        },
      },
      async (span) => {
        const started = performance.now();
        const done = (outcome: string) => {
          span.setAttributes({ 'device_channel.outcome': outcome });
          appMetrics().deviceChannelCall(channel, operation, outcome, (performance.now() - started) / 1000);
        };
        try {
          const result = await work(span.traceparent());
          done(outcomeOf(result));
          return result;
        } catch (error) {
          const outcome = error instanceof TransientError ? 'transient' : 'error';
          done(outcome);
          span.fail(error instanceof Error ? error.name : outcome);
          throw error;
        }
      },
    );
  return {
    send: (request) =>
      call('send', request.actionId, (traceparent) => inner.send({ ...request, ...(traceparent && { traceparent }) })),
    check: (command) => call('check', command.actionId, () => inner.check(command)),
    cancel: (command) => call('cancel', command.actionId, () => inner.cancel(command)),
  };
}

/** The receiver's origin and path: a notification URL's query may hold a signature (Logic Apps' `sig`), never kept. */
function withoutQuery(url: string): Attributes {
  try {
    const parsed = new URL(url);
    return {
      'url.full': `${parsed.origin}${parsed.pathname}`,
      'url.scheme': parsed.protocol.replace(/:$/, ''),
      'server.address': parsed.hostname,
      'server.port': Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80),
    };
  } catch {
    return {};
  }
}

function tracedNotifier(inner: NotificationSender): NotificationSender {
  return {
    validate: (url, token) => inner.validate(url, token),
    post: (url, body) =>
      telemetry().tracing.span(
        'POST',
        { kind: 'client', attributes: { 'http.request.method': 'POST', ...withoutQuery(url) } },
        async (span) => {
          try {
            const status = await inner.post(url, body);
            const delivered = status >= 200 && status < 300;
            span.setAttributes({ 'http.response.status_code': status });
            if (!delivered) span.fail(String(status));
            appMetrics().notificationDelivery(delivered ? 'delivered' : 'rejected');
            return status;
          } catch (error) {
            appMetrics().notificationDelivery('unreachable');
            throw error;
          }
        },
      ),
  };
}

const waitsForDevice = (action: DeviceAction) => action.command?.state === 'waitingForDevice';

/** Counts the moves the metrics follow: into a terminal state (in its own span) and into and out of waiting. */
function tracedActions(inner: ActionStore, channel: string): ActionStore {
  const instrumented = Object.create(inner) as ActionStore;
  instrumented.update = async (next, current) => {
    const finishing = isTerminal(next.actionState) && !isTerminal(current.value.actionState);
    const seconds = (Date.parse(next.lastUpdatedDateTime) - Date.parse(next.startDateTime)) / 1000;
    const stored = finishing
      ? await telemetry().tracing.span(
          'finish reset',
          {
            kind: 'internal',
            attributes: {
              'app.action.id': next.id,
              'app.action.state': next.actionState,
              'error.code': next.error?.code,
              // Application Insights keeps a histogram as count, sum, min and max only: the p95 of the time to done
              // is read from this attribute of the spans (docs/operations.md).
              'app.action.duration_seconds': seconds,
            },
          },
          () => inner.update(next, current),
        )
      : await inner.update(next, current);
    const metrics = appMetrics();
    if (finishing) {
      metrics.resetFinished(next.actionState, next.error?.code, seconds);
    }
    const before = waitsForDevice(current.value);
    const after = waitsForDevice(next) && !isTerminal(next.actionState);
    if (before !== after) metrics.commandsWaitingChanged(after ? 1 : -1, channel);
    return stored;
  };
  return instrumented;
}
