import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { getDeps, STORAGE_NAMES } from '../lib/deps';
import { applyPasscodeReset } from '../lib/useCases/applyPasscodeReset';
import { retryWhileStorageIsDown, WORKER_STORAGE_WAIT_MS } from '../lib/useCases/waitForStorage';

// A malformed message can never succeed: log it (ids only) and complete it rather than retry it into the poison queue.
app.storageQueue('resetPasscodeWorker', {
  queueName: STORAGE_NAMES.queue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = ResetMessageSchema.safeParse(message);
    if (!parsed.success) {
      context.error('discarding a malformed reset message', { issues: parsed.error.issues.length });
      return;
    }
    const { services } = getDeps();
    const outcome = await retryWhileStorageIsDown(() => applyPasscodeReset(services, parsed.data), {
      budgetMs: WORKER_STORAGE_WAIT_MS,
      log: services.log,
    });
    // The real host sends DequeueCount as a string, the local host as a number: either prints the same.
    context.log(
      `reset ${parsed.data.actionId}: ${outcome} (delivery ${String(context.triggerMetadata?.dequeueCount)})`,
    );
  },
});
