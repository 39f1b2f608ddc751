import type { z } from 'zod';
import type { ErrorCode } from '../../lib/core/errorCatalogue';
import { DeviceInputSchema } from '../../lib/core/model';
import { MAX_SUBSCRIPTION_HOURS } from '../../lib/core/subscription';
import { RETRY_AFTER_SECONDS } from '../../lib/http/actionResponses';
import type { ResponseSchemaName } from '../../lib/http/responseSchemas';
import type { ROUTES } from '../../lib/http/routes';
import {
  ActionParamsSchema,
  CreateSubscriptionBodySchema,
  DeviceParamsSchema,
  ListActionsQuerySchema,
  ListAuditQuerySchema,
  ListDevicesQuerySchema,
  PasscodeQuerySchema,
  RenewSubscriptionBodySchema,
  ResetPasscodeBodySchema,
  SubscriptionParamsSchema,
  SyncRequestSchema,
  UnlockBodySchema,
} from '../../lib/http/schemas';

/**
 * What each operation of the API is, for its two documents (openApi.ts, swagger.ts): summaries, descriptions,
 * parameters' titles, bodies, success responses with their headers and examples, and the error codes of the
 * catalogue (lib/core/errorCatalogue.ts) it can answer. `Record<RouteName, …>` makes a new route in ROUTES a compile
 * error until it is described here.
 *
 * Texts here also become the Power Platform connector's, so they follow its string rules
 * (https://learn.microsoft.com/connectors/custom-connectors/connector-string-guidance): summaries in sentence case
 * without punctuation, no product names and no word "API" (checked by tools/connectorRules.ts).
 */

export type JsonSchema = Record<string, unknown>;
export type RouteName = keyof typeof ROUTES;
type Visibility = 'important' | 'advanced' | 'internal';
export type HeaderName =
  | 'Location'
  | 'Operation-Location'
  | 'Retry-After'
  | 'Cache-Control'
  | 'WWW-Authenticate'
  | 'ETag';

export const JSON_TYPE = 'application/json';
export const BASE_PATH = '/api';

export interface HeaderSpec {
  description: string;
  schema: JsonSchema;
}

export const HEADERS: Record<HeaderName, HeaderSpec> = {
  Location: {
    description: 'Absolute URL of the status monitor (GET it to follow the action). It carries a signed `sig` link.',
    schema: { type: 'string', format: 'uri' },
  },
  'Operation-Location': {
    description: 'The same URL as Location (the Azure REST long-running operation header).',
    schema: { type: 'string', format: 'uri' },
  },
  'Retry-After': {
    description: 'Seconds to wait before asking again.',
    schema: { type: 'integer', minimum: 0 },
  },
  'Cache-Control': {
    description: '`no-store` whenever the body shows a passcode.',
    schema: { type: 'string' },
  },
  'WWW-Authenticate': {
    description: 'The Bearer challenge of RFC 6750 §3.',
    schema: { type: 'string' },
  },
  ETag: {
    description: "The device's version: send it back in If-Match to replace only this version.",
    schema: { type: 'string' },
  },
};

/**
 * Codes of the catalogue that no route answers yet (a use case may throw them before its route exists). When a route
 * answers one, describe it in OPERATIONS and take the code off this list (a test insists).
 */
export const NOT_YET_ROUTED: readonly ErrorCode[] = [];

/** What any authenticated operation can answer besides its own errors. */
export const AUTHENTICATED_ERRORS: readonly ErrorCode[] = [
  'unauthorized',
  'forbidden',
  'serviceUnavailable',
  'internalServerError',
];
/** An operation open to any authenticated caller needs no role, so it never answers 403. */
export const SIGNED_IN_ERRORS: readonly ErrorCode[] = ['unauthorized', 'serviceUnavailable', 'internalServerError'];

export interface ParameterSpec {
  title: string;
  description: string;
  visibility?: Visibility;
  example?: unknown;
}

