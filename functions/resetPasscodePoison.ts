import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { getDeps, STORAGE_NAMES } from '../lib/deps';
import { failUndeliveredReset } from '../lib/useCases/applyPasscodeReset';
import { retryWhileStorageIsDown, WORKER_STORAGE_WAIT_MS } from '../lib/useCases/waitForStorage';

// The host moves a message here after its last failed attempt (maxDequeueCount): the action is sent to a worker again
// while its retry window lasts, and fails as deliveryFailed after it.
app.storageQueue('resetPasscodePoison', {
  queueName: STORAGE_NAMES.poisonQueue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = ResetMessageSchema.safeParse(message);
    if (!parsed.success) {
      context.error('discarding a malformed poison message', { issues: parsed.error.issues.length });
      return;
    }
    const { services } = getDeps();
    const outcome = await retryWhileStorageIsDown(() => failUndeliveredReset(services, parsed.data), {
      budgetMs: WORKER_STORAGE_WAIT_MS,
      log: services.log,
    });
    context.log(`undelivered reset ${parsed.data.actionId}: ${outcome}`);
  },
});
