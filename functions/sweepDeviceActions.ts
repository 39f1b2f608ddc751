import { app } from '@azure/functions';
import { getDeps } from '../lib/deps';
import { sweepActions } from '../lib/useCases/sweepActions';

app.timer('sweepDeviceActions', {
  schedule: '0 * * * * *',
  runOnStartup: false,
  handler: async (_timer, context) => {
    const report = await sweepActions(getDeps().services);
    context.log(
      `sweep: ${report.reviewed} reviewed, ${report.requeued} requeued, ${report.expired} expired, ` +
        `${report.passcodesPurged} passcodes and ${report.keysPurged} keys purged, ` +
        `${report.actionsPurged} actions and ${report.eventsPurged} events past retention removed, ` +
        `${report.subscriptionsRenewed} subscriptions renewed and ${report.subscriptionsPurged} expired removed`,
    );
  },
});
