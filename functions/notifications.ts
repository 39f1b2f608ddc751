import { app } from '@azure/functions';
import { z } from 'zod';
import { IdSchema } from '../lib/core/model';
import { getDeps, STORAGE_NAMES } from '../lib/deps';
import type { NotificationMessage } from '../lib/ports';
import { handleNotificationMessage } from '../lib/useCases/subscriptions';
import { retryWhileStorageIsDown, WORKER_STORAGE_WAIT_MS } from '../lib/useCases/waitForStorage';

const NotificationMessageSchema: z.ZodType<NotificationMessage> = z.discriminatedUnion('kind', [
  z.strictObject({ v: z.literal(1), kind: z.literal('finished'), deviceId: IdSchema, actionId: IdSchema }),
  z.strictObject({
    v: z.literal(1),
    kind: z.literal('deliver'),
    subscriptionId: z.string().regex(/^[0-9a-f-]{36}$/),
    deviceId: IdSchema,
    actionId: IdSchema,
    attempt: z.int().min(0),
    firstTriedAt: z.iso.datetime(),
  }),
]);

// Change notifications: a finished action is fanned out to its subscriptions, then each notice is delivered on its
// own (a slow receiver delays nobody). A malformed message can never succeed: it is logged and completed.
app.storageQueue('notifications', {
  queueName: STORAGE_NAMES.notificationQueue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = NotificationMessageSchema.safeParse(message);
    if (!parsed.success) {
      context.error('discarding a malformed notification message', { issues: parsed.error.issues.length });
      return;
    }
    const { services } = getDeps();
    const outcome = await retryWhileStorageIsDown(() => handleNotificationMessage(services, parsed.data), {
      budgetMs: WORKER_STORAGE_WAIT_MS,
      log: services.log,
    });
    context.log(`notification ${parsed.data.kind} for ${parsed.data.actionId}: ${outcome}`);
  },
});
