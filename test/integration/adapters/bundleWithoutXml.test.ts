import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as storageErrors from '../../../lib/adapters/storageErrors';
import * as tableClients from '../../../lib/adapters/tableClients';
import { noXml } from '../../../tools/noXml.mjs';

const root = join(__dirname, '../../..');
const KiB = 1024;

// Issue 12's budget for the app's bundle (docs/PERFORMANCE.md "Bundle and cold start").
const BUNDLE_BUDGET = 450 * KiB;

/**
 * Packages the app's bundle must not carry: the queue SDK (a bundle of its own, dist/storageQueue.js, loaded on the
 * first queue call) and XML.
 */
const LEFT_OUT = [
  '@azure/storage-queue',
  '@azure/storage-common',
  '@azure/core-xml',
  '@azure/core-http-compat',
  'fast-xml-parser',
  'fast-xml-builder',
];

type Meta = {
  inputs: Record<string, unknown>;
  outputs: Record<string, { bytes: number; inputs?: Record<string, { bytesInOutput: number }> }>;
};
const readMeta = (file: string): Meta => JSON.parse(readFileSync(join(root, file), 'utf8'));

describe('the app bundle (dist/main.js, from `npm run build`)', () => {
  const metaFile = join(root, 'dist/main.meta.json');

  it('stays within its size budget and carries neither the queue SDK nor an XML parser', () => {
    expect(existsSync(metaFile), 'run `npm run build` first').toBe(true);
    const meta = readMeta('dist/main.meta.json');
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((file) => file.startsWith('node_modules/@azure/data-tables/'))).toBe(true);
    expect(inputs.filter((file) => LEFT_OUT.some((name) => file.startsWith(`node_modules/${name}/`)))).toEqual([]);
    expect(inputs).toContain('no-xml:@azure/core-xml');
    const bytes = meta.outputs['dist/main.js']?.bytes ?? Number.POSITIVE_INFINITY;
    expect(bytes).toBe(readFileSync(join(root, 'dist/main.js')).length);
    expect(bytes).toBeLessThanOrEqual(BUNDLE_BUDGET);
    // The queue SDK is reached only through the dynamic import of its own bundle.
    expect(readFileSync(join(root, 'dist/main.js'), 'utf8')).toContain('import("./storageQueue.js")');
  });
});

describe('the queue SDK bundle (dist/storageQueue.js, from `npm run build`)', () => {
  it('carries @azure/storage-queue with the real XML stack, but not the CRC64 module it never calls', () => {
    expect(existsSync(join(root, 'dist/storageQueue.meta.json')), 'run `npm run build` first').toBe(true);
    const meta = readMeta('dist/storageQueue.meta.json');
    const inputs = Object.keys(meta.inputs);
    const has = (name: string) => inputs.some((file) => file.startsWith(`node_modules/${name}/`));
    expect(['@azure/storage-queue', '@azure/core-xml', 'fast-xml-parser', 'fast-xml-builder'].filter(has)).toEqual([
      '@azure/storage-queue',
      '@azure/core-xml',
      'fast-xml-parser',
      'fast-xml-builder',
    ]);
    expect(inputs).not.toContain('no-xml:@azure/core-xml');
    // The Emscripten module is 85 KB; its stand-in (tools/build.mjs, noCrc64) is a few bytes, or nothing once unused.
    const crc64 = Object.entries(meta.outputs['dist/storageQueue.js']?.inputs ?? {}).filter(([file]) =>
      file.endsWith('/@azure/storage-common/dist/esm/crc64.js'),
    );
    expect(crc64.reduce((sum, [, input]) => sum + input.bytesInOutput, 0)).toBeLessThan(200);
    // Not the app's own modules with state: a second copy of storageDeadline.ts would have a deadline nobody sets. The
    // loopback rule (pure, stateless) is the one the Tables clients use.
    expect(
      inputs.filter(
        (file) => file.startsWith('lib/') && !['lib/adapters/queueSdk.ts', 'lib/core/loopback.ts'].includes(file),
      ),
    ).toEqual([]);
  });
});

/**
 * A Table service that answers every request with an XML error body, as a proxy or a front end might: the one case
 * where the Tables SDK would parse XML on the app's path. Without the XML parser (tools/noXml.mjs) the error must
 * still carry the HTTP status, so that storageErrors.ts classifies it exactly as with the parser.
 */
describe('Tables errors with an XML body, in a bundle built like the app (no XML parser)', () => {
  type Modules = typeof tableClients & typeof storageErrors;
  let dir: string;
  let bundled: Modules;
  let server: Server;
  let connectionString: string;
  let status = 503;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'no-xml-'));
    const outfile = join(dir, 'storage.js');
    await build({
      stdin: {
        contents: [
          "export * from './lib/adapters/tableClients';",
          "export * from './lib/adapters/storageErrors';",
        ].join('\n'),
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile,
      plugins: [noXml],
      logLevel: 'silent',
    });
    bundled = createRequire(__filename)(outfile);
    server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': 'ServerBusy' });
      response.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>busy</Message></Error>',
      );
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    connectionString = [
      'DefaultEndpointsProtocol=http',
      'AccountName=devstoreaccount1',
      `AccountKey=${Buffer.from('not the key').toString('base64')}`,
      `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
    ].join(';');
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What a table read fails with, through `modules`, when the service answers `answer` with XML. */
  async function failure(modules: Modules, answer: number) {
    status = answer;
    const error = await modules
      .tableClient(connectionString, 'devices')
      .getEntity('p', 'r')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    return {
      status: modules.storageStatus(error),
      transient: modules.isTransientStorageError(error),
      xmlLeftOut: String(error).includes('XML is not in this bundle'),
    };
  }

  it('keeps the status of a 503 (transient) and a 404 (not found), as the SDK with its parser does', async () => {
    const unbundled: Modules = { ...tableClients, ...storageErrors };
    for (const answer of [503, 404]) {
      const withParser = await failure(unbundled, answer);
      const withoutParser = await failure(bundled, answer);
      expect(withoutParser).toEqual({ status: answer, transient: answer === 503, xmlLeftOut: true });
      expect({ ...withoutParser, xmlLeftOut: false }).toEqual(withParser);
    }
  });
});
