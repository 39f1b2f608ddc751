import * as z from '../zod';
import { isNonGlobalIpHost } from './globalAddress';
import { LOOPBACK_HOSTS } from './loopback';
import type { DeviceAction } from './model';
import { IdSchema, normalizeDeviceId, textSchema } from './model';

/**
 * Change-notification subscriptions in the shape of Microsoft Graph's (https://learn.microsoft.com/graph/api/resources/subscription):
 * a receiver asks to be told when reset actions finish, for every device or for one.
 */

/** The longest a subscription may live before it must be renewed (PATCH). */
export const MAX_SUBSCRIPTION_HOURS = 72;

const ALL_DEVICES_RESOURCE = 'deviceManagement/deviceActionResults';
const DEVICE_RESOURCE = /^deviceManagement\/managedDevices\/([^/]+)\/deviceActionResults$/;

/** What a subscription watches: every device's actions, or one device's. */
export type Watched = { scope: 'all' } | { scope: 'device'; deviceId: string };

/** Parses a Graph-style resource path; undefined for anything else. */
export function watchedBy(resource: string): Watched | undefined {
  if (resource === ALL_DEVICES_RESOURCE) return { scope: 'all' };
  const deviceId = DEVICE_RESOURCE.exec(resource)?.[1];
  if (deviceId !== undefined && IdSchema.safeParse(deviceId).success) {
    return { scope: 'device', deviceId: normalizeDeviceId(deviceId) };
  }
  return undefined;
}

export const resourceOf = (watched: Watched): string =>
  watched.scope === 'all'
    ? ALL_DEVICES_RESOURCE
    : `deviceManagement/managedDevices/${watched.deviceId}/deviceActionResults`;

/**
 * A subscription as stored. `clientState` is the receiver's secret, and the notification URL may be one too (a
 * Logic Apps or Power Automate callback URL carries its `sig`): both are kept only sealed.
 */
export interface Subscription {
  id: string;
  ownerId: string;
  watched: Watched;
  sealedNotificationUrl: { keyId: string; value: string };
  changeType: 'updated';
  expirationDateTime: string;
  createdDateTime: string;
  sealedClientState?: { keyId: string; value: string };
  /** Whether the notification URL is a workflow's callback URL (the app renews those itself, up to a maximum age). */
  workflow: boolean;
  /** When the sweeper looks at it next: its expiry, or for a workflow's subscription that can still be renewed, an hour before. */
  dueDateTime: string;
  /** The first failed delivery since the last successful one; absent while deliveries succeed. */
  failingSinceDateTime?: string;
}

/** What limits a subscription's owner and the app's own renewals (settings). */
export interface SubscriptionLimits {
  /** Live subscriptions one owner may hold (MAX_SUBSCRIPTIONS_PER_OWNER). */
  maxPerOwner: number;
  /** Subscriptions one owner may create per hour (SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR). */
  creationsPerHour: number;
  /** How long after its creation the app still renews a workflow's subscription (WORKFLOW_SUBSCRIPTION_MAX_AGE_DAYS). */
  workflowMaxAgeDays: number;
}

/** Deliveries failing without a success for this long remove the subscription (any failure, DNS included). */
const FAILING_REMOVAL_HOURS = 24;

/** Whether a subscription has failed every delivery for FAILING_REMOVAL_HOURS at `now`. */
export const failedTooLong = (subscription: Subscription, now: Date): boolean =>
  subscription.failingSinceDateTime !== undefined &&
  now.getTime() - new Date(subscription.failingSinceDateTime).getTime() >= FAILING_REMOVAL_HOURS * 3_600_000;

/** The last moment the app may extend a workflow's subscription to. */
const workflowRenewalEnd = (subscription: Pick<Subscription, 'createdDateTime'>, limits: SubscriptionLimits) =>
  new Date(subscription.createdDateTime).getTime() + limits.workflowMaxAgeDays * 86_400_000;

/**
 * When the sweeper must look at a subscription: an hour before its expiry for a workflow's subscription that the app
 * may still extend, its expiry otherwise. The sweeper reads due entries only, so this is the whole of its work.
 */
export function dueTimeOf(
  subscription: Pick<Subscription, 'workflow' | 'expirationDateTime' | 'createdDateTime'>,
  limits: SubscriptionLimits,
): string {
  const expiry = new Date(subscription.expirationDateTime).getTime();
  const renewable = subscription.workflow && workflowRenewalEnd(subscription, limits) > expiry;
  return new Date(renewable ? expiry - WORKFLOW_RENEWAL_AHEAD_MS : expiry).toISOString();
}

/** POST body: Graph's subscription properties this API supports (each field is also documented in lib/http/schemas.ts). */
export const subscriptionFields = () => ({
  changeType: z.literal('updated'),
  notificationUrl: z.pipe(z.string().check(z.maxLength(2048)), z.url({ protocol: /^https?$/ })),
  resource: z.string().check(
    z.maxLength(512),
    z.refine((r) => watchedBy(r) !== undefined, {
      message: `must be ${ALL_DEVICES_RESOURCE} or deviceManagement/managedDevices/{deviceId}/deviceActionResults`,
    }),
  ),
  expirationDateTime: z.iso.datetime({ offset: true }),
  clientState: z.optional(textSchema(128)),
});
const SubscriptionInputSchema = z.lazy(() => z.strictObject(subscriptionFields()));
export type SubscriptionInput = z.infer<typeof SubscriptionInputSchema>;