/** Titles and descriptions of every path, query and header parameter, by `<in>.<name>`. */
export const PARAMETERS: Record<string, ParameterSpec> = {
  'path.deviceId': {
    title: 'Device ID',
    description:
      'The managed device id: 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-" (case-sensitive, but a GUID is ' +
      'read in any case).',
    visibility: 'important',
    example: '3f0c2b7e-5d1a-4c8e-9a77-1b2f3c4d5e6f',
  },
  'path.actionId': {
    title: 'Action ID',
    description: 'The action id, as returned by Reset passcode.',
    visibility: 'important',
    example: '8235918799999-4f1c2a9b7e3d5a6c8b0e',
  },
  'query.$top': {
    title: 'Page Size',
    description: 'How many items per page (1-100, default 50).',
    visibility: 'advanced',
  },
  'query.$skipToken': {
    title: 'Skip Token',
    description: 'Continuation from the @odata.nextLink of the previous page; use that link as is.',
    visibility: 'internal',
  },
  'query.$filter': {
    title: 'Filter',
    description:
      "Graph's $filter: eq and startswith(property,'prefix') joined by and (devices: id, operatingSystem, " +
      'userPrincipalName eq; deviceName, userPrincipalName startswith, without regard to case; actions: actionState, ' +
      'deviceId eq). Anything else is a 400 naming it.',
    visibility: 'advanced',
  },
  'query.$select': {
    title: 'Select',
    description: 'The properties to return, comma-separated (id always comes back).',
    visibility: 'advanced',
  },
  'query.$count': {
    title: 'Count',
    description: 'true: add @odata.count when the whole answer fits on the first page.',
    visibility: 'advanced',
  },
  'query.operatingSystem': {
    title: 'Operating System',
    description: 'Only devices with this operating system.',
    visibility: 'advanced',
  },
  'query.actionState': {
    title: 'Action State',
    description: 'Only actions in this state.',
    visibility: 'advanced',
  },
  'query.deviceId': {
    title: 'Device ID',
    description: 'Only events about this device.',
    visibility: 'advanced',
  },
  'query.from': {
    title: 'From',
    description: 'Only events at or after this time (ISO 8601).',
    visibility: 'advanced',
    example: '2026-11-26T00:00:00Z',
  },
  'query.to': {
    title: 'To',
    description: 'Only events before this time (ISO 8601).',
    visibility: 'advanced',
    example: '2026-11-27T00:00:00Z',
  },
  'query.all': {
    title: 'All Callers',
    description:
      "`true` lists every caller's subscriptions, a page of `$top` at a time, for an administrator (Subscriptions.Manage); " +
      "default: the caller's own, in one answer.",
    visibility: 'advanced',
  },
  'query.includePasscode': {
    title: 'Include Passcode',
    description:
      '`false` leaves every passcode out, as for a caller without Passcode.Read: nothing is decrypted and no ' +
      'passcodeViewed audit event is recorded. Default `true`. The admin console reads with `false` until an admin ' +
      'reveals a passcode.',
    visibility: 'advanced',
  },
  'header.Idempotency-Key': {
    title: 'Idempotency Key',
    description:
      'Optional, 1-255 printable ASCII characters. Repeating a key (same caller, device and body) returns the ' +
      'original action instead of starting another; the same key with another device or body is a 422 ' +
      'idempotencyKeyReused. Keys are remembered for at least 24 hours.',
    visibility: 'advanced',
    example: 'ticket-4411-reset-1',
  },
  'header.If-Match': {
    title: 'If Match',
    description:
      "Optional: the device's ETag as read (GET or a PUT's answer). The PUT then replaces only that version and " +
      'answers 412 preconditionFailed if the device changed since; `*` replaces any existing version.',
    visibility: 'advanced',
    example: 'W/"datetime\'2026-11-20T08%3A00%3A00.000Z\'"',
  },
  'path.subscriptionId': {
    title: 'Subscription ID',
    description: 'The subscription id (a GUID), as returned when it was created.',
    visibility: 'important',
    example: '7f3c9a2e-1b4d-4e6f-8a0b-2c3d4e5f6a7b',
  },
  'query.sig': {
    title: 'Signed Link',
    description:
      'Signed status link, as found in the Location header. It lets a poller without credentials read this one ' +
      "action's state until it expires (it never shows the passcode). Not needed with an access token.",
    visibility: 'internal',
  },
};

interface BodySpec {
  /** Name in components.schemas / definitions. */
  name: string;
  schema: z.core.$ZodType;
  title: string;
  description: string;
  required: boolean;
  example: unknown;
}

export interface SuccessSpec {
  status: number;
  description: string;
  /** Absent for a response without a body (204). */
  schema?: ResponseSchemaName;
  /** Headers the response always carries. */
  headers?: HeaderName[];
  /** Headers it carries in some cases. */
  optionalHeaders?: HeaderName[];
  /** What a header means in this response, where HEADERS' general description does not fit. */
  headerDescriptions?: Partial<Record<HeaderName, string>>;
  example?: unknown;
}

