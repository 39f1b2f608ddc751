import { app } from '@azure/functions';
import { apiError } from '../lib/core/errors';
import { anonymousEndpoint } from '../lib/http/endpoint';
import { parseRequest } from '../lib/http/parse';
import { PUSH_ROUTES, routeOptions } from '../lib/http/routes';
import { PubsubPushSchema } from '../lib/http/schemas';
import { recordPushedCommand } from '../lib/useCases/commandNotifications';
import * as z from '../lib/zod';

const route = PUSH_ROUTES.androidManagementNotifications;
const PushRequestSchema = z.object({ body: PubsubPushSchema });

// Pub/Sub push of the enterprise's notifications (docs/android-management.md). The OIDC token is checked before the
// body is read; a COMMAND notification finishes its action at once (the scheduled checks stay the fallback). 204
// acknowledges, also a notification that changes nothing (another type, an unknown operation): Pub/Sub redelivers
// anything else, so only a storage failure (503) asks for a redelivery.
export const androidManagementNotifications = anonymousEndpoint(route, async ({ request, deps }) => {
  const { verifyPush, pushedOperation } = deps;
  if (!verifyPush || !pushedOperation) {
    throw apiError('notFound', {
      reason: 'Pub/Sub push is not configured: set ANDROID_MANAGEMENT_PUSH_AUDIENCE and …_PUSH_SERVICE_ACCOUNT.',
    });
  }
  await verifyPush(request.headers.get('authorization'));
  const { body } = await parseRequest(request, PushRequestSchema);
  const { attributes, data } = body.message;
  if (attributes?.notificationType !== 'COMMAND' || data === undefined) return { status: 204 };
  const pushed = await pushedOperation(parseJson(Buffer.from(data, 'base64').toString('utf8')));
  if (!pushed) return { status: 204 };
  const outcome = await recordPushedCommand(deps.services, pushed);
  deps.services.log.info('command notification', { deviceId: pushed.deviceId, outcome });
  return { status: 204 };
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

app.http(route.name, { ...routeOptions(route), handler: androidManagementNotifications });
