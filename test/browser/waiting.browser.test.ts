import { TableClient } from '@azure/data-tables';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDeviceChannel } from '../../lib/adapters/simulatedDeviceChannel';
import { STORAGE_NAMES } from '../../lib/deps';
import { call, type Stack, startStack } from '../e2e/stack';
import { consoleContext, expectNoSeriousAxeViolations, launchChromium, screenshot } from './browser';

/**
 * A simulated device that is offline: its reset waits for it (the command is in the channel's hands). The console
 * shows the wait on the device's overview and cancels the command through the channel.
 */
describe('admin console: a reset that waits for an offline device, canceled', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack({ AUTH_MODE: 'none', AZURE_FUNCTIONS_ENVIRONMENT: 'Development' });
    browser = await launchChromium();
    const put = await call(`${stack.api}/deviceManagement/managedDevices/field-phone`, {
      method: 'PUT',
      json: { deviceName: 'Field iPhone', operatingSystem: 'iOS', osVersion: '17.4' },
    });
    expect(put.status).toBe(201);
    // The simulated fleet lives in the app's storage: the test takes the phone offline there.
    const table = TableClient.fromConnectionString(
      stack.env.AzureWebJobsStorage ?? '',
      STORAGE_NAMES.tables.simulator,
      {
        allowInsecureConnection: true,
      },
    );
    const fleet = new SimulatedDeviceChannel(table, {
      latencyMs: 0,
      transientFailureRate: 0,
      randomInt: () => 0,
      clock: { now: () => new Date() },
    });
    await fleet.script('field-phone', { offline: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows the wait for the device, and Cancel ends the reset canceled', async () => {
    const admin = await consoleContext(browser);
    const page = await admin.newPage();
    await page.goto(`${stack.host.url}/api/console/devices/field-phone`);
    await page.getByRole('heading', { level: 1, name: 'Field iPhone' }).waitFor();
    await page.getByRole('button', { name: 'Reset passcode', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset', exact: true }).click();

    const waiting = page.locator('#waiting-for-device');
    await waiting.waitFor({ timeout: 20_000 });
    expect(await waiting.textContent()).toMatch(
      /^Waiting for the device since .*The new passcode is set when the device comes online/,
    );
    await expectNoSeriousAxeViolations(page, 'a reset waiting for the device');
    await screenshot(page, '13-waiting-for-device');

    await waiting.getByRole('button', { name: 'Cancel reset' }).click();
    await expect.poll(() => page.locator('.state-line').textContent(), { timeout: 15_000 }).toBe('Status: Canceled');
    expect(
      await page.getByRole('button', { name: 'Reset passcode', exact: true }).getAttribute('aria-disabled'),
    ).toBeNull();
    expect(admin.foreignRequests).toEqual([]);
    expect(admin.pageErrors).toEqual([]);
  });
});
