import * as z from 'zod';
import {
  ACTION_STATES,
  ANDROID_MANAGEMENT_STATES,
  DEVICE_CHANNELS,
  IdSchema,
  OperatingSystemSchema,
  OsVersionSchema,
} from '../core/model';
import { AUDIT_EVENT_TYPES } from '../ports';
import { ALL_ROLES } from '../security/caller';

/**
 * The response bodies of docs/API.md as zod schemas. Nothing parses responses with them: they exist so that the OpenAPI
 * and Swagger documents are generated (z.toJSONSchema) from one description, and a unit test keeps their inferred
 * types equal to the types the code returns (ActionView, DeviceView, SupportMatrix, AuditEvent, HealthReport).
 * They are strict: a response property that is not described here (a stored field leaking out) fails the contract.
 */

const EXAMPLE_DEVICE_ID = '3f0c2b7e-5d1a-4c8e-9a77-1b2f3c4d5e6f';
const EXAMPLE_ACTION_ID = '8235918799999-4f1c2a9b7e3d5a6c8b0e';

/** Times are ISO 8601 UTC strings as `Date.prototype.toISOString` writes them. */
const dateTime = (title: string, description: string, example: string) =>
  z.iso.datetime().meta({ title, description, examples: [example] });

const ActionErrorSchema = z
  .strictObject({
    code: z
      .string()
      .meta({ title: 'Error Code', description: 'Stable camelCase code.', examples: ['deviceUnreachable'] }),
    message: z.string().meta({ title: 'Error Message', description: 'What went wrong, for people.' }),
  })
  .meta({ title: 'Action Error', description: 'Why an action failed or was not supported.' });

const DeviceCommandSchema = z
  .strictObject({
    state: z.enum(['waitingForDevice', 'confirming']).meta({
      title: 'Command State',
      description:
        'waitingForDevice: the device channel took the command and the device has not run it yet (it is offline, ' +
        'or has not checked in); confirming: the channel did not answer until the retry window ended, so the app ' +
        'asks it how the command ended instead of sending it again.',
      examples: ['waitingForDevice'],
    }),
    sentDateTime: dateTime('Sent', 'When the channel took the command.', '2026-11-26T10:00:01.000Z'),
    expirationDateTime: dateTime(
      'Command Expiration',
      'When the command can no longer be applied, where the channel says (Android Management: its duration).',
      '2026-11-27T10:00:01.000Z',
    ).optional(),
    deviceLastContactDateTime: dateTime(
      'Device Last Contact',
      "The device's last contact with the channel, where the channel knows it.",
      '2026-11-26T08:12:40.000Z',
    ).optional(),
    cancelRequestedDateTime: dateTime(
      'Cancel Requested',
      'When an admin asked to cancel; the action ends canceled once the channel confirms the command will not apply.',
      '2026-11-26T10:05:00.000Z',
    ).optional(),
  })
  .meta({
    title: 'Device Command',
    description: 'While the action is active and its command waits for the device or for confirmation.',
  });

