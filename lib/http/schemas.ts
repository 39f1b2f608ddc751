import * as z from 'zod';
import { ActionStateSchema, DeviceInputSchema, IdSchema, OperatingSystemSchema, textSchema } from '../core/model';
import { MAX_SUBSCRIPTION_HOURS, SubscriptionInputSchema, SubscriptionRenewalSchema } from '../core/subscription';

/** Route parameters, query strings and headers of docs/API.md; the functions and the API documents share them. */
export const DeviceParamsSchema = z.lazy(() => z.strictObject({ deviceId: IdSchema }));
export const ActionParamsSchema = z.lazy(() => z.strictObject({ deviceId: IdSchema, actionId: IdSchema }));

const SkipTokenSchema = z.lazy(() =>
  z
    .string()
    .max(2048)
    .regex(/^[A-Za-z0-9._-]+$/, 'must be the $skipToken of an @odata.nextLink'),
);
const TopSchema = z.lazy(() => z.coerce.number().int().min(1).max(100).default(50));

export const ListDevicesQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: SkipTokenSchema.optional(),
    operatingSystem: OperatingSystemSchema.optional(),
  }),
);

/**
 * `includePasscode=false` shapes a response as for a caller without Passcode.Read: no passcode is decrypted and no
 * passcodeViewed event recorded. The admin console reads with it until an admin reveals a passcode (docs/API.md).
 */
const IncludePasscodeSchema = z.lazy(() =>
  z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
);

export const ListActionsQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: SkipTokenSchema.optional(),
    actionState: ActionStateSchema.optional(),
    includePasscode: IncludePasscodeSchema,
  }),
);

/** The query of a device overview or a status monitor: other parameters (the status link's `sig`) pass untouched. */
export const PasscodeQuerySchema = z.lazy(() => z.object({ includePasscode: IncludePasscodeSchema }));

export const ListAuditQuerySchema = z.lazy(() =>
  z.strictObject({
    $top: TopSchema,
    $skipToken: SkipTokenSchema.optional(),
    deviceId: IdSchema.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  }),
);

/** POST resetPasscode: an optional reason, nothing else. */
export const ResetPasscodeBodySchema = z.lazy(() =>
  z.strictObject({
    reason: textSchema(500).optional(),
  }),
);

/** Idempotency-Key: 1-255 printable ASCII characters. */
export const IdempotencyKeySchema = z.lazy(() =>
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x20-\x7e]+$/, 'must be 1-255 printable ASCII characters'),
);

export const UnlockBodySchema = z.lazy(() => z.strictObject({ passcode: z.string().min(1).max(64) }));

/**
 * Subscription ids are GUIDs (as Graph's are), compared without regard to case: any other value is a 400, not a 404.
 * The app writes them in lower case.
 */
export const SubscriptionParamsSchema = z.lazy(() =>
  z.strictObject({
    subscriptionId: z
      .string()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID')
      .transform((id) => id.toLowerCase()),
  }),
);

/**
 * POST subscriptions: Graph's subscription properties this API supports (lib/core/subscription.ts), with what each
 * means. `expirationDateTime` may be left out (an addition to Graph, for clients that cannot compute a date, such as
 * a Power Automate trigger): the subscription then lives the longest allowed.
 */
export const CreateSubscriptionBodySchema = z.lazy(() => {
  const { shape: subscription } = SubscriptionInputSchema.unwrap();
  return z.strictObject({
    changeType: subscription.changeType.meta({
      title: 'Change Type',
      description: 'Always `updated`: a notification is sent when an action reaches a terminal state.',
    }),
    notificationUrl: subscription.notificationUrl.meta({
      title: 'Notification URL',
      description:
        'Where notifications are POSTed: https (plain http only to localhost, and only on a developer machine). Before ' +
        'the subscription is created it must answer the validation request (see the description of the operation).',
    }),
    resource: subscription.resource.meta({
      title: 'Resource',
      description:
        'What to watch: `deviceManagement/deviceActionResults` for every device, or ' +
        '`deviceManagement/managedDevices/{deviceId}/deviceActionResults` for one device.',
    }),
    expirationDateTime: subscription.expirationDateTime.optional().meta({
      title: 'Expiration',
      description: `When the subscription ends: at most ${MAX_SUBSCRIPTION_HOURS} hours from now (renew it with PATCH). Default: ${MAX_SUBSCRIPTION_HOURS} hours from now.`,
    }),
    clientState: subscription.clientState.meta({
      title: 'Client State',
      description:
        'A secret of the receiver (up to 128 characters), sent back in every notification so that it can tell them ' +
        'from forged ones. Never shown by the service otherwise.',
    }),
  });
});

/** PATCH subscriptions/{id}: a new expiry, nothing else. */
export const RenewSubscriptionBodySchema = z.lazy(() =>
  z.strictObject({
    expirationDateTime: SubscriptionRenewalSchema.unwrap().shape.expirationDateTime.meta({
      title: 'Expiration',
      description: `The new end of the subscription: at most ${MAX_SUBSCRIPTION_HOURS} hours from now.`,
    }),
  }),
);

/** Query parameters as a plain object (repeated names keep the last value). */
export const queryObject = (query: URLSearchParams): Record<string, string> => Object.fromEntries(query.entries());

/**
 * Whole requests as parseRequest (./parse.ts) checks them, each part under its name: `params`, `query`, `headers`
 * (lower-case names), `body`. One 400 then names every bad field of every part.
 */
export const DeviceRequestSchema = z.object({ params: DeviceParamsSchema });
export const ActionRequestSchema = z.object({ params: ActionParamsSchema });
export const DeviceOverviewRequestSchema = z.object({ params: DeviceParamsSchema, query: PasscodeQuerySchema });
export const StatusMonitorRequestSchema = z.object({ params: ActionParamsSchema, query: PasscodeQuerySchema });
export const PutDeviceRequestSchema = z.object({ params: DeviceParamsSchema, body: DeviceInputSchema });
export const ListDevicesRequestSchema = z.object({ query: ListDevicesQuerySchema });
export const ListDeviceActionsRequestSchema = z.object({ params: DeviceParamsSchema, query: ListActionsQuerySchema });
export const ListAllActionsRequestSchema = z.object({ query: ListActionsQuerySchema });
export const ListAuditRequestSchema = z.object({ query: ListAuditQuerySchema });
export const ResetPasscodeRequestSchema = z.object({
  params: DeviceParamsSchema,
  headers: z.object({ 'idempotency-key': IdempotencyKeySchema.optional() }),
  body: ResetPasscodeBodySchema,
});
export const UnlockRequestSchema = z.object({ params: DeviceParamsSchema, body: UnlockBodySchema });
export const CreateSubscriptionRequestSchema = z.object({ body: CreateSubscriptionBodySchema });
export const ListSubscriptionsRequestSchema = z.object({ query: z.strictObject({}) });
export const SubscriptionRequestSchema = z.object({ params: SubscriptionParamsSchema });
export const RenewSubscriptionRequestSchema = z.object({
  params: SubscriptionParamsSchema,
  body: RenewSubscriptionBodySchema,
});
