import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { STORAGE_NAMES } from '../lib/deps';
import { queueHandler } from '../lib/queueHandler';
import { failUndeliveredReset } from '../lib/useCases/applyPasscodeReset';

// The host moves a message here after its last failed attempt (maxDequeueCount): the action is sent to a worker again
// while its retry window lasts, and fails as deliveryFailed after it.
app.storageQueue('resetPasscodePoison', {
  queueName: STORAGE_NAMES.poisonQueue,
  connection: 'AzureWebJobsStorage',
  handler: queueHandler(
    ResetMessageSchema,
    'poison',
    failUndeliveredReset,
    (message, outcome) => `undelivered reset ${message.actionId}: ${outcome}`,
  ),
});