/**
 * A webhook trigger of the connector (Swagger only): the operation subscribes a workflow's callback URL, and the
 * workflow runs once per notification. https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions
 * (x-ms-trigger, x-ms-notification-url, x-ms-notification-content).
 */
export interface TriggerSpec {
  /** `single`: each notification runs the flow once. */
  kind: 'single';
  /** The trigger's name in the designer ("When …"), instead of the operation's summary. */
  summary: string;
  /** A hint in the designer on how to make the trigger fire. */
  hint: string;
  /** The body property the workflow service fills with its callback URL (x-ms-notification-url, hidden). */
  notificationUrlProperty: string;
  /** How the designer shows the other body properties, and the value it sends for a hidden required one. */
  bodyProperties: Record<string, { visibility: Visibility; default?: unknown }>;
  /** What the callback URL receives (x-ms-notification-content), and what it is. */
  content: ResponseSchemaName;
  contentDescription: string;
  contentExample: unknown;
}

export interface OperationSpec {
  operationId: string;
  summary: string;
  description: string;
  tag: string;
  visibility?: Visibility;
  pathParams?: z.core.$ZodType;
  query?: z.core.$ZodType;
  body?: BodySpec;
  idempotencyKey?: boolean;
  /** The operation takes an If-Match header (a device PUT). */
  ifMatch?: boolean;
  /** The status monitor also accepts a signed link (query `sig`) instead of an access token. */
  statusLink?: boolean;
  pageable?: boolean;
  success: SuccessSpec[];
  /**
   * Swagger only: the final response a client that follows the asynchronous pattern ends with. A Power Platform
   * connector shows an action's outputs from its 200 response, so an operation that answers 202 declares it too.
   */
  finalResponse?: SuccessSpec;
  /** This operation is the connector's webhook trigger. */
  trigger?: TriggerSpec;
  /** Besides AUTHENTICATED_ERRORS, which every operation with a role gets. */
  errors: ErrorCode[];
}

const EXAMPLE_DEVICE = {
  id: '3f0c2b7e-5d1a-4c8e-9a77-1b2f3c4d5e6f',
  deviceName: 'Sales iPhone 12',
  operatingSystem: 'iOS',
  osVersion: '16.4.1',
  azureADJoined: false,
  userPrincipalName: 'ana@contoso.com',
  passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
  createdDateTime: '2026-11-20T08:00:00.000Z',
  lastUpdatedDateTime: '2026-11-20T08:00:00.000Z',
  resetPasscodeSupport: { supported: true },
};

const EXAMPLE_PENDING_ACTION = {
  id: '8235918799999-4f1c2a9b7e3d5a6c8b0e',
  deviceId: EXAMPLE_DEVICE.id,
  actionName: 'resetPasscode',
  actionState: 'pending',
  startDateTime: '2026-11-26T10:00:00.000Z',
  lastUpdatedDateTime: '2026-11-26T10:00:00.000Z',
  requestedBy: 'ana@contoso.com',
  reason: 'user locked out, ticket 4411',
};

const EXAMPLE_DONE_ACTION = {
  ...EXAMPLE_PENDING_ACTION,
  actionState: 'done',
  lastUpdatedDateTime: '2026-11-26T10:00:01.250Z',
  passcode: '729403',
  passcodeExpirationDateTime: '2026-12-03T10:00:01.250Z',
};

/** An action whose command waits for an offline device, after an admin asked to cancel it. */
const EXAMPLE_WAITING_ACTION = {
  ...EXAMPLE_PENDING_ACTION,
  actionState: 'active',
  lastUpdatedDateTime: '2026-11-26T10:05:00.000Z',
  nextAttemptDateTime: '2026-11-26T10:05:12.000Z',
  deviceCommand: {
    state: 'waitingForDevice',
    sentDateTime: '2026-11-26T10:00:01.000Z',
    expirationDateTime: '2026-11-27T10:00:01.000Z',
    deviceLastContactDateTime: '2026-11-26T08:12:40.000Z',
    cancelRequestedDateTime: '2026-11-26T10:05:00.000Z',
  },
};

/** A done action as a signed-link reader (a poller without credentials) sees it: without the passcode. */
const { passcode: _passcode, ...EXAMPLE_DONE_ACTION_SEEN_THROUGH_LINK } = EXAMPLE_DONE_ACTION;

const EXAMPLE_SUBSCRIPTION = {
  id: '7f3c9a2e-1b4d-4e6f-8a0b-2c3d4e5f6a7b',
  resource: 'deviceManagement/deviceActionResults',
  changeType: 'updated',
  notificationUrl: 'https://receiver.contoso.com/notifications',
  expirationDateTime: '2026-11-29T10:00:00.000Z',
  createdDateTime: '2026-11-26T10:00:00.000Z',
  creatorId: '6b1f0c2e-8a4d-4f3b-9e71-0d2c5a7b9e13',
};

