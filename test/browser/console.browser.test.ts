import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../lib/security/caller';
import { call, type Stack, startStack } from '../e2e/stack';
import {
  type ConsoleContext,
  consoleContext,
  expectNoSeriousAxeViolations,
  launchChromium,
  screenshot,
  tabTo,
} from './browser';
import { type FakeEntra, type FakeUser, startFakeEntra } from './fakeEntra';

const ADMIN: FakeUser = { name: 'ana.admin@contoso.com', roles: ALL_ROLES };
const HELPDESK: FakeUser = { name: 'bob.helpdesk@contoso.com', roles: ['Devices.Read', 'Passcode.Reset'] };
const VIEWER: FakeUser = { name: 'carol.viewer@contoso.com', roles: ['Devices.Read'] };

// 101 scanners fill the first page of 100 (devices list by id), so the people's devices are on the second page.
const SCANNERS = Array.from({ length: 101 }, (_, i) => String(i).padStart(3, '0'));
const DEVICES: Record<string, Record<string, unknown>> = {
  'user-ana-iphone': {
    deviceName: "Ana's iPhone",
    operatingSystem: 'iOS',
    osVersion: '17.5',
    userPrincipalName: 'ana@contoso.com',
    passcodePolicy: { minLength: 6, characters: 'numeric', complex: true },
  },
  'user-bob-iphone': {
    deviceName: "Bob's iPhone",
    operatingSystem: 'iOS',
    osVersion: '16.7',
    userPrincipalName: 'bob@contoso.com',
  },
  'user-dan-android': {
    deviceName: "Dan's Galaxy S5",
    operatingSystem: 'Android',
    osVersion: '6.0.1',
    userPrincipalName: 'dan@contoso.com',
  },
  'user-eve-iphone': {
    deviceName: "Eve's iPhone",
    operatingSystem: 'iOS',
    osVersion: '17.1',
    userPrincipalName: 'eve@contoso.com',
  },
  'win-finance-laptop': {
    deviceName: 'Finance laptop',
    operatingSystem: 'Windows',
    osVersion: '10.0.22631',
    azureADJoined: true,
    userPrincipalName: 'finance@contoso.com',
  },
};

