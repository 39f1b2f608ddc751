// Writes the API's documents at build time (tools/build.mjs runs it after bundling): <out>/openapi.json and
// <out>/swagger.json, which the app serves (functions/apiDocuments.ts) and `npm run connector` starts from.
// With --docs <file> it also refreshes the error table of docs/API.md from the error catalogue.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_DOCUMENT_FILES } from '../../lib/http/apiDocuments';
import { withErrorTable } from './errorTable';
import { buildOpenApiDocument } from './openApi';
import { buildSwaggerDocument } from './swagger';

/** Writes both documents into `outDir`; returns their paths. */
export async function writeApiDocuments(outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const documents = [
    [API_DOCUMENT_FILES.openapi, buildOpenApiDocument()],
    [API_DOCUMENT_FILES.swagger, buildSwaggerDocument()],
  ] as const;
  return Promise.all(
    documents.map(async ([name, document]) => {
      const file = join(outDir, name);
      await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
      return file;
    }),
  );
}

/** Rewrites the error table of a Markdown file; true when it changed. */
export async function refreshErrorTable(file: string): Promise<boolean> {
  const before = await readFile(file, 'utf8');
  const after = withErrorTable(before);
  if (after !== before) await writeFile(file, after);
  return after !== before;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist' }, docs: { type: 'string' } } });
  const written = await writeApiDocuments(values.out);
  console.log(`Wrote ${written.join(' and ')}.`);
  if (values.docs && (await refreshErrorTable(values.docs))) console.log(`Updated the error table of ${values.docs}.`);
}

if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
