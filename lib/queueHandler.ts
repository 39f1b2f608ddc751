import type { InvocationContext, StorageQueueHandler } from '@azure/functions';
import { getDeps } from './deps';
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
    const outcome = await retryWhileStorageIsDown(() => work(services, parsed.data, delivery), {
      budgetMs: WORKER_STORAGE_WAIT_MS,
      log: services.log,
    });
    context.log(describe(parsed.data, outcome, context));
  };
}