/** Why an expiry is not acceptable at `now`, or undefined. */
export function expiryProblem(expiration: Date, now: Date): string | undefined {
  if (expiration <= now) return 'must be in the future';
  if (expiration.getTime() - now.getTime() > MAX_SUBSCRIPTION_HOURS * 3_600_000) {
    return `must be at most ${MAX_SUBSCRIPTION_HOURS} hours from now`;
  }
  return undefined;
}

/** Whether a watcher is told about `action`'s end: it existed when the action ended. */
export const wantsNotice = (watcher: { createdDateTime: string }, action: DeviceAction): boolean =>
  new Date(watcher.createdDateTime) <= new Date(action.lastUpdatedDateTime);

/** The resource path of one action, as a notification names it. */
export const actionResource = (action: Pick<DeviceAction, 'deviceId' | 'id'>) =>
  `deviceManagement/managedDevices/${action.deviceId}/deviceActionResults/${action.id}`;

/** The first retry of a notification comes within 10 s, then the wait doubles; after 4 hours it is given up. */
const DELIVERY_FIRST_RETRY_SECONDS = 10;
const DELIVERY_GIVE_UP_HOURS = 4;

/** Seconds before the next delivery attempt after `attempt` failed ones (1-based), or undefined to give up. */
export function nextDeliveryDelay(attempt: number, firstTriedAt: Date, now: Date): number | undefined {
  const delay = Math.min(3_600, DELIVERY_FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempt - 1));
  const giveUpAt = firstTriedAt.getTime() + DELIVERY_GIVE_UP_HOURS * 3_600_000;
  return now.getTime() + delay * 1000 > giveUpAt ? undefined : delay;
}

/**
 * Why a notification URL is not acceptable, or undefined: https only; plain http only to the loopback and only for a
 * developer (AZURE_FUNCTIONS_ENVIRONMENT=Development), as Graph requires https of its subscribers. Where the name
 * points (no private, loopback or link-local address in production) is checked when the app connects.
 */
export function notificationUrlProblem(url: string, options: { development: boolean }): string | undefined {
  if (!URL.canParse(url)) return 'must be an absolute URL';
  const parsed = new URL(url);
  if (parsed.username || parsed.password) return 'must not contain credentials';
  if (parsed.hash) return 'must not contain a fragment';
  if (!options.development && isNonGlobalIpHost(parsed.hostname)) return 'must not name a non-public address';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && options.development && LOOPBACK_HOSTS.has(parsed.hostname)) return undefined;
  return options.development ? 'must use https (http only to localhost)' : 'must use https';
}

// Callback URLs that Azure Logic Apps and Power Automate issue for a workflow's webhook trigger or HTTP Webhook action
// (listCallbackUrl()): https, on the workflow service's own hosts, and signed (`sig`).
const WORKFLOW_CALLBACK_HOSTS = [/\.logic\.azure\.com$/i, /\.environment\.api\.powerplatform\.com$/i];

/**
 * Whether a notification URL is a workflow's signed callback URL. Those endpoints cannot answer Graph's validation
 * handshake (any POST to them runs or resumes the workflow), but they need none: the URL is a capability issued by the
 * workflow service for exactly this purpose, and posting to it can do nothing but notify that workflow.
 */
export function isWorkflowCallbackUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return (
    parsed.protocol === 'https:' &&
    WORKFLOW_CALLBACK_HOSTS.some((host) => host.test(parsed.hostname)) &&
    parsed.searchParams.has('sig')
  );
}

/**
 * A workflow's subscription is renewed by the app, this long before it would expire. Power Automate never renews a
 * custom connector's webhook subscription (it only deletes it, through the Location of the 201, when the flow is
 * turned off or deleted), so a flow would otherwise go silent after 72 hours. Such a subscription ends with that
 * DELETE, or when its callback answers 404 or 410 (the workflow, or the waiting run, is gone).
 */
const WORKFLOW_RENEWAL_AHEAD_MS = 60 * 60_000;

/**
 * The expiry the app renews a workflow's subscription to at `now`: the longest allowed, but never past its maximum age
 * (the app cannot ask Entra ID whether the owner still may read devices). Undefined when it may not be extended.
 */
export function workflowRenewalExpiry(
  subscription: Subscription,
  now: Date,
  limits: SubscriptionLimits,
): string | undefined {
  const next = Math.min(now.getTime() + MAX_SUBSCRIPTION_HOURS * 3_600_000, workflowRenewalEnd(subscription, limits));
  return next > new Date(subscription.expirationDateTime).getTime() ? new Date(next).toISOString() : undefined;
}

/** What a receiver gets when an action it watches finishes (Graph's change notification collection). */
export interface NotificationBody {
  value: Array<{
    subscriptionId: string;
    subscriptionExpirationDateTime: string;
    clientState?: string;
    changeType: 'updated';
    resource: string;
    resourceData: Record<string, unknown>;
    tenantId?: string;
  }>;
}
