import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** One file of the built console (tools/build.mjs writes them to dist/console), with its gzip twin when it has one. */
interface ConsoleFile {
  body: Buffer;
  gzipped?: Buffer;
  contentType: string;
}

/** The built console: its one page and its content-hashed assets, by file name. */
export interface ConsoleBundle {
  page: ConsoleFile;
  assets: ReadonlyMap<string, ConsoleFile>;
}

export interface ConsoleResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Headers every console response carries: the page and its assets are never sniffed, framed or leak a referrer. */
const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * Reads the built console from `dir` (index.html and assets/), or undefined when it was not built. Only files the
 * build wrote are ever served, by exact name, so a request path can never reach anything else on disk.
 */
export async function loadConsoleBundle(dir: string): Promise<ConsoleBundle | undefined> {
  let names: string[];
  let page: Buffer;
  try {
    [names, page] = await Promise.all([readdir(join(dir, 'assets')), readFile(join(dir, 'index.html'))]);
  } catch {
    return undefined;
  }
  const assets = new Map<string, ConsoleFile>();
  const present = new Set(names);
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) continue; // .gz twins and anything unexpected
    const gzipName = `${name}.gz`;
    const [body, gzipped] = await Promise.all([
      readFile(join(dir, 'assets', name)),
      present.has(gzipName) ? readFile(join(dir, 'assets', gzipName)) : undefined,
    ]);
    assets.set(name, { body, contentType, ...(gzipped && { gzipped }) });
  }
  return { page: { body: page, contentType: CONTENT_TYPES['.html'] as string }, assets };
}

/**
 * The response for a path under /api/console: `assets/<name>` is a built asset (content-hashed, so cached for a
 * year), anything else is the single-page app's page (always revalidated), which routes the path itself.
 * Undefined for an asset the build did not write.
 */
export function consoleResponse(
  bundle: ConsoleBundle,
  path: string,
  options: { acceptEncoding: string | null; contentSecurityPolicy: string },
): ConsoleResponse | undefined {
  if (path.startsWith('assets/')) {
    const asset = bundle.assets.get(path.slice('assets/'.length));
    if (!asset) return undefined;
    return encoded(asset, options.acceptEncoding, {
      ...COMMON_HEADERS,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
  }
  return encoded(bundle.page, options.acceptEncoding, {
    ...COMMON_HEADERS,
    'Content-Security-Policy': options.contentSecurityPolicy,
    'Cache-Control': 'no-cache',
  });
}

function encoded(file: ConsoleFile, acceptEncoding: string | null, headers: Record<string, string>): ConsoleResponse {
  const base = { ...headers, 'Content-Type': file.contentType, Vary: 'Accept-Encoding' };
  if (file.gzipped && acceptsGzip(acceptEncoding)) {
    return { status: 200, headers: { ...base, 'Content-Encoding': 'gzip' }, body: file.gzipped };
  }
  return { status: 200, headers: base, body: file.body };
}

/** RFC 9110 §12.5.3: gzip is acceptable when listed (or `*`) without q=0. */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  if (!acceptEncoding) return false;
  const codings = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    codings.set(coding, q ? Number(q.slice(2)) : 1);
  }
  const q = codings.get('gzip') ?? codings.get('x-gzip') ?? codings.get('*');
  return q !== undefined && q > 0;
}
