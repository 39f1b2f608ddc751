import { isTerminal } from '../core/actionLifecycle';
import { apiError, invalidFields, PreconditionFailedError, TransientError } from '../core/errors';
import type { DeviceAction } from '../core/model';
import {
  actionResource,
  expiryProblem,
  isWorkflowCallbackUrl,
  type NotificationBody,
  nextDeliveryDelay,
  notificationUrlProblem,
  renewedForWorkflow,
  resourceOf,
  type Subscription,
  type SubscriptionInput,
  WORKFLOW_RENEWAL_AHEAD_MS,
  wantsNotice,
  watchedBy,
} from '../core/subscription';
import type { NotificationMessage } from '../ports';
import type { Caller } from '../security/caller';
import { bestEffort, type Services } from './services';
import { toActionView } from './views';

/** A subscription as callers see it; the receiver's clientState is write-only (it comes back in notifications). */
export interface SubscriptionView {
  id: string;
  resource: string;
  changeType: 'updated';
  notificationUrl: string;
  expirationDateTime: string;
  createdDateTime: string;
  creatorId: string;
}

const toView = (services: Services, s: Subscription): SubscriptionView => ({
  id: s.id,
  resource: resourceOf(s.watched),
  changeType: s.changeType,
  notificationUrl: openNotificationUrl(services, s),
  expirationDateTime: s.expirationDateTime,
  createdDateTime: s.createdDateTime,
  creatorId: s.ownerId,
});

const clientStateAad = (subscriptionId: string) => `subscription/${subscriptionId}/clientState`;
const notificationUrlAad = (subscriptionId: string) => `subscription/${subscriptionId}/notificationUrl`;
const openNotificationUrl = (services: Services, s: Subscription) =>
  services.cipher.open(s.sealedNotificationUrl, notificationUrlAad(s.id));
/** A delivery recorded longer ago than this and not finished is sent again by a repeated fan-out. */
const DELIVERY_STALE_MS = 10 * 60_000;

const subscriptionNotFound = (id: string) => apiError('subscriptionNotFound', { subscriptionId: id });

/** A 400 naming the one bad field of a subscription. */
const invalidField = (target: string, message: string) => invalidFields([{ code: 'invalidValue', message, target }]);

