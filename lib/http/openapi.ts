import { z } from 'zod';
import { DeviceInputSchema } from '../core/model';
import { RETRY_AFTER_SECONDS } from './actionResponses';
import { MAX_BODY_BYTES } from './parse';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from './responseSchemas';
import { ROUTES, type RouteSpec } from './routes';
import {
  ActionParamsSchema,
  DeviceParamsSchema,
  IdempotencyKeySchema,
  ListActionsQuerySchema,
  ListAuditQuerySchema,
  ListDevicesQuerySchema,
  PasscodeQuerySchema,
  ResetPasscodeBodySchema,
  UnlockBodySchema,
} from './schemas';

/**
 * The API's two machine-readable descriptions, both generated from ROUTES, the request schemas of schemas.ts and the
 * response schemas of responseSchemas.ts, so that they cannot drift from the code:
 * - OpenAPI 3.1 (GET /api/openapi.json), whose schemas are JSON Schema 2020-12 as z.toJSONSchema writes them;
 * - Swagger 2.0 (GET /api/swagger.json), the only format a Power Platform custom connector imports, with the
 *   connector extensions (x-ms-summary, x-ms-visibility, x-ms-pageable, x-ms-capabilities).
 *   https://learn.microsoft.com/connectors/custom-connectors/define-openapi-definition
 *   https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions
 */

type JsonSchema = Record<string, unknown>;
type Json = Record<string, unknown>;
type RouteName = keyof typeof ROUTES;
type Visibility = 'important' | 'advanced' | 'internal';
type HeaderName = 'Location' | 'Operation-Location' | 'Retry-After' | 'Cache-Control' | 'WWW-Authenticate';

const API_TITLE = 'Intune Reset Passcode';
const API_VERSION = '1.0';
const BASE_PATH = '/api';
const JSON_TYPE = 'application/json';

// Power Platform's Azure AD (Entra ID) OAuth: the connector's connection signs in through these endpoints; the
// identity provider settings themselves live in apiProperties.json (tools/connector.ts).
const AAD_AUTHORIZATION_URL = 'https://login.microsoftonline.com/common/oauth2/authorize';
const AAD_TOKEN_URL = 'https://login.microsoftonline.com/common/oauth2/token';

// ---------------------------------------------------------------------------------------------------------------
// What each operation is: the one table both documents are written from. Record<RouteName, …> makes a new route
// in ROUTES a compile error until it is described here.

interface HeaderSpec {
  description: string;
  schema: JsonSchema;
}

const HEADERS: Record<HeaderName, HeaderSpec> = {
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
};

interface ErrorSpec {
  status: number;
  message: string;
  target?: string;
  /** Headers the error response always carries. */
  headers?: HeaderName[];
  details?: { code: string; message: string; target?: string }[];
}

