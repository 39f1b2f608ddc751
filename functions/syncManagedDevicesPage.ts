import { app } from '@azure/functions';
import { STORAGE_NAMES } from '../lib/deps';
import type { DeviceSyncMessage } from '../lib/ports';
import { queueHandler } from '../lib/queueHandler';
import { syncDevicePage } from '../lib/useCases/deviceSync';
import * as z from '../lib/zod';

const DeviceSyncMessageSchema: z.ZodMiniType<DeviceSyncMessage> = z.lazy(() =>
  z.strictObject({
    v: z.literal(1),
    startedDateTime: z.iso.datetime(),
    page: z.int().check(z.minimum(1)),
    pageToken: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  }),
);

// One page of the inventory sync per message; each page queues the next.
app.storageQueue('syncManagedDevicesPage', {
  queueName: STORAGE_NAMES.deviceSyncQueue,
  connection: 'AzureWebJobsStorage',
  handler: queueHandler(
    DeviceSyncMessageSchema,
    'device sync',
    syncDevicePage,
    (message, outcome) => `device sync ${message.startedDateTime} ${outcome}`,
    STORAGE_NAMES.deviceSyncQueue,
  ),
});
