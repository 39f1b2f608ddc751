import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect, inject } from 'vitest';

/** Where the runs put their screenshots; docs/console.md shows copies of them (see there to refresh them). */
const SCREENSHOT_DIR = process.env.CONSOLE_SCREENSHOT_DIR ?? 'test-results/console-screenshots';

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary profile (its own --user-data-dir,
 * removed on close; it refuses that flag in `args`), so no state carries over between runs.
 */
export async function launchChromium(): Promise<Browser> {
  // Found, or unpacked from @sparticuz/chromium, by the browser tier's global setup (test/browser/chromium.ts).
  const { executablePath, libraryPath } = inject('chromium');
  return chromium.launch({
    executablePath,
    ...(libraryPath && {
      env: { ...process.env, LD_LIBRARY_PATH: [libraryPath, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    }),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface ConsoleContext {
  context: BrowserContext;
  /** Requests the page tried outside the app and the identity provider (none are expected: no CDN). */
  foreignRequests: string[];
  /** Console errors and CSP violations reported by the page. */
  pageErrors: string[];
  newPage(): Promise<Page>;
}

/**
 * A browser context for one admin. Every request that is neither to the app (loopback) nor to the identity provider
 * is refused and recorded, so a test sees any attempt to load something from elsewhere.
 */
export async function consoleContext(
  browser: Browser,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<ConsoleContext> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1024, height: 640 },
    locale: 'en-GB',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
  });
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  await context.route(
    (url) => url.hostname !== '127.0.0.1' && url.hostname !== 'login.microsoftonline.com',
    (route) => {
      foreignRequests.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  return {
    context,
    foreignRequests,
    pageErrors,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      return page;
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe-core in the page and fails on serious or critical violations. The script is evaluated through the
 * DevTools protocol, which the page's Content-Security-Policy does not govern, so the CSP stays on while testing.
 */
export async function expectNoSeriousAxeViolations(page: Page, where: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations: AxeViolation[] = await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations)',
  );
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  expect(serious, `axe on ${where}`).toEqual([]);
}

/** A screenshot of the viewport into SCREENSHOT_DIR. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

/**
 * Presses Tab until the focused element has this accessible role and name, as a keyboard user would; fails if it is
 * never reached. Returns how many presses it took.
 */
export async function tabTo(page: Page, role: string, name: string, maxPresses = 60): Promise<number> {
  const target = page.getByRole(role as Parameters<Page['getByRole']>[0], { name, exact: true });
  for (let presses = 1; presses <= maxPresses; presses++) {
    await page.keyboard.press('Tab');
    const focused = await target.evaluateAll((elements) => elements.some((e) => e === e.ownerDocument.activeElement));
    if (focused) return presses;
  }
  throw new Error(`Tab never reached the ${role} "${name}"`);
}
