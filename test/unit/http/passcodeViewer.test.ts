import { describe, expect, it } from 'vitest';
import { passcodeViewer } from '../../../lib/http/passcodeViewer';
import { ALL_ROLES, type Caller } from '../../../lib/security/caller';

describe('passcodeViewer', () => {
  const admin: Caller = { id: 'oid-1', name: 'ana@contoso.com', roles: new Set(ALL_ROLES) };

  it('keeps the caller as is when passcodes are wanted', () => {
    expect(passcodeViewer(admin, true)).toBe(admin);
  });

  it('drops Passcode.Read, and nothing else, when they are not', () => {
    const viewer = passcodeViewer(admin, false);
    expect(viewer.id).toBe(admin.id);
    expect(viewer.name).toBe(admin.name);
    expect([...viewer.roles]).toEqual(ALL_ROLES.filter((role) => role !== 'Passcode.Read'));
    expect(admin.roles.has('Passcode.Read')).toBe(true); // the caller itself is not changed
  });
});
