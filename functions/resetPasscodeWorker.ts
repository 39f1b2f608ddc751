import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { getDeps, STORAGE_NAMES } from '../lib/deps';
import { applyPasscodeReset } from '../lib/useCases/applyPasscodeReset';

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
    const outcome = await applyPasscodeReset(getDeps().services, parsed.data);
    context.log(`reset ${parsed.data.actionId}: ${outcome} (delivery ${context.triggerMetadata?.dequeueCount})`);
  },
});
