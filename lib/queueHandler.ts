import type { InvocationContext, StorageQueueHandler } from '@azure/functions';
import { getDeps } from './deps';
import { telemetry } from './telemetry/telemetry';
import type { Delivery, Services } from './useCases/services';
import { retryWhileStorageIsDown, WORKER_STORAGE_WAIT_MS } from './useCases/waitForStorage';
import type * as z from './zod';

/**
 * The one shape of the app's queue functions: the message is validated (a malformed one can never succeed, so it is
 * logged, ids only, and completed rather than retried into the poison queue), the work waits for storage when it is
 * down instead of spending the message's delivery attempts, and the outcome is logged.
 */
export function queueHandler<M, R extends string>(
  schema: z.ZodMiniType<M>,
  what: string,
  work: (services: Services, message: M, delivery: Delivery) => Promise<R>,
  describe: (message: M, outcome: R, context: InvocationContext) => string,
  queueName?: string,
): StorageQueueHandler {
  return async (message, context) => {
    const parsed = schema.safeParse(message);
    if (!parsed.success) {
      context.error(`discarding a malformed ${what} message`, { issues: parsed.error.issues.length });
      return;
    }
    const { services } = getDeps();
    // The message's id: the same on every delivery of this message (a redelivery after a failed one).
    const id = context.triggerMetadata?.id;
    const delivery: Delivery = typeof id === 'string' ? { messageId: id } : {};
    const queue = queueName ?? what;
    const hostTrace = context.traceContext?.traceParent;
    const { actionId, traceparent } = traceFieldsOf(parsed.data);
    // A consumer span per delivery, child of the producer whose context the message carries: every delivery of a
    // reset (retries included) joins the trace of the request that accepted it. The host's own trace of the
    // invocation is linked.
    await telemetry().tracing.span(
      `process ${queue}`,
      {
        kind: 'consumer',
        attributes: {
          'messaging.system': 'azure.storage.queue',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': queue,
          'messaging.message.id': delivery.messageId,
          'messaging.message.delivery_count': deliveryCount(context),
          'app.action.id': actionId,
        },
        ...(traceparent && { parent: traceparent }),
        ...(hostTrace && { links: [hostTrace] }),
      },
      async (span) => {
        const outcome = await retryWhileStorageIsDown(() => work(services, parsed.data, delivery), {
          budgetMs: WORKER_STORAGE_WAIT_MS,
          log: services.log,
        });
        span.setAttributes({ 'app.outcome': outcome });
        context.log(describe(parsed.data, outcome, context));
      },
    );
  };
}

/** The action a message is about and the trace it continues, for the messages that carry them. */
function traceFieldsOf(message: unknown): { actionId?: string; traceparent?: string } {
  if (typeof message !== 'object' || message === null) return {};
  const actionId: unknown = Reflect.get(message, 'actionId');
  const traceparent: unknown = Reflect.get(message, 'traceparent');
  return {
    ...(typeof actionId === 'string' && { actionId }),
    ...(typeof traceparent === 'string' && { traceparent }),
  };
}

function deliveryCount(context: InvocationContext): number | undefined {
  const count = context.triggerMetadata?.dequeueCount;
  return typeof count === 'number' ? count : undefined;
}
