import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../lib/core/errors';
import { ALL_ROLES, type Caller, type Role, requireRole, unauthorized } from '../../../lib/security/caller';

const caller = (...roles: Role[]): Caller => ({
  id: 'u1',
  name: 'ana@contoso.com',
  roles: new Set(roles),
});

describe('requireRole', () => {
  it('lets a caller with the role through', () => {
    expect(() => requireRole(caller('Passcode.Reset'), 'Passcode.Reset')).not.toThrow();
  });

  it('throws 403 forbidden naming the missing role', () => {
    const attempt = () => requireRole(caller('Devices.Read', 'Passcode.Read'), 'Passcode.Reset');
    expect(attempt).toThrow(ApiError);
    expect(attempt).toThrow(expect.objectContaining({ status: 403, code: 'forbidden' }));
    expect(attempt).toThrow(/needs the role Passcode\.Reset/);
  });

  it('knows the six roles of docs/API.md', () => {
    expect([...ALL_ROLES].sort()).toEqual(
      [
        'Audit.Read',
        'Devices.Manage',
        'Devices.Read',
        'Passcode.Read',
        'Passcode.Reset',
        'Subscriptions.Manage',
      ].sort(),
    );
  });
});

describe('unauthorized', () => {
  it('is a 401 with a bare Bearer challenge when no token was presented', () => {
    const error = unauthorized('Sign in.');
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', message: 'Sign in.' });
    expect(error.extra.headers).toEqual({ 'WWW-Authenticate': 'Bearer' });
  });

  it('adds error="invalid_token" and a quoted-string-safe description when a token was rejected', () => {
    const error = unauthorized('The "token" has\\expired.', { tokenRejected: true });
    expect(error.extra.headers?.['WWW-Authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The token hasexpired."',
    );
  });
});
