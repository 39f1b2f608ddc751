import { app } from '@azure/functions';
import { ResetMessageSchema } from '../lib/core/model';
import { STORAGE_NAMES } from '../lib/deps';
import { queueHandler } from '../lib/queueHandler';
import { applyPasscodeReset } from '../lib/useCases/applyPasscodeReset';

app.storageQueue('resetPasscodeWorker', {
  queueName: STORAGE_NAMES.queue,
  connection: 'AzureWebJobsStorage',
  // The trace id of the request that accepted the reset joins this invocation's logs to that request's.
  handler: queueHandler(
    ResetMessageSchema,
    'reset',
    applyPasscodeReset,
    (message, outcome, context) => {
      const traceId = message.traceparent?.split('-')[1] ?? 'none';
      return `reset ${message.actionId}: ${outcome} (delivery ${String(context.triggerMetadata?.dequeueCount)}, trace ${traceId})`;
    },
    STORAGE_NAMES.queue,
  ),
});