/** The error codes of API.md, with the status each comes with and an example message. */
const ERRORS = {
  invalidRequest: {
    status: 400,
    message: 'The request body is not valid.',
    details: [{ code: 'invalidValue', message: 'Too big: expected string to have <=500 characters', target: 'reason' }],
  },
  unauthorized: {
    status: 401,
    message: 'Sign in: send an access token in the Authorization header as "Bearer <token>".',
    headers: ['WWW-Authenticate'],
  },
  forbidden: { status: 403, message: 'This operation needs the role Passcode.Reset.' },
  wrongPasscode: { status: 403, message: 'The passcode does not unlock this device.' },
  deviceNotFound: { status: 404, message: "No managed device with id 'x'.", target: 'deviceId' },
  actionNotFound: {
    status: 404,
    message: "No reset passcode action with id 'x' for this device.",
    target: 'actionId',
  },
  notFound: { status: 404, message: 'The simulator is only available with DEVICE_CHANNEL=simulated.' },
  actionInProgress: {
    status: 409,
    message: 'A passcode reset for this device is already in progress.',
    target: 'deviceId',
    headers: ['Location'],
  },
  actionNotCancelable: {
    status: 409,
    message: 'Only a pending action can be canceled; this one is active.',
    target: 'actionId',
  },
  payloadTooLarge: { status: 413, message: `The request body is larger than ${MAX_BODY_BYTES} bytes.`, target: 'body' },
  platformNotSupported: {
    status: 422,
    message: 'Reset passcode is not supported on macOS devices; Intune does not offer it for macOS.',
    target: 'operatingSystem',
  },
  idempotencyKeyReused: {
    status: 422,
    message: 'This Idempotency-Key was already used for a different device or request body.',
    target: 'Idempotency-Key',
  },
  tooManyRequests: {
    status: 429,
    message: "This device's passcode was reset 10 times in the last 24 hours, the most allowed.",
    headers: ['Retry-After'],
  },
  serviceUnavailable: {
    status: 503,
    message: 'The service is briefly unavailable; retry after the indicated delay.',
    headers: ['Retry-After'],
  },
  internalServerError: { status: 500, message: 'An unexpected error occurred.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** What any authenticated operation can answer besides its own errors. */
const AUTHENTICATED_ERRORS: ErrorCode[] = ['unauthorized', 'forbidden', 'serviceUnavailable', 'internalServerError'];
/** An operation open to any authenticated caller needs no role, so it never answers 403. */
const SIGNED_IN_ERRORS: ErrorCode[] = ['unauthorized', 'serviceUnavailable', 'internalServerError'];

interface ParameterSpec {
  title: string;
  description: string;
  visibility?: Visibility;
  example?: unknown;
}

/** Titles and descriptions of every path, query and header parameter, by `<in>.<name>`. */
const PARAMETERS: Record<string, ParameterSpec> = {
  'path.deviceId': {
    title: 'Device ID',
    description: 'The managed device id: 1-128 characters of A-Z, a-z, 0-9, ".", "_" or "-" (case-sensitive).',
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
  schema: z.ZodType;
  title: string;
  description: string;
  required: boolean;
  example: unknown;
}

interface SuccessSpec {
  status: number;
  description: string;
  schema: ResponseSchemaName;
  /** Headers the response always carries. */
  headers?: HeaderName[];
  /** Headers it carries in some cases. */
  optionalHeaders?: HeaderName[];
  example?: unknown;
}

interface OperationSpec {
  operationId: string;
  summary: string;
  description: string;
  tag: string;
  visibility?: Visibility;
  pathParams?: z.ZodObject;
  query?: z.ZodObject;
  body?: BodySpec;
  idempotencyKey?: boolean;
  /** The status monitor also accepts a signed link (query `sig`) instead of an access token. */
  statusLink?: boolean;
  pageable?: boolean;
  success: SuccessSpec[];
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

const ASYNC_PATTERN_NOTE =
  'Asynchronous: the 202 response carries Location and Operation-Location (the status monitor, with a signed ' +
  '`sig` link) and Retry-After. Logic Apps (HTTP action) and Power Automate (this connector, with the action ' +
  "setting 'Asynchronous pattern' on, the default) poll Location until a response other than 202 and output that " +
  'final response: the action in a terminal state (done, failed, canceled or notSupported).';

const OPERATIONS: Record<RouteName, OperationSpec> = {
  putManagedDevice: {
    operationId: 'PutManagedDevice',
    summary: 'Register or update a device',
    description: 'Creates the device in the inventory (201) or replaces its record (200). Needs Devices.Manage.',
    tag: 'Devices',
    visibility: 'advanced',
    pathParams: DeviceParamsSchema,
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
      { status: 200, description: 'The device was updated.', schema: 'ManagedDevice', example: EXAMPLE_DEVICE },
      { status: 201, description: 'The device was created.', schema: 'ManagedDevice', example: EXAMPLE_DEVICE },
    ],
    errors: ['invalidRequest', 'payloadTooLarge'],
  },
  listManagedDevices: {
    operationId: 'ListManagedDevices',
    summary: 'List devices',
    description: 'Lists the managed devices, optionally of one operating system, a page at a time. Needs Devices.Read.',
    tag: 'Devices',
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
    errors: [
      'invalidRequest',
      'deviceNotFound',
      'actionInProgress',
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
    summary: 'Cancel a pending reset',
    description: 'Cancels an action that no worker has started yet (pending). Needs Passcode.Reset.',
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
    ],
    errors: ['invalidRequest', 'actionNotFound', 'actionNotCancelable'],
  },
  listDeviceActionResults: {
    operationId: 'ListDeviceActionResults',
    summary: "List a device's actions",
    description: "The device's reset passcode actions, newest first, a page at a time. Needs Devices.Read.",
    tag: 'Device actions',
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
    description: 'Where Intune supports the reset passcode action, as data. Needs Devices.Read.',
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
      "device, 200 if it is the device's current passcode, 403 wrongPasscode otherwise. Proves that the passcode " +
      'shown is the one applied. Needs Devices.Read.',
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
    errors: ['invalidRequest', 'wrongPasscode', 'notFound', 'payloadTooLarge'],
  },
  getMe: {
    operationId: 'GetSignedInCaller',
    summary: 'Get the signed-in caller',
    description:
      'Who the request is served as and which API roles they hold, so that a client (the admin console) can hide ' +
      'or disable what the caller may not do. Any authenticated caller; no role needed.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The caller.', schema: 'SignedInCaller' }],
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
    description: 'This API as an OpenAPI 3.1 document. Anonymous.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The OpenAPI 3.1 document.', schema: 'ApiDocument' }],
    errors: ['internalServerError'],
  },
  swagger: {
    operationId: 'GetSwaggerDocument',
    summary: 'Get the Swagger document',
    description: 'This API as a Swagger 2.0 document, importable as a Power Automate custom connector. Anonymous.',
    tag: 'Service',
    visibility: 'internal',
    success: [{ status: 200, description: 'The Swagger 2.0 document.', schema: 'ApiDocument' }],
    errors: ['internalServerError'],
  },
};

