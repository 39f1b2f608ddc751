import { isTerminal } from '../core/actionLifecycle';
import { apiError, invalidFields, PreconditionFailedError, TransientError } from '../core/errors';
import type { DeviceAction } from '../core/model';
import {
  actionResource,
  dueTimeOf,
  expiryProblem,
  failedTooLong,
  isWorkflowCallbackUrl,
  type NotificationBody,
  nextDeliveryDelay,
  notificationUrlProblem,
  resourceOf,
  type Subscription,
  type SubscriptionInput,
  wantsNotice,
  watchedBy,
  workflowRenewalExpiry,
} from '../core/subscription';
import type { AuditEventType, NotificationMessage, SubscriptionDue, Versioned, WatcherCursor } from '../ports';
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

/** Watchers one fan-out message handles; the rest go on in a message of their own (docs/architecture.md). */
export const FAN_OUT_BATCH = 100;
/** Delivery records one removal step deletes; a removal with more is finished by the sweeper. */
const REMOVAL_BUDGET = 500;
/** Delivery records past the action retention pruned at each renewal. */
const PRUNE_BUDGET = 200;

const subscriptionNotFound = (id: string) => apiError('subscriptionNotFound', { subscriptionId: id });

/** A 400 naming the one bad field of a subscription. */
const invalidField = (target: string, message: string) => invalidFields([{ code: 'invalidValue', message, target }]);