export const DeviceActionResultSchema = z
  .strictObject({
    id: IdSchema.check(
      z.meta({ title: 'Action ID', description: 'The id of the action.', examples: [EXAMPLE_ACTION_ID] }),
    ),
    deviceId: IdSchema.check(
      z.meta({ title: 'Device ID', description: 'The managed device.', examples: [EXAMPLE_DEVICE_ID] }),
    ),
    actionName: z.literal('resetPasscode').meta({ title: 'Action Name', description: 'Always resetPasscode.' }),
    actionState: z.enum(ACTION_STATES).meta({
      title: 'Action State',
      description:
        'pending: accepted and queued; active: being applied; done: the device has the new passcode; failed: it ' +
        'will not be applied (see error); canceled: canceled before it reached the device; notSupported: the device channel ' +
        'reported the action unsupported. done, failed, canceled and notSupported are terminal.',
      examples: ['done'],
    }),
    startDateTime: dateTime('Start Time', 'When the reset was requested.', '2026-11-26T10:00:00.000Z'),
    lastUpdatedDateTime: dateTime('Last Updated', 'When the state last changed.', '2026-11-26T10:00:01.250Z'),
    requestedBy: z.string().meta({ title: 'Requested By', description: 'Who requested the reset.' }),
    reason: z.string().optional().meta({ title: 'Reason', description: 'The reason given by the requester.' }),
    passcode: z
      .string()
      .optional()
      .meta({
        title: 'Passcode',
        description:
          'The new passcode: only when the action is done (or failed as outcomeUnknown: the device may have it), the ' +
          'caller holds Passcode.Read (a signed status link never shows it) and the display window is open. Absent ' +
          'otherwise, never empty.',
        examples: ['729403'],
      }),
    passcodeExpirationDateTime: dateTime(
      'Passcode Expiration',
      'When the passcode stops being shown; present once the action is done (or failed as outcomeUnknown).',
      '2026-12-03T10:00:01.250Z',
    ).optional(),
    error: ActionErrorSchema.optional(),
    lastError: ActionErrorSchema.optional().meta({
      title: 'Last Error',
      description: "While the action is active: the device's last transient failure (it is being retried).",
    }),
    nextAttemptDateTime: dateTime(
      'Next Attempt',
      'While the action is active: when the device is tried again after a transient failure, or when the app next ' +
        'asks the device channel how a waiting command stands.',
      '2026-11-26T10:00:35.000Z',
    ).optional(),
    deviceCommand: DeviceCommandSchema.optional(),
  })
  .meta({
    title: 'Device Action Result',
    description: 'The reset passcode action on one device.',
    examples: [
      {
        id: EXAMPLE_ACTION_ID,
        deviceId: EXAMPLE_DEVICE_ID,
        actionName: 'resetPasscode',
        actionState: 'done',
        startDateTime: '2026-11-26T10:00:00.000Z',
        lastUpdatedDateTime: '2026-11-26T10:00:01.250Z',
        requestedBy: 'ana@contoso.com',
        reason: 'user locked out, ticket 4411',
        passcode: '729403',
        passcodeExpirationDateTime: '2026-12-03T10:00:01.250Z',
      },
    ],
  });

const ResetPasscodeSupportSchema = z
  .discriminatedUnion('supported', [
    z.strictObject({ supported: z.literal(true).meta({ title: 'Supported' }) }),
    z.strictObject({
      supported: z.literal(false).meta({ title: 'Supported' }),
      code: z.enum(['platformNotSupported', 'deviceNotActive']).meta({
        title: 'Reason Code',
        description:
          'platformNotSupported: the support matrix rules it out; deviceNotActive: the device channel cannot send ' +
          'this device commands now (Android Management: the device is not active, or not enrolled).',
      }),
      message: z.string().meta({ title: 'Reason', description: 'Why, per the support matrix or the device state.' }),
    }),
  ])
  .meta({ title: 'Reset Passcode Support', description: 'Whether the reset passcode action can run on this device.' });

const PasscodePolicyViewSchema = z
  .strictObject({
    minLength: z.int().min(4).max(16).meta({ title: 'Minimum Length' }),
    characters: z.enum(['numeric', 'alphanumeric']).meta({ title: 'Characters' }),
    complex: z.boolean().meta({ title: 'Complex', description: 'No simple sequences or repeats.' }),
  })
  .meta({ title: 'Passcode Policy', description: 'What a generated passcode must fit.' });

const AndroidManagementFactsSchema = z
  .strictObject({
    name: z.string().meta({
      title: 'Android Management Name',
      description: "The device's resource name in Google's Android Management service.",
      examples: ['enterprises/LC01abcd23/devices/3a5f8c2e91b04d7e'],
    }),
    managementMode: z.enum(['fullyManaged', 'workProfile']).meta({ title: 'Management Mode' }),
    ownership: z.enum(['companyOwned', 'personallyOwned', 'unspecified']).meta({ title: 'Ownership' }),
    state: z.enum(ANDROID_MANAGEMENT_STATES).meta({
      title: 'Device State',
      description:
        'As Android Management reports it; deleted when the device left the enterprise. Only active devices take commands.',
    }),
    apiLevel: z
      .int()
      .optional()
      .meta({ title: 'SDK Level', description: 'The Android SDK level.', examples: [34] }),
    lastStatusReportDateTime: dateTime(
      'Last Status Report',
      "The device's last contact with Android Management.",
      '2026-11-26T08:12:40.000Z',
    ).optional(),
    enrollmentDateTime: dateTime('Enrolled', 'When the device enrolled.', '2026-01-10T09:00:00.000Z').optional(),
    syncedDateTime: dateTime('Synced', 'When the inventory sync last saw the device.', '2026-11-26T10:00:00.000Z'),
  })
  .meta({
    title: 'Android Management',
    description: "What Google's Android Management service says of a device the inventory sync registered.",
  });