const TAGS = [
  { name: 'Devices', description: 'The managed device inventory.' },
  { name: 'Device actions', description: 'The reset passcode remote action and its state.' },
  { name: 'Support', description: 'Which platforms support reset passcode.' },
  { name: 'Audit', description: 'The audit trail.' },
  { name: 'Simulator', description: 'The simulated device channel (DEVICE_CHANNEL=simulated only).' },
  { name: 'Service', description: 'Health and API documents.' },
];

const API_DESCRIPTION =
  "Performs Microsoft Intune's Reset passcode remote action on managed devices. Names follow Microsoft Graph's " +
  'Intune API (managedDevices, resetPasscode, deviceActionResults, actionState). Callers send an Entra ID access ' +
  'token whose app roles (Devices.Read, Devices.Manage, Passcode.Reset, Passcode.Read, Audit.Read) authorise them. ' +
  'Every 4xx and 5xx response has the ErrorBody shape; its error.code is stable.';

// ---------------------------------------------------------------------------------------------------------------
// The neutral model: routes joined with their operation specs.

interface Operation {
  route: RouteSpec;
  spec: OperationSpec;
  /** Path after the base path, with a leading slash and Functions route constraints removed. */
  path: string;
  method: 'get' | 'put' | 'post' | 'delete';
  parameters: Parameter[];
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
  info: ParameterSpec;
}

/** `{deviceId:regex}` and `{name?}` of Functions route templates become plain `{deviceId}`, `{name}`. */
const openApiPath = (route: string) => `/${route.replace(/\{([^}:?]+)[^}]*\}/g, '{$1}')}`;

const stripDialect = (schema: JsonSchema): JsonSchema => {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
};

const inputJsonSchema = (schema: z.ZodType): JsonSchema =>
  stripDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);

