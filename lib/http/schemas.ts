import {
  ActionStateSchema,
  DeviceIdSchema,
  DeviceInputSchema,
  IdSchema,
  OperatingSystemSchema,
  textSchema,
} from '../core/model';
import { MAX_SUBSCRIPTION_HOURS, subscriptionFields } from '../core/subscription';
import * as z from '../zod';

// Schemas are built on first use (z.lazy), so a cold start builds only those its first request needs
// (docs/PERFORMANCE.md "Bundle and cold start").

/** Route parameters, query strings and headers of docs/API.md; the functions and the API documents share them. */
export const DeviceParamsSchema = z.lazy(() => z.strictObject({ deviceId: DeviceIdSchema }));
export const ActionParamsSchema = z.lazy(() => z.strictObject({ deviceId: DeviceIdSchema, actionId: IdSchema }));

const SkipTokenSchema = z.lazy(() =>
  z.string().check(z.maxLength(2048), z.regex(/^[A-Za-z0-9._-]+$/, 'must be the $skipToken of an @odata.nextLink')),
);
const TopSchema = z.lazy(() => z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50));

/** Graph's query options, checked in full by lib/core/graphQuery.ts once the list they belong to is known. */
const QueryOptionSchema = z.lazy(() => z.string().check(z.minLength(1), z.maxLength(1024)));

export const ListDevicesQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: z.optional(SkipTokenSchema),
    $filter: z.optional(QueryOptionSchema),
    $select: z.optional(QueryOptionSchema),
    $count: z.optional(z.enum(['true', 'false'])),
    operatingSystem: z.optional(OperatingSystemSchema),
  }),
);

/**
 * `includePasscode=false` shapes a response as for a caller without Passcode.Read: no passcode is decrypted and no
 * passcodeViewed event recorded. The admin console reads with it until an admin reveals a passcode (docs/API.md).
 */
const IncludePasscodeSchema = z.lazy(() =>
  z.pipe(
    z._default(z.enum(['true', 'false']), 'true'),
    z.transform((value) => value === 'true'),
  ),
);

export const ListActionsQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: z.optional(SkipTokenSchema),
    $filter: z.optional(QueryOptionSchema),
    $select: z.optional(QueryOptionSchema),
    actionState: z.optional(ActionStateSchema),
    includePasscode: IncludePasscodeSchema,
  }),
);

/** The query of a device overview or a status monitor: other parameters (the status link's `sig`) pass untouched. */
export const PasscodeQuerySchema = z.lazy(() => z.object({ includePasscode: IncludePasscodeSchema }));

export const ListAuditQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: z.optional(SkipTokenSchema),
    deviceId: z.optional(DeviceIdSchema),
    from: z.optional(z.iso.datetime({ offset: true })),
    to: z.optional(z.iso.datetime({ offset: true })),
  }),
);

/** POST …/androidManagement/sync: no body, or an empty object. */
export const SyncRequestSchema = z.object({ body: z.lazy(() => z.strictObject({})) });

/**
 * A Pub/Sub push (https://cloud.google.com/pubsub/docs/push): the message, its attributes and base64 data. Other
 * properties Pub/Sub adds (publishTime, deliveryAttempt, subscription…) are allowed: Google may add more.
 */
export const PubsubPushSchema = z.lazy(() =>
  z.object({
    message: z.object({
      attributes: z.optional(z.record(z.string(), z.string())),
      data: z.optional(z.base64()),
      messageId: z.optional(z.string()),
    }),
  }),
);

/** POST resetPasscode: an optional reason, nothing else. */
export const ResetPasscodeBodySchema = z.lazy(() => z.strictObject({ reason: z.optional(textSchema(500)) }));

/** Idempotency-Key: 1-255 printable ASCII characters. */
export const IdempotencyKeySchema = z.lazy(() =>
  z
    .string()
    .check(z.minLength(1), z.maxLength(255), z.regex(/^[\x20-\x7e]+$/, 'must be 1-255 printable ASCII characters')),
);

export const UnlockBodySchema = z.lazy(() =>
  z.strictObject({ passcode: z.string().check(z.minLength(1), z.maxLength(64)) }),
);

/**
 * Subscription ids are GUIDs (as Graph's are), compared without regard to case: any other value is a 400, not a 404.
 * The app writes them in lower case.
 */
export const SubscriptionParamsSchema = z.lazy(() =>
  z.strictObject({
    subscriptionId: z.pipe(
      z
        .string()
        .check(
          z.regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID'),
        ),
      z.transform((id) => id.toLowerCase()),
    ),
  }),
);

/**
 * POST subscriptions: Graph's subscription properties this API supports (lib/core/subscription.ts), with what each
 * means. `expirationDateTime` may be left out (an addition to Graph, for clients that cannot compute a date, such as
 * a Power Automate trigger): the subscription then lives the longest allowed.
 */
