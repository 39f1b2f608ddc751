import { app } from '@azure/functions';
import { getDeps } from '../lib/deps';
import { requestDeviceSync } from '../lib/useCases/deviceSync';

// Every 15 minutes, with the Android Management channel: the inventory follows the enterprise (new, changed, disabled
// and deleted devices). Other channels have no inventory of their own to read.
app.timer('syncManagedDevicesTimer', {
  schedule: '0 */15 * * * *',
  runOnStartup: false,
  handler: async (_timer, context) => {
    const { services } = getDeps();
    if (!services.deviceSource) return;
    const { syncStartedDateTime } = await requestDeviceSync(services);
    context.log(`device sync started at ${syncStartedDateTime}`);
  },
});