/** What a receiver gets when a watched action finishes: the action, never its passcode. */
const EXAMPLE_NOTIFICATION = {
  value: [
    {
      subscriptionId: EXAMPLE_SUBSCRIPTION.id,
      subscriptionExpirationDateTime: EXAMPLE_SUBSCRIPTION.expirationDateTime,
      clientState: 'secret-of-the-receiver',
      changeType: 'updated',
      resource: `deviceManagement/managedDevices/${EXAMPLE_DEVICE.id}/deviceActionResults/${EXAMPLE_PENDING_ACTION.id}`,
      resourceData: EXAMPLE_DONE_ACTION_SEEN_THROUGH_LINK,
    },
  ],
};

const SUBSCRIPTION_NO_STORE = 'no-store: the notificationUrl may be a signed callback URL.';

const ASYNC_PATTERN_NOTE =
  'Asynchronous: the 202 response carries Location and Operation-Location (the status monitor, with a signed ' +
  '`sig` link) and Retry-After. Clients that follow the asynchronous pattern (workflow HTTP actions, and this ' +
  "connector with the action setting 'Asynchronous pattern' on, the default) poll Location until a response other " +
  'than 202 and output that final response: the action in a terminal state (done, failed, canceled or notSupported).';

export const OPERATIONS: Record<RouteName, OperationSpec> = {
  putManagedDevice: {
    operationId: 'PutManagedDevice',
    summary: 'Register or update a device',
    description:
      'Creates the device in the inventory (201) or replaces its record (200), in one conditional write; with ' +
      'If-Match, only the version read. Needs Devices.Manage.',
    tag: 'Devices',
    visibility: 'advanced',
    pathParams: DeviceParamsSchema,
    ifMatch: true,
    body: {
      name: 'ManagedDeviceInput',
      schema: DeviceInputSchema,
      title: 'Device',
      description: 'The device inventory record.',
      required: true,
      example: {
        deviceName: 'Sales iPhone 12',
        operatingSystem: 'iOS',
        osVersion: '16.4.1',
        azureADJoined: false,
        userPrincipalName: 'ana@contoso.com',
        passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
      },
    },
    success: [
      {
        status: 200,
        description: 'The device was updated.',
        schema: 'ManagedDevice',
        headers: ['ETag'],
        example: EXAMPLE_DEVICE,
      },
      {
        status: 201,
        description: 'The device was created.',
        schema: 'ManagedDevice',
        headers: ['ETag'],
        example: EXAMPLE_DEVICE,
      },
    ],
    errors: ['invalidRequest', 'payloadTooLarge', 'preconditionFailed'],
  },
  listManagedDevices: {
    operationId: 'ListManagedDevices',
    summary: 'List devices',
    description: 'Lists the managed devices, optionally of one operating system, a page at a time. Needs Devices.Read.',
    tag: 'Devices',
    visibility: 'advanced',
    query: ListDevicesQuerySchema,
    pageable: true,
    success: [
      {
        status: 200,
        description: 'A page of devices.',
        schema: 'ManagedDeviceList',
        example: { value: [EXAMPLE_DEVICE] },
      },
    ],
    errors: ['invalidRequest'],
  },
  getManagedDevice: {
    operationId: 'GetManagedDevice',
    summary: 'Get a device overview',
    description:
      'The device, whether reset passcode is supported on it, and its latest reset (lastResetPasscode), with the ' +
      'new passcode while it is shown and the caller holds Passcode.Read. Needs Devices.Read.',
    tag: 'Devices',
    visibility: 'important',
    pathParams: DeviceParamsSchema,
    query: PasscodeQuerySchema,
    success: [
      {
        status: 200,
        description: 'The device overview.',
        schema: 'ManagedDevice',
        headers: ['ETag'],
        optionalHeaders: ['Cache-Control'],
        example: { ...EXAMPLE_DEVICE, lastResetPasscode: EXAMPLE_DONE_ACTION },
      },
    ],
    errors: ['invalidRequest', 'deviceNotFound'],
  },
  resetPasscode: {
    operationId: 'ResetPasscode',
    summary: 'Reset passcode',
    description:
      'Requests a passcode reset on the device: a new passcode that fits its passcode policy is generated, applied ' +
      `to the device and shown on the device overview for a limited time. Needs Passcode.Reset. ${ASYNC_PATTERN_NOTE} ` +
      'The passcode itself is only shown to callers holding Passcode.Read: read it with Get reset passcode result ' +
      '(GetDeviceActionResult) using your own connection.',
    tag: 'Device actions',
    visibility: 'important',
    pathParams: DeviceParamsSchema,
    idempotencyKey: true,
    body: {
      name: 'ResetPasscodeRequest',
      schema: ResetPasscodeBodySchema,
      title: 'Reset Passcode Request',
      description: 'Optional; no other property is accepted.',
      required: false,
      example: { reason: 'user locked out, ticket 4411' },
    },
    success: [
      {
        status: 202,
        description: `Accepted: the action is pending. Poll Location (Retry-After: ${RETRY_AFTER_SECONDS} seconds).`,
        schema: 'DeviceActionResult',
        headers: ['Location', 'Operation-Location', 'Retry-After'],
        example: EXAMPLE_PENDING_ACTION,
      },
    ],
    finalResponse: {
      status: 200,
      description:
        'The action in a terminal state (done, failed, canceled or notSupported): what a client following the ' +
        'asynchronous pattern receives from the status monitor at the end. The passcode is never in it.',
      schema: 'DeviceActionResult',
      example: EXAMPLE_DONE_ACTION_SEEN_THROUGH_LINK,
    },
    errors: [
      'invalidRequest',
      'deviceNotFound',
      'actionInProgress',
      'deviceNotActive',
      'payloadTooLarge',
      'platformNotSupported',
      'idempotencyKeyReused',
      'tooManyRequests',
    ],
  },
  getDeviceActionResult: {
    operationId: 'GetDeviceActionResult',
    summary: 'Get reset passcode result',
    description:
      'The status monitor of one action: 202 (with Location and Retry-After) while it is pending or active, 200 ' +
      'once it is terminal. Callers holding Devices.Read may call it; without credentials, a valid signed link ' +
      '(`sig`, as in Location) authorises reading this one action. The passcode is shown only to callers holding ' +
      'Passcode.Read, never to a signed-link reader.',
    tag: 'Device actions',
    visibility: 'important',
    pathParams: ActionParamsSchema,
    query: PasscodeQuerySchema,
    statusLink: true,
    success: [
      {
        status: 200,
        description: 'The action is terminal (done, failed, canceled or notSupported).',
        schema: 'DeviceActionResult',
        optionalHeaders: ['Cache-Control'],
        example: EXAMPLE_DONE_ACTION,
      },
      {
        status: 202,
        description: 'The action is pending or active: ask again after Retry-After seconds.',
        schema: 'DeviceActionResult',
        headers: ['Location', 'Operation-Location', 'Retry-After'],
        example: EXAMPLE_PENDING_ACTION,
      },
    ],
    errors: ['invalidRequest', 'actionNotFound'],
  },
  cancelDeviceActionResult: {
    operationId: 'CancelDeviceActionResult',
    summary: 'Cancel a reset',
    description:
      'Cancels an action that no worker has started yet (pending), or one whose command waits for the device: the ' +
      'device channel is asked to cancel the command, and the action ends canceled once the channel confirms it ' +
      'will not apply (202 until then). Needs Passcode.Reset.',
    tag: 'Device actions',
    visibility: 'advanced',
    pathParams: ActionParamsSchema,
    success: [
      {
        status: 200,
        description: 'The canceled action.',
        schema: 'DeviceActionResult',
        example: { ...EXAMPLE_PENDING_ACTION, actionState: 'canceled' },
      },
      {
        status: 202,
        description:
          'The command waits for the device and the channel has not yet confirmed the cancel: follow Location; the ' +
          'action ends canceled, or as the device ran it.',
        schema: 'DeviceActionResult',
        headers: ['Location', 'Operation-Location', 'Retry-After'],
        example: EXAMPLE_WAITING_ACTION,
      },
    ],
    errors: ['invalidRequest', 'actionNotFound', 'actionNotCancelable'],
  },
  listDeviceActionResults: {
    operationId: 'ListDeviceActionResults',
    summary: 'List the actions of a device',
    description: "The device's reset passcode actions, newest first, a page at a time. Needs Devices.Read.",
    tag: 'Device actions',
    visibility: 'advanced',
    pathParams: DeviceParamsSchema,
    query: ListActionsQuerySchema,
    pageable: true,
    success: [
      {
        status: 200,
        description: 'A page of actions.',
        schema: 'DeviceActionResultList',
        optionalHeaders: ['Cache-Control'],
        example: { value: [EXAMPLE_DONE_ACTION] },
      },
    ],
    errors: ['invalidRequest'],
  },
  listAllDeviceActionResults: {
    operationId: 'ListAllDeviceActionResults',
    summary: 'List device actions',
    description: "Every device's reset passcode actions ('Device actions'), newest first. Needs Devices.Read.",
    visibility: 'important',
    tag: 'Device actions',
    query: ListActionsQuerySchema,
    pageable: true,
    success: [
      {
        status: 200,
        description: 'A page of actions.',
        schema: 'DeviceActionResultList',
        optionalHeaders: ['Cache-Control'],
        example: { value: [EXAMPLE_PENDING_ACTION] },
      },
    ],
    errors: ['invalidRequest'],
  },
  getSupportMatrix: {
    operationId: 'GetSupportMatrix',
    summary: 'Get the support matrix',
    description: 'Which platforms and versions support the reset passcode action, as data. Needs Devices.Read.',
    tag: 'Support',
    visibility: 'advanced',
    success: [{ status: 200, description: 'The support rules.', schema: 'SupportMatrix' }],
    errors: [],
  },
  listAuditEvents: {
    operationId: 'ListAuditEvents',
    summary: 'List audit events',
    description:
      'Who requested, canceled or viewed passcode resets and changed devices, newest first. Needs Audit.Read.',
    tag: 'Audit',
    visibility: 'advanced',
    query: ListAuditQuerySchema,
    pageable: true,
    success: [{ status: 200, description: 'A page of audit events.', schema: 'AuditEventList' }],
    errors: ['invalidRequest'],
  },
  simulatorUnlock: {
    operationId: 'SimulatorUnlock',
    summary: 'Unlock a simulated device',
    description:
      'Only available with DEVICE_CHANNEL=simulated (404 notFound otherwise): tries a passcode on a simulated ' +
      "device, 200 if it is the device's current passcode, 403 wrongPasscode otherwise; after 5 wrong passcodes the " +
      'device refuses attempts for 1, 5, 15, then 60 minutes (429 tooManyAttempts with Retry-After). Proves that the ' +
      'passcode shown is the one applied. Needs Passcode.Read.',
    tag: 'Simulator',
    visibility: 'internal',
    pathParams: DeviceParamsSchema,
    body: {
      name: 'UnlockRequest',
      schema: UnlockBodySchema,
      title: 'Unlock Request',
      description: 'The passcode to try.',
      required: true,
      example: { passcode: '729403' },
    },
    success: [
      {
        status: 200,
        description: 'The passcode unlocks the device.',
        schema: 'UnlockResult',
        example: { deviceId: EXAMPLE_DEVICE.id, unlocked: true },
      },
    ],
    errors: ['invalidRequest', 'wrongPasscode', 'notFound', 'payloadTooLarge', 'tooManyAttempts'],
  },
  createSubscription: {
    operationId: 'CreateSubscription',
    summary: 'Create a subscription',
    description:
      'Subscribes a notification URL to reset passcode actions that reach a terminal state (done, failed, canceled ' +
      'or notSupported), for every device or for one: each finished action is POSTed to it once, retried with a ' +
      'doubling wait from 10 seconds for up to 4 hours until it answers 2xx; 410 Gone deletes the subscription. ' +
      'Before the subscription is created, the service POSTs to the URL with a validationToken query parameter, and ' +
      'the URL must answer 200 with the token as text/plain within 10 seconds (workflow callback URLs are exempt). ' +
      `A subscription lives at most ${MAX_SUBSCRIPTION_HOURS} hours; renew it with Renew a subscription. Needs ` +
      'Devices.Read. As a trigger, it runs the flow once per finished action.',
    tag: 'Subscriptions',
    visibility: 'important',
    body: {
      name: 'SubscriptionRequest',
      schema: CreateSubscriptionBodySchema,
      title: 'Subscription',
      description: 'What to watch and where to send notifications; no other property is accepted.',
      required: true,
      example: {
        changeType: 'updated',
        notificationUrl: EXAMPLE_SUBSCRIPTION.notificationUrl,
        resource: EXAMPLE_SUBSCRIPTION.resource,
        expirationDateTime: EXAMPLE_SUBSCRIPTION.expirationDateTime,
        clientState: 'secret-of-the-receiver',
      },
    },
    success: [
      {
        status: 201,
        description: 'The subscription was created.',
        schema: 'Subscription',
        headers: ['Location', 'Cache-Control'],
        headerDescriptions: {
          Location: 'Absolute URL of the new subscription: GET, PATCH (renew) or DELETE (unsubscribe) it.',
          'Cache-Control': SUBSCRIPTION_NO_STORE,
        },
        example: EXAMPLE_SUBSCRIPTION,
      },
    ],
    trigger: {
      kind: 'single',
      summary: 'When a passcode reset finishes',
      hint: 'To see it work, reset the passcode of a device and wait until the reset finishes.',
      notificationUrlProperty: 'notificationUrl',
      bodyProperties: {
        changeType: { visibility: 'internal', default: 'updated' },
        resource: { visibility: 'important', default: 'deviceManagement/deviceActionResults' },
        expirationDateTime: { visibility: 'internal' },
        clientState: { visibility: 'advanced' },
      },
      content: 'ChangeNotificationCollection',
      contentDescription: 'The finished action, never its passcode.',
      contentExample: EXAMPLE_NOTIFICATION,
    },
    errors: [
      'invalidRequest',
      'subscriptionValidationFailed',
      'deviceNotFound',
      'payloadTooLarge',
      'tooManySubscriptions',
      'subscriptionCreationRateExceeded',
    ],
  },
  listSubscriptions: {
    operationId: 'ListSubscriptions',
    summary: 'List subscriptions',
    description:
      "The caller's subscriptions that have not expired. Needs Devices.Read; with all=true, every caller's, paged, " +
      'for an administrator who also holds Subscriptions.Manage.',
    tag: 'Subscriptions',
    visibility: 'advanced',
    success: [
      {
        status: 200,
        description: "The caller's subscriptions.",
        schema: 'SubscriptionList',
        headers: ['Cache-Control'],
        headerDescriptions: { 'Cache-Control': SUBSCRIPTION_NO_STORE },
        example: { value: [EXAMPLE_SUBSCRIPTION] },
      },
    ],
    errors: ['invalidRequest', 'forbidden'],
  },
  getSubscription: {
    operationId: 'GetSubscription',
    summary: 'Get a subscription',
    description:
      "One of the caller's subscriptions; another caller's is not found, unless the caller also holds " +
      'Subscriptions.Manage. Needs Devices.Read.',
    tag: 'Subscriptions',
    visibility: 'advanced',
    pathParams: SubscriptionParamsSchema,
    success: [
      {
        status: 200,
        description: 'The subscription.',
        schema: 'Subscription',
        headers: ['Cache-Control'],
        headerDescriptions: { 'Cache-Control': SUBSCRIPTION_NO_STORE },
        example: EXAMPLE_SUBSCRIPTION,
      },
    ],
    errors: ['invalidRequest', 'subscriptionNotFound'],
  },
  renewSubscription: {
    operationId: 'RenewSubscription',
    summary: 'Renew a subscription',
    description: `Moves the end of one of the caller's subscriptions, at most ${MAX_SUBSCRIPTION_HOURS} hours from now. Needs Devices.Read.`,
    tag: 'Subscriptions',
    visibility: 'advanced',
    pathParams: SubscriptionParamsSchema,
    body: {
      name: 'SubscriptionRenewal',
      schema: RenewSubscriptionBodySchema,
      title: 'Subscription Renewal',
      description: 'The new expiration; no other property is accepted.',
      required: true,
      example: { expirationDateTime: '2026-11-29T10:00:00.000Z' },
    },
    success: [
      {
        status: 200,
        description: 'The renewed subscription.',
        schema: 'Subscription',
        headers: ['Cache-Control'],
        headerDescriptions: { 'Cache-Control': SUBSCRIPTION_NO_STORE },
        example: EXAMPLE_SUBSCRIPTION,
      },
    ],
    errors: ['invalidRequest', 'subscriptionNotFound', 'payloadTooLarge'],
  },
  deleteSubscription: {
    operationId: 'DeleteSubscription',
    summary: 'Delete a subscription',
    description:
      "Deletes one of the caller's subscriptions: no notification is sent to it afterwards. This is how a flow's " +
      'trigger unsubscribes (the Location of the subscription). An administrator holding Subscriptions.Manage may ' +
      "delete any caller's. Needs Devices.Read.",
    tag: 'Subscriptions',
    visibility: 'advanced',
    pathParams: SubscriptionParamsSchema,
    success: [{ status: 204, description: 'The subscription was deleted.' }],
    errors: ['invalidRequest', 'subscriptionNotFound'],
  },
  syncManagedDevices: {
    operationId: 'SyncManagedDevices',
    summary: 'Sync Android devices',
    description:
      "Starts reading the Android Management enterprise's devices into the inventory now (a timer does it every 15 " +
      'minutes): new and changed devices are written, devices that left the enterprise are marked deleted. Only with ' +
      'the Android Management device channel. Needs Devices.Manage.',
    tag: 'Devices',
    visibility: 'advanced',
    body: {
      name: 'SyncManagedDevicesRequest',
      schema: SyncRequestSchema.shape.body,
      title: 'Sync Request',
      description: 'Optional and empty.',
      required: false,
      example: {},
    },
    success: [
      {
        status: 202,
        description: 'The sync started; the inventory changes while it reads the pages of the enterprise.',
        schema: 'DeviceSync',
        example: { syncStartedDateTime: '2026-11-26T10:00:00.000Z' },
      },
    ],
    finalResponse: {
      status: 200,
      description: 'The outputs a flow gets: when the sync started. Nothing is polled; the sync runs on by itself.',
      schema: 'DeviceSync',
      example: { syncStartedDateTime: '2026-11-26T10:00:00.000Z' },
    },
    errors: ['invalidRequest', 'payloadTooLarge', 'notFound'],
  },
  getMe: {
    operationId: 'GetSignedInCaller',
    summary: 'Get the signed in caller',
    description:
      'Who the request is served as and which roles of this service they hold, so that a client (the admin ' +
      'console) can hide or disable what the caller may not do. Any authenticated caller; no role needed.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The caller.', schema: 'SignedInCaller', headers: ['Cache-Control'] }],
    errors: [],
  },
  health: {
    operationId: 'GetHealth',
    summary: 'Check health',
    description: 'Liveness and storage reachability. Anonymous.',
    tag: 'Service',
    visibility: 'internal',
    success: [
      {
        status: 200,
        description: 'Healthy.',
        schema: 'Health',
        headers: ['Cache-Control'],
        example: { status: 'healthy', checks: { storage: 'ok' } },
      },
      {
        status: 503,
        description: 'Storage is unreachable.',
        schema: 'Health',
        headers: ['Cache-Control'],
        example: { status: 'unhealthy', checks: { storage: 'unreachable' } },
      },
    ],
    errors: ['internalServerError'],
  },
  openApi: {
    operationId: 'GetOpenApiDocument',
    summary: 'Get the OpenAPI document',
    description: 'This service described as an OpenAPI 3.1 document. Anonymous.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The OpenAPI 3.1 document.', schema: 'ApiDocument' }],
    errors: ['internalServerError'],
  },
  swagger: {
    operationId: 'GetSwaggerDocument',
    summary: 'Get the Swagger document',
    description: 'This service described as a Swagger 2.0 document, importable as a custom connector. Anonymous.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The Swagger 2.0 document.', schema: 'ApiDocument' }],
    errors: ['internalServerError'],
  },
};

