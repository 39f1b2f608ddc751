import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { STORAGE_NAMES } from '../lib/deps';
import { queueHandler } from '../lib/queueHandler';
import { appMetrics } from '../lib/telemetry/instrument';
import { failUndeliveredReset } from '../lib/useCases/applyPasscodeReset';

// The host moves a message here after its last failed attempt (maxDequeueCount): the action is sent to a worker again
// while its retry window lasts, and fails as deliveryFailed after it.
export const resetPasscodePoison = queueHandler(
  ResetMessageSchema,
  'poison',
  (services, message) => {
    appMetrics().poisonMessage(STORAGE_NAMES.poisonQueue);
    return failUndeliveredReset(services, message);
  },
  (message, outcome) => `undelivered reset ${message.actionId}: ${outcome}`,
  STORAGE_NAMES.poisonQueue,
);

app.storageQueue('resetPasscodePoison', {
  queueName: STORAGE_NAMES.poisonQueue,
  connection: 'AzureWebJobsStorage',
  handler: resetPasscodePoison,
});
