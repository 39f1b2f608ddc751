import 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureChromium } from './chromium';

declare module 'vitest' {
  export interface ProvidedContext {
    chromiumPath: string;
  }
}

/** Finds (or, on a fresh machine, installs) the Chromium of the browser tests, once for the run. */
export default function setup(project: TestProject) {
  project.provide('chromiumPath', ensureChromium());
}