function parametersOf(spec: OperationSpec): Parameter[] {
  const parameters: Parameter[] = [];
  const add = (where: Parameter['in'], object: z.ZodObject | undefined) => {
    if (!object) return;
    const json = inputJsonSchema(object);
    const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json.required ?? []) as string[]);
    for (const [name, schema] of Object.entries(properties)) {
      const info = PARAMETERS[`${where}.${name}`];
      if (!info) throw new Error(`openapi: no description for ${where} parameter ${name}`);
      // A query parameter with a default is optional for the caller even though the parsed value always has it.
      parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema, info });
    }
  };
  add('path', spec.pathParams);
  add('query', spec.query);
  if (spec.idempotencyKey) {
    const info = PARAMETERS['header.Idempotency-Key'] as ParameterSpec;
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      schema: inputJsonSchema(IdempotencyKeySchema),
      info,
    });
  }
  return parameters;
}

function operations(): Operation[] {
  return (Object.keys(ROUTES) as RouteName[]).map((name) => {
    const route: RouteSpec = ROUTES[name];
    const spec = OPERATIONS[name];
    return {
      route,
      spec,
      path: openApiPath(route.route),
      method: route.method.toLowerCase() as Operation['method'],
      parameters: parametersOf(spec),
    };
  });
}

/** Every error code the operation can answer, in status order. */
function errorCodesOf(operation: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(operation.spec.errors);
  if (operation.route.role) for (const code of AUTHENTICATED_ERRORS) codes.add(code);
  if (operation.route.signedIn) for (const code of SIGNED_IN_ERRORS) codes.add(code);
  return [...codes].sort((a, b) => ERRORS[a].status - ERRORS[b].status);
}

/** Error codes grouped by status. */
function errorsByStatus(operation: Operation): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(operation)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}

function errorExample(code: ErrorCode, operation: Operation) {
  const spec: ErrorSpec = ERRORS[code];
  const message = code === 'forbidden' ? `This operation needs the role ${operation.route.role}.` : spec.message;
  return {
    error: {
      code,
      message,
      ...(spec.target && { target: spec.target }),
      ...(spec.details && { details: spec.details }),
      innerError: { 'request-id': '5d1e0c2a-7f3b-4e59-9c1d-2a6b8e4f0c13', date: '2026-11-26T10:00:00.000Z' },
    },
  };
}

function errorDescription(codes: ErrorCode[]): string {
  return codes.map((code) => `${code}: ${ERRORS[code].message}`).join(' | ');
}

/** Headers every error of a status carries (e.g. 429 always has Retry-After) and those only some carry. */
function errorHeaders(codes: ErrorCode[]): { always: HeaderName[]; sometimes: HeaderName[] } {
  const lists = codes.map((code) => [...((ERRORS[code] as ErrorSpec).headers ?? [])]);
  const all = new Set(lists.flat());
  const always = [...all].filter((h) => lists.every((list) => list.includes(h)));
  return { always, sometimes: [...all].filter((h) => !always.includes(h)) };
}