/** Graph's ids are GUIDs: 16 random bytes, written as one. */
function newSubscriptionId(services: Services): string {
  const hex = services.randomHex(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Creates a subscription after Graph's validation handshake: the app POSTs to the notification URL with a
 * `validationToken` query parameter and the receiver must answer 200 with the token as text/plain within 10 seconds,
 * else 400 subscriptionValidationFailed and nothing is stored.
 */
export async function createSubscription(
  services: Services,
  caller: Caller,
  input: SubscriptionInput,
): Promise<SubscriptionView> {
  const now = services.clock.now();
  const watched = watchedBy(input.resource);
  if (!watched) throw invalidField('resource', 'is not one that can be watched');
  const urlProblem = notificationUrlProblem(input.notificationUrl, { development: services.settings.development });
  if (urlProblem) throw invalidField('notificationUrl', urlProblem);
  const expiration = new Date(input.expirationDateTime);
  const expiry = expiryProblem(expiration, now);
  if (expiry) throw invalidField('expirationDateTime', expiry);
  if (watched.scope === 'device' && !(await services.devices.get(watched.deviceId))) {
    throw apiError('deviceNotFound', { deviceId: watched.deviceId }, { target: 'resource' });
  }
  const validated =
    isWorkflowCallbackUrl(input.notificationUrl) ||
    (await services.notifier.validate(input.notificationUrl, services.randomHex(16)));
  if (!validated) {
    throw apiError('subscriptionValidationFailed');
  }
  const id = newSubscriptionId(services);
  const subscription: Subscription = {
    id,
    ownerId: caller.id,
    watched,
    sealedNotificationUrl: services.cipher.seal(input.notificationUrl, notificationUrlAad(id)),
    changeType: 'updated',
    expirationDateTime: expiration.toISOString(),
    createdDateTime: now.toISOString(),
    ...(input.clientState !== undefined && {
      sealedClientState: services.cipher.seal(input.clientState, clientStateAad(id)),
    }),
  };
  await services.subscriptions.create(subscription);
  return toView(services, subscription);
}

/** One of the caller's subscriptions; another caller's is as unknown as a missing one. */
async function loadOwn(services: Services, caller: Caller, id: string) {
  const found = await services.subscriptions.get(id);
  if (!found || found.value.ownerId !== caller.id) throw subscriptionNotFound(id);
  return found;
}

export async function getSubscription(services: Services, caller: Caller, id: string) {
  return toView(services, (await loadOwn(services, caller, id)).value);
}

export async function listSubscriptions(services: Services, caller: Caller) {
  const now = services.clock.now();
  const own = await services.subscriptions.listByOwner(caller.id);
  return own.filter((s) => new Date(s.expirationDateTime) > now).map((s) => toView(services, s));
}

/** Renews a subscription: a new expiry, at most 72 hours from now. */
export async function renewSubscription(services: Services, caller: Caller, id: string, expirationDateTime: string) {
  const now = services.clock.now();
  const expiration = new Date(expirationDateTime);
  const problem = expiryProblem(expiration, now);
  if (problem) throw invalidField('expirationDateTime', problem);
  const found = await loadOwn(services, caller, id);
  const next = { ...found.value, expirationDateTime: expiration.toISOString() };
  try {
    await services.subscriptions.update(next, found);
  } catch (error) {
    if (error instanceof PreconditionFailedError) throw new TransientError('The subscription changed; retry.', 1);
    throw error;
  }
  return toView(services, next);
}

export async function deleteSubscription(services: Services, caller: Caller, id: string): Promise<void> {
  await loadOwn(services, caller, id);
  await services.subscriptions.remove(id);
}

/**
 * Tells the notification queue that an action finished. Never fails its caller (a reset's outcome must not depend on
 * its notifications): the sweeper announces again every action that finished recently, and the fan-out sends each
 * subscription one notice per action whatever the number of announcements.
 */
export const announceFinished = (services: Services, action: Pick<DeviceAction, 'deviceId' | 'id'>) =>
  bestEffort(services, 'announcing a finished action', () =>
    services.notifications.enqueue({ v: 1, kind: 'finished', deviceId: action.deviceId, actionId: action.id }),
  );

/** Runs one message of the notification queue. */
export function handleNotificationMessage(services: Services, message: NotificationMessage) {
  return message.kind === 'finished' ? fanOut(services, message) : deliver(services, message);
}

/**
 * Finds who watches a finished action and queues one delivery per subscription (each once). Who watches is asked
 * first: most devices have no watcher, and then the action is not read at all.
 */
async function fanOut(services: Services, message: Extract<NotificationMessage, { kind: 'finished' }>) {
  const subscriptions = await services.subscriptions.listWatching(message.deviceId);
  if (subscriptions.length === 0) return 'nobodyWatches' as const;
  const found = await services.actions.get(message.deviceId, message.actionId);
  if (!found || !isTerminal(found.value.actionState)) return 'nothingToTell' as const;
  const now = services.clock.now();
  const watching = subscriptions.filter((s) => wantsNotice(s, found.value, now));
  let queued = 0;
  for (const subscription of watching) {
    if (!(await services.subscriptions.claimDelivery(subscription.id, message.actionId, now, DELIVERY_STALE_MS)))
      continue;
    await services.notifications.enqueue({
      v: 1,
      kind: 'deliver',
      subscriptionId: subscription.id,
      deviceId: message.deviceId,
      actionId: message.actionId,
      attempt: 0,
      firstTriedAt: now.toISOString(),
    });
    queued++;
  }
  return queued > 0 ? ('queued' as const) : ('nobodyWatches' as const);
}

/**
 * POSTs one notice to one subscription: a 2xx ends it, 410 Gone deletes the subscription, anything else (or no
 * answer) is retried with a doubling wait from 10 seconds, for up to 4 hours. Each notice is its own queue message, so
 * a slow receiver delays nobody else.
 */
async function deliver(services: Services, message: Extract<NotificationMessage, { kind: 'deliver' }>) {
  const [subscription, action] = await Promise.all([
    services.subscriptions.get(message.subscriptionId),
    services.actions.get(message.deviceId, message.actionId),
  ]);
  const now = services.clock.now();
  if (!subscription || !action) return 'gone' as const;
  if (new Date(subscription.value.expirationDateTime) <= now) return 'expired' as const;
  const notificationUrl = openNotificationUrl(services, subscription.value);
  const status = await services.notifier
    .post(notificationUrl, JSON.stringify(noticeOf(services, subscription.value, action.value)))
    .catch((error: unknown) => {
      if (error instanceof TransientError) return 0;
      throw error;
    });
  if (status >= 200 && status < 300) return 'delivered' as const;
  const workflowGone = status === 404 && isWorkflowCallbackUrl(notificationUrl);
  if (status === 410 || workflowGone) {
    await services.subscriptions.remove(subscription.value.id);
    return 'subscriptionRemoved' as const;
  }
  const attempt = message.attempt + 1;
  const delay = nextDeliveryDelay(attempt, new Date(message.firstTriedAt), now);
  if (delay === undefined) {
    services.log.warn('a notification was given up after 4 hours of retries', {
      subscriptionId: subscription.value.id,
      actionId: message.actionId,
    });
    return 'givenUp' as const;
  }
  await services.notifications.enqueue({ ...message, attempt }, { delaySeconds: delay });
  return 'retrying' as const;
}

/** Graph's change notification for one finished action: its result, never its passcode. */
function noticeOf(services: Services, subscription: Subscription, action: DeviceAction): NotificationBody {
  const clientState =
    subscription.sealedClientState &&
    services.cipher.open(subscription.sealedClientState, clientStateAad(subscription.id));
  return {
    value: [
      {
        subscriptionId: subscription.id,
        subscriptionExpirationDateTime: subscription.expirationDateTime,
        ...(clientState !== undefined && { clientState }),
        changeType: 'updated',
        resource: actionResource(action),
        resourceData: { ...toActionView(action, { showPasscode: false, services }) },
      },
    ],
  };
}

/**
 * Renews the workflows' subscriptions that expire within the hour (WORKFLOW_RENEWAL_AHEAD_MS) and removes the other
 * expired ones (with their delivery records), at most `limit` a run. A renewal that races a PATCH loses harmlessly.
 */
export async function maintainSubscriptions(services: Services, limit: number) {
  const now = services.clock.now();
  const soon = new Date(now.getTime() + WORKFLOW_RENEWAL_AHEAD_MS);
  const report = { renewed: 0, purged: 0 };
  for (const found of await services.subscriptions.listExpired(soon, limit)) {
    const subscription = found.value;
    if (isWorkflowCallbackUrl(openNotificationUrl(services, subscription))) {
      const renewed = await services.subscriptions
        .update(renewedForWorkflow(subscription, now), found)
        .then(() => true)
        .catch((error: unknown) => {
          if (error instanceof PreconditionFailedError) return false;
          throw error;
        });
      if (renewed) report.renewed++;
    } else if (new Date(subscription.expirationDateTime) <= now) {
      await services.subscriptions.remove(subscription.id);
      report.purged++;
    }
  }
  return report;
}
