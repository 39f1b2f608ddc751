import { app } from '@azure/functions';
import { SUPPORT_MATRIX } from '../lib/core/supportMatrix';
import { endpoint } from '../lib/http/endpoint';
import { json } from '../lib/http/responses';

app.http('getSupportMatrix', {
  methods: ['GET'],
  route: 'deviceManagement/resetPasscode/supportMatrix',
  authLevel: 'anonymous',
  handler: endpoint('Devices.Read', async () => json(200, SUPPORT_MATRIX)),
});
