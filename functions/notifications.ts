import { app } from '@azure/functions';
import { IdSchema, TraceparentSchema } from '../lib/core/model';
import { STORAGE_NAMES } from '../lib/deps';
import type { NotificationMessage } from '../lib/ports';
import { queueHandler } from '../lib/queueHandler';
import { handleNotificationMessage } from '../lib/useCases/subscriptions';
import * as z from '../lib/zod';

const SubscriptionIdSchema = z.string().check(z.regex(/^[0-9a-f-]{36}$/));

const NotificationMessageSchema: z.ZodMiniType<NotificationMessage> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.strictObject({
      v: z.literal(1),
      kind: z.literal('finished'),
      deviceId: IdSchema,
      actionId: IdSchema,
      cursor: z.optional(z.strictObject({ scope: z.enum(['device', 'all']), after: z.optional(SubscriptionIdSchema) })),
      traceparent: z.optional(TraceparentSchema),
    }),
    z.strictObject({
      v: z.literal(1),
      kind: z.literal('deliver'),
      subscriptionId: SubscriptionIdSchema,
      deviceId: IdSchema,
      actionId: IdSchema,
      attempt: z.int().check(z.minimum(0)),
      firstTriedAt: z.iso.datetime(),
      claim: z.optional(z.string().check(z.regex(/^[0-9a-f]{16}$/))),
      traceparent: z.optional(TraceparentSchema),
    }),
  ]),
);

// Change notifications: a finished action is fanned out to its subscriptions, then each notice is delivered on its
// own (a slow receiver delays nobody).
app.storageQueue('notifications', {
  queueName: STORAGE_NAMES.notificationQueue,
  connection: 'AzureWebJobsStorage',
  handler: queueHandler(
    NotificationMessageSchema,
    'notification',
    handleNotificationMessage,
    (message, outcome) => `notification ${message.kind} for ${message.actionId}: ${outcome}`,
    STORAGE_NAMES.notificationQueue,
  ),
});
