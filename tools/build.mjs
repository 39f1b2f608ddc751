// Bundles the app into the one CommonJS file that package.json "main" names, and the local tools
// (host, start script, benchmark) into dist/tools. `@azure/functions-core` is provided by the
// Functions worker at run time (or by tools/host), so it must stay external.
import { join } from 'node:path';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Some Azure SDK modules are ESM that call createRequire(import.meta.url) at load time (@azure/storage-common's
  // crc64). In a CommonJS bundle import.meta is empty, so give it the bundle's own file URL.
  banner: { js: 'const __bundleImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__bundleImportMetaUrl' },
};

// zod re-exports every locale (`export * as locales`), which no tree-shaking can drop; the app uses the default
// English messages only. Leaving the other 40-odd locales out makes the bundle much smaller and faster to load.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: 'js',
      resolveDir: 'node_modules/zod/v4/locales',
    }));
  },
};

// @azure/identity (with MSAL) is half the size of the rest of the app and only an identity-based storage connection
// uses it: it gets a bundle of its own, dist/identity.js, which lib/adapters/storageConnection.ts imports on the first
// token request. An app on a connection string never parses it.
const identityApart = {
  name: 'identity-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/identity$/ }, (args) =>
      args.importer.endsWith(join('lib', 'adapters', 'storageConnection.ts'))
        ? { path: './identity.js', external: true }
        : undefined,
    );
  },
};

await build({
  ...common,
  entryPoints: ['functions/index.ts'],
  outfile: 'dist/main.js',
  external: ['@azure/functions-core'],
  plugins: [zodEnglishOnly, identityApart],
  // Smaller code compiles faster at cold start. keepNames keeps function and class names in stack traces; the linked
  // source map gives the rest (set NODE_OPTIONS=--enable-source-maps in the app settings to use it).
  minify: true,
});
await build({
  ...common,
  entryPoints: ['lib/adapters/identity.ts'],
  outfile: 'dist/identity.js',
  minify: true,
});
await build({
  ...common,
  entryPoints: {
    host: 'tools/host/cli.ts',
    start: 'tools/start.ts',
    connector: 'tools/connector.ts',
    bench: 'tools/bench/run.ts',
    benchSweep: 'tools/bench/sweepRun.ts',
    validateInfra: 'tools/validateInfra.ts',
    package: 'tools/package.ts',
  },
  outdir: 'dist/tools',
  // Tools run from the checkout: keep dev dependencies (azurite, esbuild) as real packages.
  packages: 'external',
});