export const ManagedDeviceSchema = z
  .strictObject({
    id: IdSchema.check(z.meta({ title: 'Device ID', examples: [EXAMPLE_DEVICE_ID] })),
    deviceName: z
      .string()
      .min(1)
      .max(256)
      .meta({ title: 'Device Name', examples: ['Sales iPhone 12'] }),
    operatingSystem: OperatingSystemSchema.check(z.meta({ title: 'Operating System', examples: ['iOS'] })),
    osVersion: OsVersionSchema.check(z.meta({ title: 'OS Version', examples: ['16.4.1'] })),
    azureADJoined: z.boolean().meta({ title: 'Azure AD Joined' }),
    userPrincipalName: z
      .string()
      .optional()
      .meta({ title: 'User Principal Name', examples: ['ana@contoso.com'] }),
    passcodePolicy: PasscodePolicyViewSchema,
    createdDateTime: dateTime('Created', 'When the device was registered.', '2026-11-20T08:00:00.000Z'),
    lastUpdatedDateTime: dateTime(
      'Last Updated',
      'When the inventory record last changed.',
      '2026-11-20T08:00:00.000Z',
    ),
    androidManagement: AndroidManagementFactsSchema.optional(),
    resetPasscodeSupport: ResetPasscodeSupportSchema,
    lastResetPasscode: DeviceActionResultSchema.optional().meta({
      title: 'Last Reset Passcode',
      description: 'The latest reset passcode action of the device (device overview only).',
    }),
    deviceActionResults: z
      .array(DeviceActionResultSchema)
      .optional()
      .meta({
        title: 'Device Action Results',
        description:
          'The newest reset actions of the device (at most 10, newest first, never with a passcode): on the device ' +
          'overview, and in a list when $select names it.',
      }),
  })
  .meta({ title: 'Managed Device', description: 'A device in the inventory.' });

const nextLink = z.url().optional().meta({
  title: 'Next Page Link',
  description: 'Present when there are more results: GET it as is (it carries $skipToken).',
});

const ManagedDeviceListSchema = z
  .strictObject({
    value: z.array(ManagedDeviceSchema).meta({ title: 'Devices' }),
    '@odata.nextLink': nextLink,
    '@odata.count': z.int().min(0).optional().meta({
      title: 'Count',
      description: 'With $count=true: how many devices the query found, when the whole answer is on this page.',
    }),
  })
  .meta({ title: 'Managed Device List' });

const DeviceActionResultListSchema = z
  .strictObject({ value: z.array(DeviceActionResultSchema).meta({ title: 'Actions' }), '@odata.nextLink': nextLink })
  .meta({ title: 'Device Action Result List', description: 'Actions, newest first.' });

export const AuditEventSchema = z
  .strictObject({
    id: z.string().meta({ title: 'Event ID' }),
    eventDateTime: dateTime('Event Time', 'When it happened.', '2026-11-26T10:00:00.000Z'),
    eventType: z.enum(AUDIT_EVENT_TYPES).meta({ title: 'Event Type', examples: ['resetRequested'] }),
    callerId: z.string().meta({ title: 'Caller ID', description: 'Object id of the caller.' }),
    callerName: z.string().meta({ title: 'Caller Name', examples: ['ana@contoso.com'] }),
    deviceId: IdSchema.check(z.meta({ title: 'Device ID', examples: [EXAMPLE_DEVICE_ID] })),
    actionId: z.string().optional().meta({ title: 'Action ID' }),
    reason: z.string().optional().meta({ title: 'Reason' }),
    outcome: z.enum(['success', 'failure']).meta({ title: 'Outcome' }),
    detail: z
      .string()
      .optional()
      .meta({ title: 'Detail', description: 'For failures: the error code the caller got.' }),
  })
  .meta({ title: 'Audit Event', description: 'Who did what to which device, when, and how it ended. Never a secret.' });

const AuditEventListSchema = z
  .strictObject({ value: z.array(AuditEventSchema).meta({ title: 'Events' }), '@odata.nextLink': nextLink })
  .meta({ title: 'Audit Event List', description: 'Audit events, newest first.' });

const SupportRuleSchema = z
  .strictObject({
    operatingSystem: OperatingSystemSchema.check(z.meta({ title: 'Operating System' })),
    minVersion: z.string().optional().meta({ title: 'Minimum Version', description: 'Inclusive.' }),
    maxVersionExclusive: z.string().optional().meta({ title: 'Maximum Version', description: 'Exclusive.' }),
    azureADJoined: z.boolean().optional().meta({ title: 'Azure AD Joined', description: 'When present, must match.' }),
    supported: z.boolean().meta({ title: 'Supported' }),
    note: z.string().meta({ title: 'Note' }),
    source: z.url().meta({ title: 'Source', description: 'The public document the rule comes from.' }),
  })
  .meta({ title: 'Support Rule', description: 'A device matches when every condition present holds.' });

