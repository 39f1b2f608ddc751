import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { getDeps, STORAGE_NAMES } from '../lib/deps';
import { failUndeliveredReset } from '../lib/useCases/applyPasscodeReset';

// The host moves a message here after its last failed attempt (maxDequeueCount): the action fails as deliveryFailed.
app.storageQueue('resetPasscodePoison', {
  queueName: STORAGE_NAMES.poisonQueue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = ResetMessageSchema.safeParse(message);
    if (!parsed.success) {
      context.error('discarding a malformed poison message', { issues: parsed.error.issues.length });
      return;
    }
    const outcome = await failUndeliveredReset(getDeps().services, parsed.data);
    context.log(`undelivered reset ${parsed.data.actionId}: ${outcome}`);
  },
});