export const TAGS = [
  { name: 'Devices', description: 'The managed device inventory.' },
  { name: 'Device actions', description: 'The reset passcode remote action and its state.' },
  { name: 'Support', description: 'Which platforms support reset passcode.' },
  { name: 'Audit', description: 'The audit trail.' },
  { name: 'Subscriptions', description: 'Notifications when reset passcode actions finish (webhooks).' },
  { name: 'Simulator', description: 'The simulated device channel (DEVICE_CHANNEL=simulated only).' },
  { name: 'Service', description: 'Health and the service description documents.' },
];

/** The title of both documents (and so of the connector): at most 30 characters, no product name. */
export const API_TITLE = 'Device Passcode Reset';
export const API_VERSION = '1.0';

/** The OpenAPI document's description, for developers. */
export const API_DESCRIPTION =
  "Performs Microsoft Intune's Reset passcode remote action on managed devices. Names follow Microsoft Graph's " +
  'Intune API (managedDevices, resetPasscode, deviceActionResults, actionState). Callers send an Entra ID access ' +
  'token whose app roles (Devices.Read, Devices.Manage, Passcode.Reset, Passcode.Read, Audit.Read) authorise them. ' +
  'Every 4xx and 5xx response has the ErrorBody shape; its error.code is stable.';

/**
 * The connector's description (30-500 characters): what it offers, without product names or the word "API", as
 * the connector string rules ask.
 */
export const CONNECTOR_DESCRIPTION =
  'Resets the passcode of a managed mobile device: a new passcode that fits the device policy is generated, applied ' +
  'to the device and shown to authorised administrators for a limited time. Follow each reset until it is done, ' +
  'list devices and device actions, and read the audit trail.';