export const SupportMatrixSchema = z
  .strictObject({
    channel: z.enum(DEVICE_CHANNELS).meta({
      title: 'Device Channel',
      description: 'The device channel the app uses, whose rules these are.',
      examples: ['simulated'],
    }),
    source: z.url().meta({ title: 'Source', description: 'The product documentation the rules come from.' }),
    rules: z.array(SupportRuleSchema).meta({ title: 'Rules' }),
  })
  .meta({ title: 'Support Matrix', description: 'Which platforms and versions support the reset passcode action.' });

const ErrorDetailSchema = z
  .strictObject({
    code: z.string().meta({ title: 'Code', examples: ['invalidValue'] }),
    message: z.string().meta({ title: 'Message' }),
    target: z
      .string()
      .optional()
      .meta({ title: 'Target', examples: ['reason'] }),
  })
  .meta({ title: 'Error Detail' });

export const ErrorBodySchema = z
  .strictObject({
    error: z
      .strictObject({
        code: z.string().meta({
          title: 'Error Code',
          description: 'Stable camelCase identifier that callers can branch on.',
          examples: ['deviceNotFound'],
        }),
        message: z.string().meta({ title: 'Error Message', description: 'For people; never contains secrets.' }),
        target: z.string().optional().meta({ title: 'Target', description: 'The input at fault.' }),
        details: z
          .array(ErrorDetailSchema)
          .optional()
          .meta({ title: 'Details', description: 'Every bad field of a validation failure.' }),
        innerError: z
          .strictObject({
            'request-id': z.string().meta({ title: 'Request ID' }),
            date: dateTime('Date', 'When the error occurred.', '2026-11-26T10:00:00.000Z'),
          })
          .meta({ title: 'Inner Error' }),
      })
      .meta({ title: 'Error' }),
  })
  .meta({ title: 'Error Body', description: 'The error shape of every 4xx and 5xx response.' });

export const HealthSchema = z
  .strictObject({
    status: z.enum(['healthy', 'unhealthy']).meta({ title: 'Status' }),
    checks: z
      .strictObject({ storage: z.enum(['ok', 'unreachable']).meta({ title: 'Storage' }) })
      .meta({ title: 'Checks' }),
  })
  .meta({ title: 'Health' });

const UnlockResultSchema = z
  .strictObject({
    deviceId: IdSchema.check(z.meta({ title: 'Device ID' })),
    unlocked: z.literal(true).meta({ title: 'Unlocked' }),
  })
  .meta({ title: 'Unlock Result' });

const DeviceSyncSchema = z
  .strictObject({
    syncStartedDateTime: dateTime(
      'Sync Started',
      'When the sync started: devices it does not see after this time are marked deleted at its end.',
      '2026-11-26T10:00:00.000Z',
    ),
  })
  .meta({ title: 'Device Sync', description: 'An inventory sync of the Android Management enterprise, started.' });

const SignedInCallerSchema = z
  .strictObject({
    id: z.string().meta({ title: 'Caller ID', description: "The caller's object id (oid) or subject." }),
    name: z.string().meta({ title: 'Name', description: 'The sign-in name, as audit events record it.' }),
    roles: z
      .array(z.enum(ALL_ROLES))
      .meta({ title: 'Roles', description: "This app's roles the caller holds; others are ignored." }),
  })
  .meta({
    title: 'Signed-In Caller',
    description: 'Who the request is served as, and which of the roles of this service they hold.',
    examples: [{ id: '6b1f0c2e-8a4d-4f3b-9e71-0d2c5a7b9e13', name: 'ana@contoso.com', roles: ['Devices.Read'] }],
  });

const EXAMPLE_SUBSCRIPTION_ID = '7f3c9a2e-1b4d-4e6f-8a0b-2c3d4e5f6a7b';

