/**
 * Every error code the API answers, once: its HTTP status, its message (a template whose `{name}` placeholders are
 * filled in where the error is raised), the input it blames, and the headers its response carries. Throw sites build
 * their errors from it (`apiError` in ./errors), and the OpenAPI and Swagger documents and the error table of
 * docs/API.md are generated from it, so the three cannot disagree.
 */

/** Headers an error response carries; their values are computed where the error is raised. */
type ErrorHeader = 'Location' | 'Retry-After' | 'WWW-Authenticate';

export interface ErrorEntry {
  readonly status: number;
  /** For people; never a secret. `{name}` placeholders are filled in from the error's parameters. */
  readonly message: string;
  /** The input at fault, when it is always the same one. */
  readonly target?: string;
  /** Headers the response always carries. */
  readonly headers?: readonly ErrorHeader[];
  /** Headers it carries in some cases. */
  readonly optionalHeaders?: readonly ErrorHeader[];
  /** When it happens (the documents and docs/API.md). */
  readonly when: string;
  /** Placeholder values for examples in the documents. */
  readonly example?: Readonly<Record<string, string>>;
}

export const ERROR_CATALOGUE = {
  invalidRequest: {
    status: 400,
    message: 'The request is not valid: {fields}.',
    when: 'A path parameter, query parameter, header or the body is not valid; `details` lists every bad field.',
    example: { fields: 'reason' },
  },
  unauthorized: {
    status: 401,
    message: '{reason}',
    headers: ['WWW-Authenticate'],
    when: 'No credentials, or credentials that were refused (the message says why).',
    example: { reason: 'Sign in: send an access token in the Authorization header as "Bearer <token>".' },
  },
  forbidden: {
    status: 403,
    message: '{reason}',
    optionalHeaders: ['WWW-Authenticate'],
    when:
      'The caller lacks the role the operation needs, a delegated token lacks the required scope (then with a ' +
      'Bearer insufficient_scope challenge), or the client application is not allowed.',
    example: { reason: 'This operation needs the role Passcode.Reset.' },
  },
  wrongPasscode: {
    status: 403,
    message: 'The passcode does not unlock this device.',
    when: "Simulator unlock with a passcode that is not the simulated device's current one.",
  },
  deviceNotFound: {
    status: 404,
    message: "No managed device with id '{deviceId}'.",
    target: 'deviceId',
    when: 'No device with that id is registered.',
    example: { deviceId: '3f0c2b7e-5d1a-4c8e-9a77-1b2f3c4d5e6f' },
  },
  actionNotFound: {
    status: 404,
    message: "No reset passcode action with id '{actionId}' for this device.",
    target: 'actionId',
    when: 'The device has no action with that id.',
    example: { actionId: '8235918799999-4f1c2a9b7e3d5a6c8b0e' },
  },
  notFound: {
    status: 404,
    message: '{reason}',
    when: 'A simulator route while the app uses another device channel, or an admin console file that does not exist.',
    example: { reason: 'The simulator is only available with DEVICE_CHANNEL=simulated.' },
  },
  subscriptionNotFound: {
    status: 404,
    message: "No subscription with id '{subscriptionId}'.",
    target: 'subscriptionId',
    when: "The caller has no subscription with that id (another caller's is as unknown as a missing one).",
    example: { subscriptionId: '7f3c9a2e-1b4d-4e6f-8a0b-2c3d4e5f6a7b' },
  },
  subscriptionValidationFailed: {
    status: 400,
    message:
      'The notificationUrl did not answer the validation request with 200 and the validationToken as text/plain within 10 seconds.',
    target: 'notificationUrl',
    when: 'Creating a subscription whose notificationUrl fails the validation handshake; nothing is stored.',
  },
  preconditionFailed: {
    status: 412,
    message: 'The If-Match condition failed: {reason}.',
    target: 'If-Match',
    when:
      "A PUT of a device with If-Match whose ETag is not the device's current one (it changed since it was read), or " +
      'If-Match on a device that does not exist.',
    example: { reason: 'the device changed since it was read' },
  },
  deviceNotActive: {
    status: 409,
    message: '{reason}',
    target: 'deviceId',
    when:
      'The device channel cannot send the device commands now: with Android Management, the device is not active in ' +
      'the enterprise (disabled, deleted, provisioning, lost…) or not enrolled in it.',
    example: { reason: 'The device is disabled in Android Management; only active devices take commands.' },
  },
  actionInProgress: {
    status: 409,
    message: 'A passcode reset for this device is already in progress.',
    target: 'deviceId',
    headers: ['Location'],
    when: 'The device already has a reset that is not terminal; Location points to it.',
  },
  actionNotCancelable: {
    status: 409,
    message: 'The action cannot be canceled: {reason}.',
    target: 'actionId',
    when:
      'Cancel of an action that is neither pending nor waiting for the device, or whose device channel cannot cancel ' +
      'commands.',
    example: { reason: 'a worker is sending it to the device right now; try again in a few seconds' },
  },
  payloadTooLarge: {
    status: 413,
    message: 'The request body is larger than {maxBytes} bytes.',
    target: 'body',
    when: 'A request body over 64 KiB.',
    example: { maxBytes: '65536' },
  },
  platformNotSupported: {
    status: 422,
    message: '{note}',
    target: 'operatingSystem',
    when: "The reset passcode action is not supported on the device's platform or version; the message says why.",
    example: { note: 'Reset passcode is not supported on macOS devices; Intune does not offer it for macOS.' },
  },
  idempotencyKeyReused: {
    status: 422,
    message: 'This Idempotency-Key was already used for a different device or request body.',
    target: 'Idempotency-Key',
    when: 'The caller reused an Idempotency-Key with another device or body.',
  },
  tooManyRequests: {
    status: 429,
    message: "This device's passcode was reset {limit} times in the last 24 hours, the most allowed.",
    headers: ['Retry-After'],
    when: 'The device reached MAX_RESETS_PER_DEVICE_PER_DAY; Retry-After says when the oldest leaves the window.',
    example: { limit: '10' },
  },
  tooManySubscriptions: {
    status: 429,
    message: 'The caller holds {limit} live subscriptions, the most allowed; delete one or let one expire.',
    headers: ['Retry-After'],
    when: 'Creating a subscription while the caller holds MAX_SUBSCRIPTIONS_PER_OWNER live ones; Retry-After says when the first expires.',
    example: { limit: '20' },
  },
  subscriptionCreationRateExceeded: {
    status: 429,
    message: 'The caller created {limit} subscriptions in the last hour, the most allowed.',
    headers: ['Retry-After'],
    when: 'Creating a subscription past SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR; Retry-After says when the hour ends.',
    example: { limit: '20' },
  },
  tooManyAttempts: {
    status: 429,
    message: 'Too many wrong passcodes: the device refuses attempts for a while.',
    headers: ['Retry-After'],
    when: 'Simulator unlock while the simulated device is locked out after wrong passcodes (1, 5, 15, then 60 minutes).',
  },
  internalServerError: {
    status: 500,
    message: 'An unexpected error occurred.',
    when: 'A failure the app did not expect; innerError.request-id finds it in the logs.',
  },
  serviceUnavailable: {
    status: 503,
    message: '{reason}; retry after the indicated delay.',
    headers: ['Retry-After'],
    when: "Storage, or Entra ID's signing keys, cannot be reached for now, or storage did not answer within the request's 10 s budget.",
    example: { reason: 'The service is briefly unavailable' },
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The `{name}` placeholders of a message template, as a union of names. */
type Placeholders<S extends string> = S extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The values an error's message needs. */
export type ErrorParams<C extends ErrorCode> = {
  readonly [Name in Placeholders<(typeof ERROR_CATALOGUE)[C]['message']>]: string | number;
};

/** The headers an error's response can carry. */
export type ErrorHeaders<C extends ErrorCode> =
  | ((typeof ERROR_CATALOGUE)[C] extends { headers: readonly (infer H extends ErrorHeader)[] } ? H : never)
  | ((typeof ERROR_CATALOGUE)[C] extends { optionalHeaders: readonly (infer H extends ErrorHeader)[] } ? H : never);

/** Fills a message template's placeholders; a placeholder without a value is left as it is. */
export function formatMessage(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) =>
    name in params ? String(params[name]) : placeholder,
  );
}

/** Every code, in the order the documents list them (by status, then as declared). */
export const ERROR_CODES: readonly ErrorCode[] = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).sort(
  (a, b) => ERROR_CATALOGUE[a].status - ERROR_CATALOGUE[b].status,
);

/** The catalogue's example message of a code (its placeholders filled with the example values). */
export const exampleMessage = (code: ErrorCode): string => {
  const entry: ErrorEntry = ERROR_CATALOGUE[code];
  return formatMessage(entry.message, entry.example ?? {});
};
