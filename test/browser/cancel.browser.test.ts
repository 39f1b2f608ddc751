import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Stack, startStack } from '../e2e/stack';
import { consoleContext, expectNoSeriousAxeViolations, launchChromium, screenshot } from './browser';

/**
 * AUTH_MODE=none (the local developer, every role, no sign-in) with the queue worker switched off the real host's
 * way, so that a reset stays pending: the console shows it in flight and cancels it.
 */
describe('admin console: a pending reset, in flight and canceled (AUTH_MODE=none, worker disabled)', () => {
  let stack: Stack;
  let browser: Browser;
  let actionId: string;

  beforeAll(async () => {
    stack = await startStack({
      AUTH_MODE: 'none',
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
      'AzureWebJobs.resetPasscodeWorker.Disabled': 'true',
    });
    browser = await launchChromium();
    const put = await call(`${stack.api}/deviceManagement/managedDevices/kiosk-ipad`, {
      method: 'PUT',
      json: {
        deviceName: 'Lobby kiosk iPad',
        operatingSystem: 'iOS',
        osVersion: '17.4',
        userPrincipalName: 'lobby@contoso.com',
      },
    });
    expect(put.status).toBe(201);
    const accepted = await call(`${stack.api}/deviceManagement/managedDevices/kiosk-ipad/resetPasscode`, {
      method: 'POST',
      json: { reason: 'Kiosk locked' },
    });
    expect(accepted.status).toBe(202);
    actionId = accepted.body.id;
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows the reset in flight on the device, cancels it from Device actions, and the device page follows', async () => {
    const guarded = await consoleContext(browser);
    const device = await guarded.newPage();
    await device.goto(`${stack.host.url}/api/console/devices/kiosk-ipad`);
    await device.getByRole('heading', { level: 1, name: 'Lobby kiosk iPad' }).waitFor();
    // No sign-in in none mode: the local developer, who cannot sign out.
    expect(await device.locator('.who').textContent()).toBe('Signed in as Local developer');
    expect(await device.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await expect.poll(() => device.locator('.state-line').textContent()).toBe('Status: Pending');
    const reset = device.getByRole('button', { name: 'Reset passcode', exact: true });
    expect(await reset.getAttribute('aria-disabled')).toBe('true');
    expect(await device.locator('#reset-reason').textContent()).toBe(
      'A passcode reset is already in progress on this device.',
    );
    await expectNoSeriousAxeViolations(device, 'a device with a reset in flight');

    const actions = await guarded.newPage();
    await actions.goto(`${stack.host.url}/api/console/actions`);
    await actions.getByLabel('State').selectOption('pending');
    const row = actions.locator('tbody tr', { hasText: 'kiosk-ipad' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Pending');
    await expectNoSeriousAxeViolations(actions, 'Device actions with a pending reset');
    await screenshot(actions, '12-pending-action');
    await row.getByRole('button', { name: 'Cancel the reset on kiosk-ipad' }).click();
    await actions.getByText('Canceled the passcode reset on kiosk-ipad.').waitFor();
    expect(await row.textContent()).toContain('Canceled');
    expect(await row.getByRole('button').count()).toBe(0);

    const stored = await call(
      `${stack.api}/deviceManagement/managedDevices/kiosk-ipad/deviceActionResults/${actionId}`,
    );
    expect(stored.status).toBe(200);
    expect(stored.body.actionState).toBe('canceled');
    const audit = await call(`${stack.api}/deviceManagement/auditEvents?deviceId=kiosk-ipad`);
    expect(
      audit.body.value.filter((e: { eventType: string; callerName: string }) => e.eventType === 'resetCanceled'),
    ).toEqual([expect.objectContaining({ callerName: 'Local developer', actionId })]);

    // The device page was following the action: it ends as canceled and the action is offered again.
    await expect.poll(() => device.locator('.state-line').textContent(), { timeout: 15_000 }).toBe('Status: Canceled');
    expect(await reset.getAttribute('aria-disabled')).toBeNull();
    expect(guarded.foreignRequests).toEqual([]);
    expect(guarded.pageErrors).toEqual([]);
  });
});
