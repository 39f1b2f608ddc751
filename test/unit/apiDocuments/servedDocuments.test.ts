import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_DOCUMENT_FILES, apiDocumentServer, pointDocumentAt } from '../../../lib/http/apiDocuments';
import { writeApiDocuments } from '../../../tools/apiDocuments/generate';
import { buildOpenApiDocument } from '../../../tools/apiDocuments/openApi';
import { buildSwaggerDocument } from '../../../tools/apiDocuments/swagger';
import { PACKAGE_FILES } from '../../../tools/package';

type Json = Record<string, any>;

// Compiling and validating whole documents is CPU-bound: on a shared, loaded machine it can take many seconds.
const SCHEMA_CHECK_TIMEOUT_MS = 30_000;

describe('the documents as the build writes them', { timeout: SCHEMA_CHECK_TIMEOUT_MS }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'api-documents-'));
    await writeApiDocuments(dir);
  }, SCHEMA_CHECK_TIMEOUT_MS);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are what the generators build, with no server of their own', () => {
    const openApi = apiDocumentServer(dir, 'openapi')('https://contoso-reset.azurewebsites.net/api') as Json;
    expect({ ...openApi, servers: buildOpenApiDocument().servers }).toEqual(buildOpenApiDocument());
    expect(buildOpenApiDocument().servers).toEqual([{ url: '/api' }]);
    expect(buildSwaggerDocument().host).toBeUndefined();
  });

  it('are served pointed at the app: OpenAPI servers, Swagger host, schemes and basePath', async () => {
    const base = 'https://contoso-reset.azurewebsites.net/api';
    expect((apiDocumentServer(dir, 'openapi')(base) as Json).servers).toEqual([{ url: base }]);
    const swagger = apiDocumentServer(dir, 'swagger')('http://localhost:7071/api') as Json;
    expect(swagger).toMatchObject({ host: 'localhost:7071', schemes: ['http'], basePath: '/api' });
    await expect(SwaggerParser.validate(structuredClone(swagger) as never)).resolves.toBeDefined();
  });

  it('keep one patched copy per API root and never change the copy read from the file', () => {
    const serve = apiDocumentServer(dir, 'swagger');
    const first = serve('https://a.example.net/api');
    expect(serve('https://a.example.net/api')).toBe(first);
    const other = serve('https://b.example.net/prefix') as Json;
    expect(other).toMatchObject({ host: 'b.example.net', basePath: '/prefix' });
    expect((first as Json).host).toBe('a.example.net');
  });

  it('are deployed with the bundle, in the folder the app reads them from', () => {
    const bundleDir = dirname(PACKAGE_FILES.find((file) => file.endsWith('main.js')) ?? '');
    for (const name of Object.values(API_DOCUMENT_FILES)) expect(PACKAGE_FILES).toContain(`${bundleDir}/${name}`);
  });

  it('fail clearly when the build has not written them', () => {
    expect(() => apiDocumentServer(join(dir, 'missing'), 'openapi')('https://x.example.net/api')).toThrow(
      /openapi\.json/,
    );
  });
});

describe('pointDocumentAt', () => {
  it('takes the route prefix from the API root', () => {
    expect(pointDocumentAt('swagger', {}, 'https://app.example.net/')).toMatchObject({ basePath: '/' });
    expect(pointDocumentAt('openapi', { openapi: '3.1.0' }, 'https://app.example.net/x')).toEqual({
      openapi: '3.1.0',
      servers: [{ url: 'https://app.example.net/x' }],
    });
  });
});