export const SubscriptionSchema = z
  .strictObject({
    id: z.string().meta({ title: 'Subscription ID', description: 'A GUID.', examples: [EXAMPLE_SUBSCRIPTION_ID] }),
    resource: z.string().meta({
      title: 'Resource',
      description:
        'What is watched: deviceManagement/deviceActionResults (every device) or ' +
        'deviceManagement/managedDevices/{deviceId}/deviceActionResults (one device).',
      examples: ['deviceManagement/deviceActionResults'],
    }),
    changeType: z.literal('updated').meta({ title: 'Change Type', description: 'Always updated.' }),
    notificationUrl: z.string().meta({ title: 'Notification URL', description: 'Where notifications are sent.' }),
    expirationDateTime: dateTime(
      'Expiration',
      'When the subscription ends unless it is renewed.',
      '2026-11-29T10:00:00.000Z',
    ),
    createdDateTime: dateTime('Created', 'When the subscription was created.', '2026-11-26T10:00:00.000Z'),
    creatorId: z.string().meta({ title: 'Creator ID', description: 'The caller who created it (object id).' }),
  })
  .meta({
    title: 'Subscription',
    description:
      'A change notification subscription: the receiver is told when reset passcode actions finish. Its clientState ' +
      'is never shown; it comes back in every notification.',
  });

const SubscriptionListSchema = z
  .strictObject({ value: z.array(SubscriptionSchema).meta({ title: 'Subscriptions' }), '@odata.nextLink': nextLink })
  .meta({
    title: 'Subscription List',
    description: "The caller's subscriptions that have not expired (with all=true: every caller's, a page at a time).",
  });

/** A finished action as a notification carries it: the device action result, never its passcode. */
const NotifiedActionSchema = DeviceActionResultSchema.omit({ passcode: true }).meta({
  title: 'Finished Action',
  description:
    'The device action result in its terminal state (done, failed, canceled or notSupported). Never a passcode.',
});

const ChangeNotificationSchema = z
  .strictObject({
    subscriptionId: z.string().meta({ title: 'Subscription ID', examples: [EXAMPLE_SUBSCRIPTION_ID] }),
    subscriptionExpirationDateTime: dateTime(
      'Subscription Expiration',
      'When the subscription ends unless it is renewed.',
      '2026-11-29T10:00:00.000Z',
    ),
    clientState: z.string().optional().meta({
      title: 'Client State',
      description: "The subscription's clientState: check it to tell a real notification from a forged one.",
    }),
    changeType: z.literal('updated').meta({ title: 'Change Type', description: 'Always updated.' }),
    resource: z.string().meta({
      title: 'Resource',
      description: 'The action: deviceManagement/managedDevices/{deviceId}/deviceActionResults/{actionId}.',
      examples: [`deviceManagement/managedDevices/${EXAMPLE_DEVICE_ID}/deviceActionResults/${EXAMPLE_ACTION_ID}`],
    }),
    resourceData: NotifiedActionSchema,
    tenantId: z.string().optional().meta({ title: 'Tenant ID', description: 'Reserved (Graph shape).' }),
  })
  .meta({ title: 'Change Notification', description: 'One finished reset passcode action.' });

const ChangeNotificationCollectionSchema = z
  .strictObject({
    value: z
      .array(ChangeNotificationSchema)
      .meta({ title: 'Notifications', description: 'The notifications of this delivery: always exactly one.' }),
  })
  .meta({
    title: 'Change Notification Collection',
    description:
      'What the service POSTs to a notificationUrl when a watched reset passcode action finishes (the Graph change ' +
      'notification shape).',
  });

const ApiDocumentSchema = z
  .looseObject({})
  .meta({ title: 'Service Description', description: 'An OpenAPI 3.1 or Swagger 2.0 document.' });

/** Every named response schema, by the name it has in `components.schemas` and `definitions`. */
export const RESPONSE_SCHEMAS = {
  ManagedDevice: ManagedDeviceSchema,
  ManagedDeviceList: ManagedDeviceListSchema,
  DeviceActionResult: DeviceActionResultSchema,
  DeviceActionResultList: DeviceActionResultListSchema,
  ActionError: ActionErrorSchema,
  ResetPasscodeSupport: ResetPasscodeSupportSchema,
  PasscodePolicy: PasscodePolicyViewSchema,
  AuditEvent: AuditEventSchema,
  AuditEventList: AuditEventListSchema,
  AndroidManagementFacts: AndroidManagementFactsSchema,
  SupportRule: SupportRuleSchema,
  SupportMatrix: SupportMatrixSchema,
  ErrorDetail: ErrorDetailSchema,
  ErrorBody: ErrorBodySchema,
  Health: HealthSchema,
  UnlockResult: UnlockResultSchema,
  SignedInCaller: SignedInCallerSchema,
  DeviceSync: DeviceSyncSchema,
  Subscription: SubscriptionSchema,
  SubscriptionList: SubscriptionListSchema,
  ChangeNotificationCollection: ChangeNotificationCollectionSchema,
  ChangeNotification: ChangeNotificationSchema,
  NotifiedAction: NotifiedActionSchema,
  ApiDocument: ApiDocumentSchema,
} as const;

export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
