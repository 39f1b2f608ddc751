import { type ApiError, apiError } from '../core/errors';

/** App roles a caller can hold (docs/API.md "Roles"); they arrive as app roles in the caller's token. */
export type Role =
  | 'Devices.Read'
  | 'Devices.Manage'
  | 'Passcode.Reset'
  | 'Passcode.Read'
  | 'Audit.Read'
  | 'Subscriptions.Manage';

/** Every role, in a stable order. */
export const ALL_ROLES: readonly Role[] = [
  'Devices.Read',
  'Devices.Manage',
  'Passcode.Reset',
  'Passcode.Read',
  'Audit.Read',
  'Subscriptions.Manage',
];

const ROLE_SET: ReadonlySet<string> = new Set(ALL_ROLES);

/** Whether a string from a token names one of this app's roles. */
export const isRole = (value: string): value is Role => ROLE_SET.has(value);

/** The authenticated caller of a request. */
export interface Caller {
  id: string;
  name: string;
  roles: ReadonlySet<Role>;
}

/** Throws 403 `forbidden` unless the caller holds `role`. */
export function requireRole(caller: Caller, role: Role): void {
  if (!caller.roles.has(role)) {
    throw apiError('forbidden', { reason: `This operation needs the role ${role}.` });
  }
}

/**
 * A 401 `unauthorized` error with the `WWW-Authenticate: Bearer` challenge that RFC 6750 §3 requires.
 * `tokenRejected` adds `error="invalid_token"`: per RFC 6750 §3.1 a request that carried no token gets no error code.
 * https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function unauthorized(message: string, options: { tokenRejected?: boolean } = {}): ApiError {
  return apiError(
    'unauthorized',
    { reason: message },
    { headers: { 'WWW-Authenticate': bearerChallenge(message, options) } },
  );
}

function bearerChallenge(message: string, options: { tokenRejected?: boolean }): string {
  if (!options.tokenRejected) return 'Bearer';
  // error_description must not contain '"' or '\' (RFC 6750 §3); our messages are fixed texts, strip them anyway.
  const description = message.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
  return `Bearer error="invalid_token", error_description="${description}"`;
}