describe('admin console in a real browser (AUTH_MODE=entra, MSAL.js against a fake Entra ID)', () => {
  let stack: Stack;
  let entra: FakeEntra;
  let browser: Browser;
  const contexts: ConsoleContext[] = [];

  const api = async (path: string, init: RequestInit & { json?: unknown } = {}) =>
    call(`${stack.api}/${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${await entra.accessToken(ADMIN)}`, ...(init.headers as object) },
    });

  beforeAll(async () => {
    entra = await startFakeEntra();
    stack = await startStack(entra.settings);
    browser = await launchChromium();
    const ids = [...SCANNERS.map((n) => `scanner-${n}`), ...Object.keys(DEVICES)];
    for (let i = 0; i < ids.length; i += 12) {
      await Promise.all(
        ids.slice(i, i + 12).map(async (id) => {
          const json = DEVICES[id] ?? {
            deviceName: `Warehouse scanner ${id.slice(-3)}`,
            operatingSystem: 'Android',
            osVersion: '6.0.1',
            userPrincipalName: 'scanners@contoso.com',
          };
          const put = await api(`deviceManagement/managedDevices/${id}`, { method: 'PUT', json });
          expect(put.status, id).toBe(201);
        }),
      );
    }
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await entra?.stop();
  });

  /** A browser context signed in (by the fake Entra ID) as `user`, with its guards checked after the test. */
  async function contextFor(user: FakeUser, viewport?: { width: number; height: number }) {
    const console = await consoleContext(browser, viewport ? { viewport } : {});
    await entra.signInAs(console.context, user);
    contexts.push(console);
    return console;
  }

  /** Opens the console and signs in through MSAL.js; lands on All devices. */
  async function signIn(page: Page, options: { axe?: boolean } = {}) {
    await page.goto(`${stack.host.url}/api/console`);
    const signInButton = page.getByRole('button', { name: 'Sign in', exact: true });
    await signInButton.waitFor();
    if (options.axe) await expectNoSeriousAxeViolations(page, 'the sign-in page');
    await signInButton.click();
    await page.getByRole('heading', { level: 1, name: 'All devices' }).waitFor();
  }

  const passcodeViews = async (deviceId: string, actionId: string) => {
    const audit = await api(`deviceManagement/auditEvents?deviceId=${deviceId}&$top=100`);
    expect(audit.status).toBe(200);
    return audit.body.value.filter(
      (e: { eventType: string; actionId?: string }) => e.eventType === 'passcodeViewed' && e.actionId === actionId,
    );
  };

  const statusLine = (page: Page) => page.locator('.state-line');

  it('the documented journey: All devices → a device → Reset passcode → the new passcode, which unlocks the device', async () => {
    const admin = await contextFor(ADMIN);
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.host.url });
    const page = await admin.newPage();
    const bodies: Promise<string>[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname.startsWith('/api/') && !response.url().includes('/api/console')) {
        bodies.push(response.text().catch(() => ''));
      }
    });

    await signIn(page, { axe: true });
    expect(entra.pkceExchanges).toBeGreaterThan(0);

    // Devices → All devices: the first page, then a platform filter, and a search by user that finds a device of the
    // second page (search.browser.test.ts tests the search further).
    await page.getByText('100 devices shown; more to load.').waitFor();
    await expectNoSeriousAxeViolations(page, 'All devices');
    await screenshot(page, '1-all-devices');
    await page.getByLabel('Platform').selectOption('iOS');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    await page.getByLabel('Platform').selectOption('');
    await page.getByText('100 devices shown; more to load.').waitFor();
    await page.getByLabel('Search by name or user').fill('ana@contoso');
    const row = page.locator('tbody tr', { hasText: "Ana's iPhone" });
    await row.waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await row.textContent()).toContain('Supported on iOS devices.');

    // The device's Overview.
    await row.getByRole('link', { name: "Ana's iPhone" }).click();
    await page.getByRole('heading', { level: 1, name: "Ana's iPhone" }).waitFor();
    await page.getByText('At least 6 digits, complex').waitFor();
    await expectNoSeriousAxeViolations(page, 'the device overview');
    await screenshot(page, '2-device-overview');

    // Remote action Reset passcode: the confirmation dialog with a reason.
    await page.getByRole('button', { name: 'Reset passcode', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset passcode' });
    await dialog.waitFor();
    await dialog.getByLabel('Reason').fill('User locked out, ticket 4411');
    await expectNoSeriousAxeViolations(page, 'the reset dialog');
    await screenshot(page, '3-reset-dialog');
    await dialog.getByRole('button', { name: 'Reset', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });

    // Live progress from the status monitor, until done.
    await expect.poll(() => statusLine(page).textContent()).toMatch(/Pending|Active/);
    await screenshot(page, '4-reset-in-progress');
    await expect.poll(() => statusLine(page).textContent(), { timeout: 30_000 }).toBe('Status: Done');
    const field = page.getByLabel('New passcode', { exact: true });
    expect(await field.getAttribute('type')).toBe('password');
    await expectNoSeriousAxeViolations(page, 'the device overview with a done reset');
    await screenshot(page, '5-reset-done-masked');

    // Nothing has shown the passcode yet: no API response carried one, and no view is audited.
    const actions = await api(
      'deviceManagement/managedDevices/user-ana-iphone/deviceActionResults?includePasscode=false',
    );
    const action = actions.body.value[0];
    expect(action.actionState).toBe('done');
    expect(action.reason).toBe('User locked out, ticket 4411');
    expect((await Promise.all(bodies)).filter((body) => body.includes('"passcode"'))).toEqual([]);
    expect(await passcodeViews('user-ana-iphone', action.id)).toHaveLength(0);

    // Revealing fetches it (one audited view), shows it, and copies it.
    await page.getByRole('button', { name: 'Show passcode' }).click();
    await expect.poll(() => field.getAttribute('type')).toBe('text');
    const passcode = await field.inputValue();
    expect(passcode).toMatch(/^\d{6}$/);
    await screenshot(page, '6-new-passcode');
    await page.getByRole('button', { name: 'Copy passcode' }).click();
    await page.getByText('Passcode copied to the clipboard; it is cleared from there in 30 seconds.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(passcode);
    const views = await passcodeViews('user-ana-iphone', action.id);
    expect(views).toHaveLength(1);
    expect(views[0].callerName).toBe(ADMIN.name);

    // Hiding drops it: it leaves the page, Copy is off, and showing it again fetches it again (a second audited view).
    await page.getByRole('button', { name: 'Show passcode' }).click();
    await expect.poll(() => field.getAttribute('type')).toBe('password');
    expect(await page.content()).not.toContain(passcode);
    expect(await page.getByRole('button', { name: 'Copy passcode' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Show passcode' }).click();
    await expect.poll(() => field.getAttribute('type')).toBe('text');
    expect(await field.inputValue()).toBe(passcode);
    expect(await passcodeViews('user-ana-iphone', action.id)).toHaveLength(2);

    // The passcode shown is the one the device got.
    const unlock = await api('simulator/managedDevices/user-ana-iphone/unlock', { method: 'POST', json: { passcode } });
    expect(unlock.status).toBe(200);
    expect(unlock.body.unlocked).toBe(true);

    // Device actions: the action, with a link to its device.
    await page.getByRole('link', { name: 'Device actions', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Device actions' }).waitFor();
    const actionRow = page.locator('tbody tr', { hasText: 'user-ana-iphone' });
    expect(await actionRow.textContent()).toContain('Done');
    await page.getByLabel('State').selectOption('done');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await expectNoSeriousAxeViolations(page, 'Device actions');
    await screenshot(page, '7-device-actions');

    // Audit log: the request and the two views (shown, hidden, shown again).
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await page.locator('tbody tr', { hasText: 'Passcode viewed' }).first().waitFor();
    expect(await page.locator('tbody tr', { hasText: 'Passcode viewed' }).count()).toBe(2);
    await page.getByLabel('Device ID').fill('user-ana-iphone');
    await page.getByRole('button', { name: 'Filter' }).click();
    // created, reset requested, passcode viewed twice, unlock attempted (the simulator's lock screen audits attempts)
    await expect.poll(() => page.locator('tbody tr').count()).toBe(5);
    expect(await page.locator('tbody tr', { hasText: 'Unlock attempted' }).count()).toBe(1);
    expect(await page.locator('tbody tr', { hasText: 'scanner' }).count()).toBe(0);
    await expectNoSeriousAxeViolations(page, 'Audit log');
    await screenshot(page, '8-audit-log');

    // Back to the device from Device actions: its overview still masks the passcode until asked again.
    await page.getByRole('link', { name: 'Device actions', exact: true }).click();
    await page.locator('tbody tr').getByRole('link', { name: 'user-ana-iphone' }).first().click();
    await page.getByRole('heading', { level: 1, name: "Ana's iPhone" }).waitFor();
    await expect.poll(() => statusLine(page).textContent()).toBe('Status: Done');
    expect(await page.getByLabel('New passcode', { exact: true }).getAttribute('type')).toBe('password');
  });

  it('an unsupported device explains why and offers no action', async () => {
    const page = await (await contextFor(ADMIN)).newPage();
    await signIn(page);
    await page.goto(`${stack.host.url}/api/console/devices/win-finance-laptop`);
    await page.getByRole('heading', { level: 1, name: 'Finance laptop' }).waitFor();
    const explanation = page.locator('#reset-unavailable');
    expect(await explanation.textContent()).toContain(
      'Reset passcode is not supported on Windows devices; Intune supports it on Windows Phone and Windows 10 Mobile.',
    );
    expect(await page.getByRole('button', { name: 'Reset passcode' }).count()).toBe(0);
    await expectNoSeriousAxeViolations(page, 'an unsupported device');
    await screenshot(page, '9-unsupported-device');
  });

  it('keyboard only: find a device, reset its passcode and show it', async () => {
    const page = await (await contextFor(ADMIN)).newPage();
    await signIn(page);
    await tabTo(page, 'searchbox', 'Search by name or user');
    await page.keyboard.type("Dan's");
    // Enter searches at once, without waiting for the pause after the last key.
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: "Dan's Galaxy S5" }).waitFor();
    await tabTo(page, 'link', "Dan's Galaxy S5");
    await page.keyboard.press('Enter');
    const heading = page.getByRole('heading', { level: 1, name: "Dan's Galaxy S5" });
    await heading.waitFor();
    // Navigation moves the focus to the new page's title.
    expect(await heading.evaluate((h) => h === h.ownerDocument.activeElement)).toBe(true);

    await tabTo(page, 'button', 'Reset passcode');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Reset passcode' });
    await dialog.waitFor();
    // Escape closes the dialog without resetting; opening it again starts over.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // The focus is back on the button that opened the dialog.
    const resetButton = page.getByRole('button', { name: 'Reset passcode', exact: true });
    await expect.poll(() => resetButton.evaluate((b) => b === b.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    const reason = dialog.getByLabel('Reason');
    expect(await reason.evaluate((r) => r === r.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.type('Keyboard only');
    await tabTo(page, 'button', 'Reset');
    await page.keyboard.press('Enter');
    await expect.poll(() => statusLine(page).textContent(), { timeout: 30_000 }).toBe('Status: Done');
    await tabTo(page, 'button', 'Show passcode');
    await page.keyboard.press('Space');
    const field = page.getByLabel('New passcode', { exact: true });
    await expect.poll(() => field.getAttribute('type')).toBe('text');
    expect(await field.inputValue()).toMatch(/^\d{6}$/);
  });

  it('a caller without Passcode.Read sees the reset done but no passcode; one without Passcode.Reset cannot start one', async () => {
    const helpdesk = await (await contextFor(HELPDESK)).newPage();
    await signIn(helpdesk);
    expect(await helpdesk.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await helpdesk.goto(`${stack.host.url}/api/console/devices/user-bob-iphone`);
    await helpdesk.getByRole('button', { name: 'Reset passcode', exact: true }).click();
    await helpdesk.getByRole('dialog').getByRole('button', { name: 'Reset', exact: true }).click();
    await expect.poll(() => statusLine(helpdesk).textContent(), { timeout: 30_000 }).toBe('Status: Done');
    expect(await helpdesk.locator('#passcode-hidden').textContent()).toBe(
      'The reset is done. You need the Passcode.Read role to see the new passcode.',
    );
    expect(await helpdesk.getByLabel('New passcode').count()).toBe(0);
    expect(await helpdesk.getByRole('button', { name: 'Show passcode' }).count()).toBe(0);
    await expectNoSeriousAxeViolations(helpdesk, 'a done reset without Passcode.Read');
    await screenshot(helpdesk, '10-without-passcode-read');

    const viewer = await (await contextFor(VIEWER)).newPage();
    await signIn(viewer);
    await viewer.goto(`${stack.host.url}/api/console/devices/user-eve-iphone`);
    const reset = viewer.getByRole('button', { name: 'Reset passcode', exact: true });
    await reset.waitFor();
    expect(await reset.getAttribute('aria-disabled')).toBe('true');
    expect(await viewer.locator(`#${await reset.getAttribute('aria-describedby')}`).textContent()).toBe(
      'You need the Passcode.Reset role to reset passcodes.',
    );
    // aria-disabled keeps it focusable (its reason is read out); clicking it anyway does nothing.
    await reset.click({ force: true });
    expect(await viewer.getByRole('dialog').count()).toBe(0);
    await expectNoSeriousAxeViolations(viewer, 'a device without Passcode.Reset');
    const actions = await api('deviceManagement/managedDevices/user-eve-iphone/deviceActionResults');
    expect(actions.body.value).toEqual([]);
  });

  it('is usable at 375 px wide', async () => {
    const page = await (await contextFor(ADMIN, { width: 375, height: 740 })).newPage();
    await signIn(page);
    const pageWidth = () => page.evaluate('document.documentElement.scrollWidth');
    expect(await pageWidth()).toBeLessThanOrEqual(375);
    await expectNoSeriousAxeViolations(page, 'All devices at 375 px');
    await page.goto(`${stack.host.url}/api/console/devices/user-eve-iphone`);
    const reset = page.getByRole('button', { name: 'Reset passcode', exact: true });
    await reset.waitFor();
    expect(await pageWidth()).toBeLessThanOrEqual(375);
    const box = await reset.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true);
    await reset.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset', exact: true }).click();
    await expect.poll(() => statusLine(page).textContent(), { timeout: 30_000 }).toBe('Status: Done');
    await page.getByRole('button', { name: 'Show passcode' }).click();
    await expect.poll(() => page.getByLabel('New passcode', { exact: true }).inputValue()).toMatch(/^\d{6}$/);
    expect(await pageWidth()).toBeLessThanOrEqual(375);
    await expectNoSeriousAxeViolations(page, 'the device overview at 375 px');
    await screenshot(page, '11-phone-width');
  });

  it('loaded nothing from elsewhere and met no script error or CSP violation', () => {
    for (const { foreignRequests, pageErrors } of contexts) {
      expect(foreignRequests).toEqual([]);
      expect(pageErrors).toEqual([]);
    }
    expect(contexts.length).toBeGreaterThanOrEqual(5);
  });
});
