import 'vitest';
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../tools/azurite';

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}

/** One in-memory Azurite on free ports for the whole run; tests use unique table and queue names. */
export default async function setup(project: TestProject) {
  const azurite = await startAzurite();
  project.provide('storageConnectionString', azurite.connectionString);
  return () => azurite.stop();
}