export const CreateSubscriptionBodySchema = z.lazy(() => {
  const subscription = subscriptionFields();
  return z.strictObject({
    changeType: subscription.changeType.check(
      z.meta({
        title: 'Change Type',
        description: 'Always `updated`: a notification is sent when an action reaches a terminal state.',
      }),
    ),
    notificationUrl: subscription.notificationUrl.check(
      z.meta({
        title: 'Notification URL',
        description:
          'Where notifications are POSTed: https (plain http only to localhost, and only on a developer machine). ' +
          'Before the subscription is created it must answer the validation request (see the description of the ' +
          'operation).',
      }),
    ),
    resource: subscription.resource.check(
      z.meta({
        title: 'Resource',
        description:
          'What to watch: `deviceManagement/deviceActionResults` for every device, or ' +
          '`deviceManagement/managedDevices/{deviceId}/deviceActionResults` for one device.',
      }),
    ),
    expirationDateTime: z.optional(subscription.expirationDateTime).check(
      z.meta({
        title: 'Expiration',
        description: `When the subscription ends: at most ${MAX_SUBSCRIPTION_HOURS} hours from now (renew it with PATCH). Default: ${MAX_SUBSCRIPTION_HOURS} hours from now.`,
      }),
    ),
    clientState: subscription.clientState.check(
      z.meta({
        title: 'Client State',
        description:
          'A secret of the receiver (up to 128 characters), sent back in every notification so that it can tell them ' +
          'from forged ones. Never shown by the service otherwise.',
      }),
    ),
  });
});

/** PATCH subscriptions/{id}: a new expiry, nothing else. */
export const RenewSubscriptionBodySchema = z.lazy(() =>
  z.strictObject({
    expirationDateTime: z.iso.datetime({ offset: true }).check(
      z.meta({
        title: 'Expiration',
        description: `The new end of the subscription: at most ${MAX_SUBSCRIPTION_HOURS} hours from now.`,
      }),
    ),
  }),
);

/** Query parameters as a plain object (repeated names keep the last value). */
export const queryObject = (query: URLSearchParams): Record<string, string> => Object.fromEntries(query.entries());

/**
 * Whole requests as parseRequest (./parse.ts) checks them, each part under its name: `params`, `query`, `headers`
 * (lower-case names), `body`. One 400 then names every bad field of every part.
 */
export const ActionRequestSchema = z.object({ params: ActionParamsSchema });
export const DeviceOverviewRequestSchema = z.object({ params: DeviceParamsSchema, query: PasscodeQuerySchema });
export const StatusMonitorRequestSchema = z.object({ params: ActionParamsSchema, query: PasscodeQuerySchema });
/** `If-Match`: the ETag of the device as read (GET, or a PUT's answer), or `*` (any existing version). */
export const IfMatchSchema = z.lazy(() =>
  z.string().check(z.minLength(1), z.maxLength(512), z.regex(/^[\x20-\x7e]+$/, 'must be an ETag or *')),
);
export const PutDeviceRequestSchema = z.object({
  params: DeviceParamsSchema,
  headers: z.object({ 'if-match': z.optional(IfMatchSchema) }),
  body: DeviceInputSchema,
});
export const ListDevicesRequestSchema = z.object({ query: ListDevicesQuerySchema });
export const ListDeviceActionsRequestSchema = z.object({ params: DeviceParamsSchema, query: ListActionsQuerySchema });
export const ListAllActionsRequestSchema = z.object({ query: ListActionsQuerySchema });
export const ListAuditRequestSchema = z.object({ query: ListAuditQuerySchema });
export const ResetPasscodeRequestSchema = z.object({
  params: DeviceParamsSchema,
  headers: z.object({ 'idempotency-key': z.optional(IdempotencyKeySchema) }),
  body: ResetPasscodeBodySchema,
});
export const UnlockRequestSchema = z.object({ params: DeviceParamsSchema, body: UnlockBodySchema });
export const CreateSubscriptionRequestSchema = z.object({ body: CreateSubscriptionBodySchema });
/** GET subscriptions: the caller's own; with `all=true`, everyone's a page at a time (Subscriptions.Manage). */
export const ListSubscriptionsRequestSchema = z.object({
  query: z.strictObject({
    all: z.optional(z.enum(['true', 'false'])),
    $top: TopSchema,
    $skipToken: z.optional(SkipTokenSchema),
  }),
});
export const SubscriptionRequestSchema = z.object({ params: SubscriptionParamsSchema });
export const RenewSubscriptionRequestSchema = z.object({
  params: SubscriptionParamsSchema,
  body: RenewSubscriptionBodySchema,
});
