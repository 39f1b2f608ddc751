import { describe, expect, it } from 'vitest';
import { passcodeCacheHeaders, passcodeViewer } from '../../../lib/http/passcodeViewer';
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

describe('passcodeCacheHeaders', () => {
  it('says no-store as soon as one view shows a passcode, an empty passcode included', () => {
    expect(passcodeCacheHeaders([{}, { passcode: '482913' }, undefined])).toEqual({ 'Cache-Control': 'no-store' });
    expect(passcodeCacheHeaders([{ passcode: '' }])).toEqual({ 'Cache-Control': 'no-store' });
  });

  it('adds nothing when no view shows one (a cache may keep what is not secret)', () => {
    expect(passcodeCacheHeaders([])).toEqual({});
    expect(passcodeCacheHeaders([undefined, {}, { passcode: undefined }])).toEqual({});
  });
});
