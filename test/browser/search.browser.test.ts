import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Stack, startStack } from '../e2e/stack';
import { type ConsoleContext, consoleContext, expectNoSeriousAxeViolations, launchChromium } from './browser';

// The console asks for 100 devices a page, and the plain list is in id order: 110 scanners ("scanner-…") fill the
// first page and part of the second, and the devices the tests look for ("zz-…") are on neither the first page nor in
// it after one "Load more" short of the end.
const SCANNERS = Array.from({ length: 110 }, (_, i) => String(i).padStart(3, '0'));
const FAR: Record<string, Record<string, unknown>> = {
  'zz-zebra-kiosk-7': {
    deviceName: 'Zebra kiosk 7',
    operatingSystem: 'Android',
    osVersion: '13',
    userPrincipalName: 'frontdesk@contoso.com',
  },
  'zz-quinn-ipad': {
    deviceName: "Quinn's iPad",
    operatingSystem: 'iOS',
    osVersion: '17.5',
    userPrincipalName: 'Quinn.OBrien@fabrikam.com',
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isDeviceList = (url: URL) => url.pathname === '/api/deviceManagement/managedDevices';

/** AUTH_MODE=none: the local developer, every role, no sign-in (what the search does is the same in every mode). */
describe('admin console: All devices searches the whole fleet through the API', () => {
  let stack: Stack;
  let browser: Browser;
  let guarded: ConsoleContext;
  let page: Page;
  /** Every request the page sent for the device list (first pages and "Load more"). */
  const listRequests: URL[] = [];

  const searchBox = () => page.getByLabel('Search by name or user');
  const rows = () => page.locator('tbody tr');
  const count = () => page.locator('output.count');
  const filtersSent = () => listRequests.map((url) => url.searchParams.get('$filter'));

  beforeAll(async () => {
    stack = await startStack({ AUTH_MODE: 'none', AZURE_FUNCTIONS_ENVIRONMENT: 'Development' });
    browser = await launchChromium();
    const ids = [...SCANNERS.map((n) => `scanner-${n}`), ...Object.keys(FAR)];
    for (let i = 0; i < ids.length; i += 12) {
      await Promise.all(
        ids.slice(i, i + 12).map(async (id) => {
          const json = FAR[id] ?? {
            deviceName: `Warehouse scanner ${id.slice(-3)}`,
            operatingSystem: 'Android',
            osVersion: '10',
            userPrincipalName: 'scanners@contoso.com',
          };
          const put = await call(`${stack.api}/deviceManagement/managedDevices/${id}`, { method: 'PUT', json });
          expect(put.status, id).toBe(201);
        }),
      );
    }
    guarded = await consoleContext(browser);
    page = await guarded.newPage();
    page.on('request', (request: Request) => {
      const url = new URL(request.url());
      if (isDeviceList(url)) listRequests.push(url);
    });
    await page.goto(`${stack.host.url}/api/console`);
    await page.getByRole('heading', { level: 1, name: 'All devices' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('finds, by typing the start of its name, a device that is not on the first page', async () => {
    await count().getByText('100 devices shown; more to load.').waitFor();
    expect(await rows().count()).toBe(100);
    expect(await rows().filter({ hasText: 'Zebra kiosk 7' }).count()).toBe(0);

    listRequests.length = 0;
    // Typed as an admin types (about 20 keys a second), in another case than the name's.
    await searchBox().pressSequentially('zebra k', { delay: 50 });
    // The answer to the whole text (a slow machine may have searched a shorter prefix on the way, which finds it too).
    await count().getByText('1 device whose name starts with “zebra k”.').waitFor();
    expect(await rows().count()).toBe(1);
    await page.getByRole('link', { name: 'Zebra kiosk 7' }).waitFor();
    // Debounced: not one request per key, and the last one asked for the whole text.
    expect(listRequests.length).toBeGreaterThan(0);
    expect(listRequests.length).toBeLessThan('zebra k'.length);
    expect(filtersSent().at(-1)).toBe("startswith(deviceName,'zebra k')");
    expect(new URL(page.url()).searchParams.get('search')).toBe('zebra k');
    await expectNoSeriousAxeViolations(page, 'All devices, a search');

    // Its page is one click away.
    await page.getByRole('link', { name: 'Zebra kiosk 7' }).click();
    await page.getByRole('heading', { level: 1, name: 'Zebra kiosk 7' }).waitFor();
    await page.goBack();
    await page.getByRole('link', { name: 'Zebra kiosk 7' }).waitFor();
    expect(await searchBox().inputValue()).toBe('zebra k');
  });

  it('finds a device by its user when the text has an @, keeps the platform filter, and says when nothing matches', async () => {
    await searchBox().fill('quinn.o');
    await count().getByText('No devices whose name starts with “quinn.o”.').waitFor();
    expect(await rows().count()).toBe(0);

    listRequests.length = 0;
    await searchBox().fill('QUINN.OBRIEN@fab');
    await page.getByRole('link', { name: "Quinn's iPad" }).waitFor();
    expect(await rows().count()).toBe(1);
    expect(await rows().first().textContent()).toContain('Quinn.OBrien@fabrikam.com');
    // A request event may reach the test after the answer it asked for was shown: poll.
    await expect.poll(filtersSent).toEqual(["startswith(userPrincipalName,'QUINN.OBRIEN@fab')"]);

    await page.getByLabel('Platform').selectOption('iOS');
    await count().getByText('1 iOS/iPadOS device whose user starts with “QUINN.OBRIEN@fab”.').waitFor();
    await expect
      .poll(() => filtersSent().at(-1))
      .toBe("startswith(userPrincipalName,'QUINN.OBRIEN@fab') and operatingSystem eq 'iOS'");
    await page.getByLabel('Platform').selectOption('Android');
    await count().getByText('No Android devices whose user starts with “QUINN.OBRIEN@fab”.').waitFor();
    expect(await rows().count()).toBe(0);
    await expectNoSeriousAxeViolations(page, 'All devices, a search that finds nothing');

    // A quote in the text is part of the name, not the end of the filter.
    await page.getByLabel('Platform').selectOption('');
    await searchBox().fill("quinn's");
    await count().getByText("1 device whose name starts with “quinn's”.").waitFor();
    expect(await rows().first().textContent()).toContain("Quinn's iPad");
    await expect.poll(() => filtersSent().at(-1)).toBe("startswith(deviceName,'quinn''s')");
  });

  it('pages through a search with its @odata.nextLink, and an empty box is the whole list again', async () => {
    await searchBox().fill('Warehouse scanner');
    await count().getByText('100 devices whose name starts with “Warehouse scanner” shown; more to load.').waitFor();
    listRequests.length = 0;
    await page.getByRole('button', { name: 'Load more devices' }).click();
    await count().getByText('110 devices whose name starts with “Warehouse scanner”.').waitFor();
    expect(await rows().count()).toBe(110);
    expect(await page.getByRole('button', { name: 'Load more devices' }).count()).toBe(0);
    expect(listRequests).toHaveLength(1);
    expect(listRequests[0]?.searchParams.get('$skipToken')).toBeTruthy();

    await searchBox().fill('');
    await count().getByText('100 devices shown; more to load.').waitFor();
    await expect.poll(() => filtersSent().at(-1)).toBeNull();
    expect(new URL(page.url()).searchParams.has('search')).toBe(false);
  });

  it('drops a page that arrives after the search changed', async () => {
    await searchBox().fill('warehouse');
    await count().getByText('100 devices whose name starts with “warehouse” shown; more to load.').waitFor();
    // The next page of "warehouse" is held back until the search has changed to "zebra".
    let held = 0;
    await page.route(
      (url) => isDeviceList(url) && url.searchParams.has('$skipToken'),
      async (route) => {
        held++;
        await sleep(2_000);
        await route.continue().catch(() => undefined); // the console aborted it
      },
    );
    await page.getByRole('button', { name: 'Load more devices' }).click();
    await expect.poll(() => held).toBe(1);
    await searchBox().fill('zebra');
    await page.getByRole('link', { name: 'Zebra kiosk 7' }).waitFor();
    await sleep(3_000);
    expect(await rows().count()).toBe(1);
    expect(await count().textContent()).toBe('1 device whose name starts with “zebra”.');
    await page.unrouteAll();
  });

  it('says so when the search cannot reach the app', async () => {
    await page.route(
      (url) => isDeviceList(url) && url.searchParams.get('$filter') === "startswith(deviceName,'offline')",
      (route) => route.abort('connectionrefused'),
    );
    await searchBox().fill('offline');
    await page.getByRole('alert').getByText('The app could not be reached. Check your connection and retry.').waitFor();
    expect(await rows().count()).toBe(0);
    await searchBox().fill('zebra');
    await page.getByRole('link', { name: 'Zebra kiosk 7' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    // The refused request is the test's; nothing else failed or left the app.
    expect(guarded.foreignRequests).toEqual([]);
    expect(guarded.pageErrors).toEqual(['Failed to load resource: net::ERR_CONNECTION_REFUSED']);
  });
});
