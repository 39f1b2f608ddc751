// `npm run package`: dist/package.zip, the deployment package for `az functionapp deploy` (docs/deploy.md). It holds
// what the Functions runtime needs and nothing else: host.json, a package.json whose `main` names the bundle, and the
// bundle. The source maps stay in dist/ (the runtime does not read them; they decode a minified stack trace). No
// node_modules: esbuild inlines every dependency, and the one module left external,
// `@azure/functions-core`, is provided by the Node.js worker at run time.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Zippable, zipSync } from 'fflate';

export interface PackageEntry {
  /** Path inside the archive, with forward slashes. */
  name: string;
  data: Buffer;
}

/** The files of the package, from a built checkout (`npm run build` first). */
export const PACKAGE_FILES = [
  'host.json',
  'dist/main.js',
  // @azure/identity, loaded on the first token request of an identity-based storage connection (tools/build.mjs).
  'dist/identity.js',
  'dist/androidManagement.js',
  // @azure/storage-queue and its XML stack, loaded on the app's first queue call (tools/build.mjs).
  'dist/storageQueue.js',
  // The API documents the build generates and the app serves (functions/apiDocuments.ts reads them beside the bundle).
  'dist/openapi.json',
  'dist/swagger.json',
];

/** The admin console the build writes beside the bundle (functions/consolePage.ts serves dist/console/*). */
const CONSOLE_DIR = 'dist/console';

/** The package.json deployed: what the worker reads (`main`), without scripts or dependencies. */
export function deployedPackageJson(source: { name?: unknown; version?: unknown; main?: unknown; engines?: unknown }) {
  return {
    name: source.name,
    version: source.version,
    private: true,
    main: source.main,
    engines: source.engines,
  };
}

export function packageEntries(root: string): PackageEntry[] {
  const manifest: { name?: unknown; version?: unknown; main?: unknown; engines?: unknown } = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8'),
  );
  return [
    { name: 'package.json', data: Buffer.from(`${JSON.stringify(deployedPackageJson(manifest), null, 2)}\n`) },
    ...PACKAGE_FILES.map((name) => ({ name, data: readFileSync(join(root, name)) })),
    ...readdirSync(join(root, CONSOLE_DIR), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(root, join(entry.parentPath, entry.name)).replaceAll('\\', '/'))
      .sort()
      .map((name) => ({ name, data: readFileSync(join(root, name)) })),
  ];
}

// Every entry gets the same timestamp, 1980-01-01 00:00 (the ZIP format's epoch, in local time because DOS times are
// local), so the same files make the same archive. "Made by" Unix (3) so that the external attributes carry a file
// mode (regular file, rw-r--r--): Linux Functions hosts unpack the package with it.
const ENTRY_ATTRIBUTES = { mtime: new Date(1980, 0, 1), os: 3, attrs: (0o100644 << 16) >>> 0 };

/** The ZIP archive of `entries`, deflated at level 9, no ZIP64 (zip deploy and one-deploy accept plain ZIP). */
export function zipPackage(entries: PackageEntry[]): Buffer {
  const files: Zippable = {};
  for (const { name, data } of entries) files[name] = [data, ENTRY_ATTRIBUTES];
  return Buffer.from(zipSync(files, { level: 9 }));
}

/** Writes the package of the checkout at `root` to `outFile`; returns its entries. */
export function buildPackage(root: string, outFile: string): PackageEntry[] {
  const entries = packageEntries(root);
  writeFileSync(outFile, zipPackage(entries));
  return entries;
}

if (process.argv[1]?.endsWith(join('dist', 'tools', 'package.js'))) {
  const out = join('dist', 'package.zip');
  const entries = buildPackage(process.cwd(), out);
  for (const { name, data } of entries)
    console.log(`  ${name.padEnd(24)} ${(data.length / 1024).toFixed(1).padStart(8)} KiB`);
  console.log(`${out}: ${(readFileSync(out).length / 1024).toFixed(1)} KiB, ${entries.length} files`);
}