/** Graph's ids are GUIDs: 16 random bytes, written as one. */
function newSubscriptionId(services: Services): string {
  const hex = services.randomHex(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Why a subscription's row had to go although nobody asked (audit `reason` and log). */
type RemovalReason = 'expired' | 'deliveryFailing' | 'receiverGone' | 'keyRetired' | 'maximumAge';

/** Subscription events name the watched device; an all-devices subscription names `_all`. */
const ALL_DEVICES_AUDIT_ID = '_all';

/** Records a subscription event; never fails its caller (the change itself is what counts). */
function audit(
  services: Services,
  eventType: AuditEventType,
  s: Pick<Subscription, 'id' | 'watched'>,
  who: { id: string; name: string },
  reason?: string,
) {
  return bestEffort(services, 'recording a subscription event', () =>
    services.audit.record({
      id: services.randomHex(16),
      eventDateTime: services.clock.now().toISOString(),
      eventType,
      callerId: who.id,
      callerName: who.name,
      deviceId: s.watched.scope === 'all' ? ALL_DEVICES_AUDIT_ID : s.watched.deviceId,
      actionId: s.id,
      ...(reason !== undefined && { reason }),
      outcome: 'success',
    }),
  );
}

/** The app itself, as an audit event names it when it renews or removes a subscription. */
const APP = { id: 'app', name: 'Reset passcode app' };

/**
 * Removes a subscription for a reason of the app's own (expiry, failing deliveries, a retired key): logged and audited
 * with the reason, never thrown at a caller.
 */
async function removeForReason(services: Services, s: Subscription, reason: RemovalReason) {
  const removed = await services.subscriptions.remove(s.id, services.clock.now(), REMOVAL_BUDGET);
  if (!removed) return;
  if (reason !== 'expired') services.log.warn('a subscription was removed', { subscriptionId: s.id, reason });
  await audit(services, 'subscriptionRemoved', s, APP, reason);
}

/** Opens a subscription's secrets; undefined (after removing it) when they were sealed with a key no longer held. */
async function openOrRemove(services: Services, s: Subscription) {
  try {
    const notificationUrl = openNotificationUrl(services, s);
    const clientState = s.sealedClientState && services.cipher.open(s.sealedClientState, clientStateAad(s.id));
    return { notificationUrl, clientState };
  } catch {
    // A key was retired before the sweeper re-sealed this row (docs/deploy.md): nobody can use it any more.
    await removeForReason(services, s, 'keyRetired');
    return undefined;
  }
}

/** The subscription sealed again with the current key (renewals: so that an old key can be retired). */
function resealed(services: Services, s: Subscription, opened: { notificationUrl: string; clientState?: string }) {
  const { sealedClientState: _old, ...rest } = s;
  return {
    ...rest,
    sealedNotificationUrl: services.cipher.seal(opened.notificationUrl, notificationUrlAad(s.id)),
    ...(opened.clientState !== undefined && {
      sealedClientState: services.cipher.seal(opened.clientState, clientStateAad(s.id)),
    }),
  };
}

/**
 * Creates a subscription after Graph's validation handshake: the app POSTs to the notification URL with a
 * `validationToken` query parameter and the receiver must answer 200 with the token as text/plain within 10 seconds,
 * else 400 subscriptionValidationFailed and nothing is stored. An owner holds at most MAX_SUBSCRIPTIONS_PER_OWNER live
 * ones and creates at most SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR: past either, 429 with Retry-After.
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
  const workflow = isWorkflowCallbackUrl(input.notificationUrl);
  const validated = workflow || (await services.notifier.validate(input.notificationUrl, services.randomHex(16)));
  if (!validated) {
    throw apiError('subscriptionValidationFailed');
  }
  const id = newSubscriptionId(services);
  const limits = services.settings.subscriptions;
  const timing = { workflow, expirationDateTime: expiration.toISOString(), createdDateTime: now.toISOString() };
  const subscription: Subscription = {
    id,
    ownerId: caller.id,
    watched,
    sealedNotificationUrl: services.cipher.seal(input.notificationUrl, notificationUrlAad(id)),
    changeType: 'updated',
    ...timing,
    dueDateTime: dueTimeOf(timing, limits),
    ...(input.clientState !== undefined && {
      sealedClientState: services.cipher.seal(input.clientState, clientStateAad(id)),
    }),
  };
  const outcome = await services.subscriptions.create(subscription, limits, now);
  if (!outcome.created) {
    const headers = { 'Retry-After': String(outcome.retryAfterSeconds) };
    if (outcome.limit === 'maxPerOwner') {
      throw apiError('tooManySubscriptions', { limit: String(limits.maxPerOwner) }, { headers });
    }
    throw apiError('subscriptionCreationRateExceeded', { limit: String(limits.creationsPerHour) }, { headers });
  }
  await audit(services, 'subscriptionCreated', subscription, caller);
  return toView(services, subscription);
}

/**
 * A subscription the caller may see: its own, or any for an administrator (Subscriptions.Manage). Another caller's is
 * as unknown as a missing one.
 */
async function loadVisible(services: Services, caller: Caller, id: string, options: { ownOnly?: boolean } = {}) {
  const found = await services.subscriptions.get(id);
  const mayAdminister = !options.ownOnly && caller.roles.has('Subscriptions.Manage');
  if (!found || (found.value.ownerId !== caller.id && !mayAdminister)) throw subscriptionNotFound(id);
  if (!(await openOrRemove(services, found.value))) throw subscriptionNotFound(id);
  return found;
}

export async function getSubscription(services: Services, caller: Caller, id: string) {
  return toView(services, (await loadVisible(services, caller, id)).value);
}

/** The caller's own live subscriptions. */
export async function listSubscriptions(services: Services, caller: Caller) {
  const now = services.clock.now();
  const own = await services.subscriptions.listByOwner(caller.id);
  return viewsOf(
    services,
    own.filter((s) => new Date(s.expirationDateTime) > now),
  );
}

/** Every live subscription, a page at a time, for an administrator (Subscriptions.Manage; 403 otherwise). */
export async function listAllSubscriptions(services: Services, caller: Caller, query: { top: number; after?: string }) {
  if (!caller.roles.has('Subscriptions.Manage')) {
    throw apiError('forbidden', { reason: 'Listing every subscription needs the role Subscriptions.Manage.' });
  }
  const now = services.clock.now();
  const page = await services.subscriptions.listAll(query);
  const last = page.items[page.items.length - 1]?.id;
  const value = await viewsOf(
    services,
    page.items.filter((s) => new Date(s.expirationDateTime) > now),
  );
  return { value, ...(page.more && last !== undefined && { after: last }) };
}

/** Views of subscriptions; one sealed with a retired key is removed and left out. */
async function viewsOf(services: Services, subscriptions: Subscription[]) {
  const views: SubscriptionView[] = [];
  for (const s of subscriptions) if (await openOrRemove(services, s)) views.push(toView(services, s));
  return views;
}

/**
 * Renews a subscription: a new expiry, at most 72 hours from now. Only its owner may (the route has checked the
 * owner still holds Devices.Read); its secrets are sealed again with the current key, and delivery records past the
 * action retention are pruned.
 */
export async function renewSubscription(services: Services, caller: Caller, id: string, expirationDateTime: string) {
  const now = services.clock.now();
  const expiration = new Date(expirationDateTime);
  const problem = expiryProblem(expiration, now);
  if (problem) throw invalidField('expirationDateTime', problem);
  const found = await loadVisible(services, caller, id, { ownOnly: true });
  const opened = await openOrRemove(services, found.value);
  if (!opened) throw subscriptionNotFound(id);
  const timing = { ...found.value, expirationDateTime: expiration.toISOString() };
  const next: Subscription = {
    ...resealed(services, found.value, opened),
    expirationDateTime: timing.expirationDateTime,
    dueDateTime: dueTimeOf(timing, services.settings.subscriptions),
  };
  try {
    await services.subscriptions.update(next, found);
  } catch (error) {
    if (error instanceof PreconditionFailedError) throw new TransientError('The subscription changed; retry.', 1);
    throw error;
  }
  await pruneDeliveries(services, next.id, now);
  await audit(services, 'subscriptionRenewed', next, caller);
  return toView(services, next);
}

/** Drops delivery records of actions past the retention (the actions themselves are gone by then). */
const pruneDeliveries = (services: Services, subscriptionId: string, now: Date) =>
  bestEffort(services, 'pruning delivery records', () =>
    services.subscriptions.pruneDeliveries(
      subscriptionId,
      new Date(now.getTime() - services.settings.retentionDays * 86_400_000),
      PRUNE_BUDGET,
    ),
  );

/**
 * Deletes a subscription: the owner's, or any for an administrator (Subscriptions.Manage). Its records go in bounded
 * steps (the sweeper finishes what a fault leaves); a concurrent delete makes this one a 404.
 */
export async function deleteSubscription(services: Services, caller: Caller, id: string): Promise<void> {
  const found = await services.subscriptions.get(id);
  const mayAdminister = caller.roles.has('Subscriptions.Manage');
  if (!found || (found.value.ownerId !== caller.id && !mayAdminister)) throw subscriptionNotFound(id);
  const removed = await services.subscriptions.remove(id, services.clock.now(), REMOVAL_BUDGET);
  if (!removed) throw subscriptionNotFound(id);
  await audit(
    services,
    'subscriptionDeleted',
    found.value,
    caller,
    found.value.ownerId === caller.id ? undefined : `deleted by an administrator; owner ${found.value.ownerId}`,
  );
}

/**
 * Tells the notification queue that an action finished. Never fails its caller (a reset's outcome must not depend on
 * its notifications): the sweeper announces again every action that finished within the hour at its reviews, and each
 * subscription gets one notice per action whatever the number of announcements (the delivery claim).
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
 * Finds who watches a finished action, one bounded batch a message, and queues one delivery message per watcher.
 * Who watches is asked first (key reads of the watch index): most devices have no watcher, and then the action is not
 * read at all. The next batch goes on in a message of its own, enqueued after this batch's deliveries: a fault repeats
 * at most this batch, whose repeats the delivery claim drops.
 */
async function fanOut(services: Services, message: Extract<NotificationMessage, { kind: 'finished' }>) {
  let cursor: WatcherCursor | undefined = message.cursor ?? { scope: 'device' };
  let budget = FAN_OUT_BATCH;
  let action: DeviceAction | undefined;
  let queued = 0;
  // The device's own watchers, then those of every device, until a batch is full.
  while (cursor && budget > 0) {
    const page = await services.subscriptions.listWatchers(message.deviceId, cursor, budget);
    cursor = page.next;
    budget -= page.watchers.length;
    if (page.watchers.length === 0) continue;
    if (!action) {
      const found = await services.actions.get(message.deviceId, message.actionId);
      if (!found || !isTerminal(found.value.actionState)) return 'nothingToTell' as const;
      action = found.value;
    }
    const finished = action;
    const now = services.clock.now();
    const told = page.watchers.filter((w) => wantsNotice(w, finished));
    await Promise.all(
      told.map((watcher) =>
        services.notifications.enqueue({
          v: 1,
          kind: 'deliver',
          subscriptionId: watcher.subscriptionId,
          deviceId: message.deviceId,
          actionId: message.actionId,
          attempt: 0,
          firstTriedAt: now.toISOString(),
          claim: services.randomHex(8),
        }),
      ),
    );
    queued += told.length;
  }
  if (cursor) await services.notifications.enqueue({ ...message, cursor });
  return queued > 0 ? ('queued' as const) : ('nobodyWatches' as const);
}

/**
 * POSTs one notice to one subscription. Its first attempt claims the notice (subscription, action) for this message: a
 * second message for the same notice (an announcement repeated, a fan-out batch run again) finds the claim and stops.
 * A 2xx ends it; 410 Gone (or 404 from a workflow) removes the subscription; anything else (or no answer) is retried
 * with a doubling wait from 10 seconds, for up to 4 hours, and a subscription whose deliveries have failed for 24 hours
 * is removed.
 */
async function deliver(services: Services, message: Extract<NotificationMessage, { kind: 'deliver' }>) {
  const [subscription, action] = await Promise.all([
    services.subscriptions.get(message.subscriptionId),
    services.actions.get(message.deviceId, message.actionId),
  ]);
  const now = services.clock.now();
  if (!subscription || !action) return 'gone' as const;
  if (new Date(subscription.value.expirationDateTime) <= now) return 'expired' as const;
  const opened = await openOrRemove(services, subscription.value);
  if (!opened) return 'subscriptionRemoved' as const;
  if (message.attempt === 0 && message.claim !== undefined) {
    const ours = await services.subscriptions.claimDelivery(message.subscriptionId, message.actionId, message.claim);
    if (!ours) return 'alreadyClaimed' as const;
  }
  const { notificationUrl } = opened;
  const status = await services.notifier
    .post(notificationUrl, JSON.stringify(noticeOf(services, subscription.value, opened.clientState, action.value)))
    .catch((error: unknown) => {
      if (error instanceof TransientError) return 0;
      throw error;
    });
  if (status >= 200 && status < 300) {
    if (subscription.value.failingSinceDateTime !== undefined) {
      const { failingSinceDateTime: _cleared, ...healthy } = subscription.value;
      await markHealth(services, healthy, subscription);
    }
    return 'delivered' as const;
  }
  const workflowGone = status === 404 && isWorkflowCallbackUrl(notificationUrl);
  if (status === 410 || workflowGone) {
    await removeForReason(services, subscription.value, 'receiverGone');
    return 'subscriptionRemoved' as const;
  }
  if (failedTooLong(subscription.value, now)) {
    await removeForReason(services, subscription.value, 'deliveryFailing');
    return 'subscriptionRemoved' as const;
  }
  if (subscription.value.failingSinceDateTime === undefined) {
    await markHealth(services, { ...subscription.value, failingSinceDateTime: now.toISOString() }, subscription);
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

/** Records when deliveries started failing (or that they work again); a concurrent change wins, harmlessly. */
const markHealth = (services: Services, next: Subscription, current: Versioned<Subscription>) =>
  bestEffort(services, 'recording a subscription delivery state', async () => {
    await services.subscriptions.update(next, current).catch((error: unknown) => {
      if (!(error instanceof PreconditionFailedError)) throw error;
    });
  });

/** Graph's change notification for one finished action: its result, never its passcode. */
function noticeOf(
  services: Services,
  subscription: Subscription,
  clientState: string | undefined,
  action: DeviceAction,
): NotificationBody {
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
 * The sweeper's part: the subscriptions' worklist entries that are due, earliest first, at most `limit` a run (what a
 * run leaves is due for the next one, so nothing is starved by entries that are not due). A workflow's subscription
 * is renewed (sealed again with the current key) until its maximum age; any other ends at its expiry; a subscription
 * failing for 24 hours ends; removals a fault or their budget left are finished.
 */
export async function maintainSubscriptions(services: Services, limit: number) {
  const now = services.clock.now();
  const report = { renewed: 0, purged: 0 };
  for (const due of await services.subscriptions.listDue(now, limit)) {
    try {
      const outcome = await visit(services, due, now);
      if (outcome === 'renewed') report.renewed++;
      if (outcome === 'removed') report.purged++;
    } catch (error) {
      // The entry stays due: the next run tries again.
      if (!(error instanceof PreconditionFailedError)) {
        services.log.warn('maintaining a subscription failed', {
          subscriptionId: due.subscriptionId,
          errorName: error instanceof Error ? error.name : typeof error,
        });
      }
    }
  }
  return report;
}

async function visit(services: Services, due: SubscriptionDue, now: Date) {
  if (due.removal) {
    await services.subscriptions.finishRemoval(due, REMOVAL_BUDGET);
    return 'finished' as const;
  }
  const found = await services.subscriptions.get(due.subscriptionId);
  if (!found) {
    // A creation that died before its row, or a removal whose entry outlived it: the index rows go.
    await services.subscriptions.finishRemoval(due, REMOVAL_BUDGET);
    return 'finished' as const;
  }
  const s = found.value;
  if (s.dueDateTime !== due.dueDateTime) {
    await services.subscriptions.dropDue(due);
    return 'stale' as const;
  }
  const opened = await openOrRemove(services, s);
  if (!opened) return 'removed' as const;
  if (failedTooLong(s, now)) {
    await removeForReason(services, s, 'deliveryFailing');
    return 'removed' as const;
  }
  const limits = services.settings.subscriptions;
  const renewedTo = s.workflow ? workflowRenewalExpiry(s, now, limits) : undefined;
  if (renewedTo !== undefined) {
    const timing = { ...s, expirationDateTime: renewedTo };
    const next = {
      ...resealed(services, s, opened),
      expirationDateTime: renewedTo,
      dueDateTime: dueTimeOf(timing, limits),
    };
    await services.subscriptions.update(next, found);
    await pruneDeliveries(services, s.id, now);
    await audit(services, 'subscriptionRenewed', next, APP);
    return 'renewed' as const;
  }
  if (new Date(s.expirationDateTime) <= now) {
    const aged = s.workflow ? 'maximumAge' : 'expired';
    await removeForReason(services, s, aged);
    return 'removed' as const;
  }
  // A workflow's subscription at its maximum age: it now ends at its expiry.
  await services.subscriptions.update({ ...s, dueDateTime: s.expirationDateTime }, found);
  return 'postponed' as const;
}