/** JSON schemas of the named response schemas, referring to each other through `refBase<Name>`. */
function responseComponents(refBase: string): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(RESPONSE_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `${refBase}${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, stripDialect(schema)]));
}

function requestComponents(): Record<string, JsonSchema> {
  const bodies = Object.values(OPERATIONS).flatMap((spec) => (spec.body ? [spec.body] : []));
  return Object.fromEntries(
    bodies.map((body) => [
      body.name,
      { title: body.title, description: body.description, ...inputJsonSchema(body.schema), examples: [body.example] },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAPI 3.1

const OPENAPI_REF = '#/components/schemas/';

/** The OpenAPI 3.1 document; `serverUrl` is the app's origin (e.g. https://app.azurewebsites.net). */
export function buildOpenApiDocument(options: { serverUrl?: string } = {}): Json {
  const server = options.serverUrl ? `${options.serverUrl.replace(/\/+$/, '')}${BASE_PATH}` : BASE_PATH;
  const paths: Record<string, Record<string, Json>> = {};
  for (const operation of operations()) {
    paths[operation.path] ??= {};
    (paths[operation.path] as Record<string, Json>)[operation.method] = openApiOperation(operation);
  }
  return {
    openapi: '3.1.0',
    info: { title: API_TITLE, version: API_VERSION, description: API_DESCRIPTION },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: server }],
    tags: TAGS,
    security: [{ entraId: [] }],
    paths,
    components: {
      schemas: { ...responseComponents(OPENAPI_REF), ...requestComponents() },
      headers: Object.fromEntries(
        Object.entries(HEADERS).map(([name, header]) => [
          name,
          { description: header.description, schema: header.schema },
        ]),
      ),
      securitySchemes: {
        entraId: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An Entra ID (Azure AD) OAuth 2.0 access token for this API, in `Authorization: Bearer <token>`. Its ' +
            '`roles` claim carries the app roles: Devices.Read, Devices.Manage, Passcode.Reset, Passcode.Read, Audit.Read.',
        },
        statusLink: {
          type: 'apiKey',
          in: 'query',
          name: 'sig',
          description: PARAMETERS['query.sig']?.description,
        },
      },
    },
  };
}

function openApiHeaders(always: HeaderName[] = [], sometimes: HeaderName[] = []): Json | undefined {
  if (always.length + sometimes.length === 0) return undefined;
  return Object.fromEntries([
    ...always.map((name) => [name, { ...HEADERS[name], required: true }]),
    ...sometimes.map((name) => [name, { ...HEADERS[name], required: false }]),
  ]);
}

function openApiOperation(operation: Operation): Json {
  const { spec, route } = operation;
  const responses: Record<string, Json> = {};
  for (const success of spec.success) {
    const headers = openApiHeaders(success.headers, success.optionalHeaders);
    responses[String(success.status)] = {
      description: success.description,
      ...(headers && { headers }),
      content: {
        [JSON_TYPE]: {
          schema: { $ref: `${OPENAPI_REF}${success.schema}` },
          ...(success.example !== undefined && { example: success.example }),
        },
      },
    };
  }
  for (const [status, codes] of errorsByStatus(operation)) {
    const { always, sometimes } = errorHeaders(codes);
    const headers = openApiHeaders(always, sometimes);
    responses[String(status)] = {
      description: errorDescription(codes),
      ...(headers && { headers }),
      content: {
        [JSON_TYPE]: {
          schema: { $ref: `${OPENAPI_REF}ErrorBody` },
          examples: Object.fromEntries(
            codes.map((code) => [code, { summary: code, value: errorExample(code, operation) }]),
          ),
        },
      },
    };
  }
  const security =
    route.role || route.signedIn ? [{ entraId: [] }, ...(spec.statusLink ? [{ statusLink: [] }] : [])] : [];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    ...(operation.parameters.length > 0 && {
      parameters: operation.parameters.map((p) => ({
        name: p.name,
        in: p.in,
        required: p.required,
        description: p.info.description,
        schema: p.schema,
        ...(p.info.example !== undefined && { example: p.info.example }),
      })),
    }),
    ...(spec.body && {
      requestBody: {
        required: spec.body.required,
        description: spec.body.description,
        content: { [JSON_TYPE]: { schema: { $ref: `${OPENAPI_REF}${spec.body.name}` }, example: spec.body.example } },
      },
    }),
    responses,
    security,
    ...(route.role && { 'x-required-role': route.role }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Swagger 2.0 for Power Platform custom connectors

const SWAGGER_REF = '#/definitions/';

/** "osVersion" → "OS Version", "$top" → "Top": a title for x-ms-summary when a schema has none. */
export function humanize(name: string): string {
  const words = name.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g) ?? [name];
  const acronyms: Record<string, string> = { Id: 'ID', Os: 'OS', Url: 'URL', Ad: 'AD' };
  return words
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .map((word) => acronyms[word] ?? word)
    .join(' ');
}

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Rewrites a JSON Schema 2020-12 schema (as z.toJSONSchema writes it) into the Swagger 2.0 subset: `const` becomes a
 * one-value `enum`, `examples` becomes `example`, a `oneOf`/`anyOf` of objects becomes one object whose properties
 * are the union (required: those every branch requires), refs point into `definitions`, and every property gets an
 * `x-ms-summary` (its title, else its humanized name) for the Power Automate designer.
 */
export function toSwaggerSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toSwaggerSchema);
  if (!isObject(schema)) return schema;
  const variants = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (variants) {
    const { oneOf: _o, anyOf: _a, ...rest } = schema;
    return toSwaggerSchema({ ...mergeVariants(variants), ...rest });
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case '$schema':
      case '$id':
      case '$defs':
      case 'propertyNames':
      case 'prefixItems':
      case 'contentEncoding':
      case 'contentMediaType':
        break;
      case '$ref':
        out.$ref = String(value).replace(OPENAPI_REF, SWAGGER_REF);
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'examples':
        if (Array.isArray(value) && value.length > 0) out.example = value[0];
        break;
      case 'type':
        if (Array.isArray(value)) {
          const types = value.filter((t) => t !== 'null');
          out.type = types[0];
          if (types.length < value.length) out['x-nullable'] = true;
        } else {
          out.type = value;
        }
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (typeof value === 'number') {
          out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = value;
          out[key] = true;
        }
        break;
      case 'properties':
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, unknown>).map(([name, property]) => {
            const converted = toSwaggerSchema(property) as JsonSchema;
            return [name, { ...converted, 'x-ms-summary': converted.title ?? humanize(name) }];
          }),
        );
        break;
      default:
        out[key] = isObject(value) || Array.isArray(value) ? toSwaggerSchema(value) : value;
    }
  }
  // A long generated date-time pattern says nothing `format` does not, and clutters the connector.
  if (out.format === 'date-time') delete out.pattern;
  return out;
}

function mergeVariants(variants: JsonSchema[]): JsonSchema {
  if (!variants.every((v) => v.type === 'object')) return {};
  const properties: Record<string, JsonSchema> = {};
  for (const variant of variants) {
    for (const [name, property] of Object.entries((variant.properties ?? {}) as Record<string, JsonSchema>)) {
      const seen = properties[name];
      if (!seen) {
        properties[name] = property;
      } else if ('const' in seen && 'const' in property && seen.const !== property.const) {
        const { const: _c, ...rest } = seen;
        properties[name] = { ...rest, enum: [seen.const, property.const] };
      }
    }
  }
  const requiredLists = variants.map((v) => (v.required ?? []) as string[]);
  const required = (requiredLists[0] ?? []).filter((name) => requiredLists.every((list) => list.includes(name)));
  const closed = variants.every((v) => v.additionalProperties === false);
  return {
    type: 'object',
    properties,
    ...(required.length > 0 && { required }),
    ...(closed && { additionalProperties: false }),
  };
}

/** A non-body Swagger parameter carries its schema's keywords itself. */
const PARAMETER_KEYWORDS = [
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
] as const;

function swaggerParameter(parameter: Parameter): Json {
  const schema = toSwaggerSchema(parameter.schema) as JsonSchema;
  const keywords = Object.fromEntries(PARAMETER_KEYWORDS.flatMap((k) => (k in schema ? [[k, schema[k]]] : [])));
  return {
    name: parameter.name,
    in: parameter.in,
    required: parameter.required,
    description: parameter.info.description,
    'x-ms-summary': parameter.info.title,
    ...(parameter.info.visibility && { 'x-ms-visibility': parameter.info.visibility }),
    ...keywords,
    ...(keywords.type === undefined && { type: 'string' }),
  };
}

function swaggerHeaders(always: HeaderName[] = [], sometimes: HeaderName[] = []): Json | undefined {
  const names = [...always, ...sometimes];
  if (names.length === 0) return undefined;
  return Object.fromEntries(
    names.map((name) => {
      const { type, format } = HEADERS[name].schema as { type: string; format?: string };
      return [name, { type, ...(format && { format }), description: HEADERS[name].description }];
    }),
  );
}

function swaggerOperation(operation: Operation): Json {
  const { spec, route } = operation;
  const parameters = operation.parameters.map(swaggerParameter);
  if (spec.statusLink) {
    parameters.push({
      name: 'sig',
      in: 'query',
      required: false,
      type: 'string',
      description: PARAMETERS['query.sig']?.description,
      'x-ms-summary': PARAMETERS['query.sig']?.title,
      'x-ms-visibility': 'internal',
    });
  }
  if (spec.body) {
    parameters.push({
      name: 'body',
      in: 'body',
      required: spec.body.required,
      description: spec.body.description,
      'x-ms-summary': spec.body.title,
      schema: { $ref: `${SWAGGER_REF}${spec.body.name}` },
    });
  }
  const responses: Record<string, Json> = {};
  for (const success of spec.success) {
    const headers = swaggerHeaders(success.headers, success.optionalHeaders);
    responses[String(success.status)] = {
      description: success.description,
      schema: { $ref: `${SWAGGER_REF}${success.schema}` },
      ...(headers && { headers }),
      ...(success.example !== undefined && { examples: { [JSON_TYPE]: success.example } }),
    };
  }
  for (const [status, codes] of errorsByStatus(operation)) {
    const { always, sometimes } = errorHeaders(codes);
    const headers = swaggerHeaders(always, sometimes);
    responses[String(status)] = {
      description: errorDescription(codes),
      schema: { $ref: `${SWAGGER_REF}ErrorBody` },
      ...(headers && { headers }),
      examples: { [JSON_TYPE]: errorExample(codes[0] as ErrorCode, operation) },
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: [spec.tag],
    ...(spec.visibility && { 'x-ms-visibility': spec.visibility }),
    ...(spec.body && { consumes: [JSON_TYPE] }),
    produces: [JSON_TYPE],
    parameters,
    responses,
    ...(route.role || route.signedIn ? {} : { security: [] }),
    ...(spec.pageable && { 'x-ms-pageable': { nextLinkName: '@odata.nextLink' } }),
  };
}

/** The Swagger 2.0 document of a Power Platform custom connector for the app at `host`. */
export function buildSwaggerDocument(options: { host?: string; basePath?: string; schemes?: string[] } = {}): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const operation of operations()) {
    paths[operation.path] ??= {};
    (paths[operation.path] as Record<string, Json>)[operation.method] = swaggerOperation(operation);
  }
  const definitions = Object.fromEntries(
    Object.entries({ ...responseComponents(OPENAPI_REF), ...requestComponents() }).map(([name, schema]) => [
      name,
      toSwaggerSchema(schema),
    ]),
  );
  return {
    swagger: '2.0',
    info: { title: API_TITLE, version: API_VERSION, description: API_DESCRIPTION },
    host: options.host ?? 'localhost:7071',
    basePath: options.basePath ?? BASE_PATH,
    schemes: options.schemes ?? ['https'],
    consumes: [JSON_TYPE],
    produces: [JSON_TYPE],
    tags: TAGS,
    paths,
    definitions,
    // Power Platform uses the first security definition only, and no client-credentials flow: one accessCode
    // (authorization code) definition for Entra ID. https://learn.microsoft.com/connectors/custom-connectors/define-openapi-definition
    securityDefinitions: {
      oauth2_auth: {
        type: 'oauth2',
        flow: 'accessCode',
        authorizationUrl: AAD_AUTHORIZATION_URL,
        tokenUrl: AAD_TOKEN_URL,
        scopes: {},
        description: 'Entra ID (Azure AD) sign-in; the identity provider settings are in apiProperties.json.',
      },
    },
    security: [{ oauth2_auth: [] }],
    // Lets Power Platform check a new connection by calling an operation that every reader may call.
    'x-ms-capabilities': { testConnection: { operationId: OPERATIONS.getSupportMatrix.operationId, parameters: {} } },
  };
}
