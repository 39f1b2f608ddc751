// Bundles the app into the one CommonJS file that package.json "main" names, the local tools (host, start script,
// benchmark, connector, document generator) into dist/tools, writes the API documents, and builds the admin console.
// `@azure/functions-core` is provided by the Functions worker at run time (or by tools/host), so it must stay external.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { noXml } from './noXml.mjs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Some Azure SDK modules are ESM that read import.meta.url at load time (@azure/identity, in dist/identity.js). In a
  // CommonJS bundle import.meta is empty, so give it the bundle's own file URL.
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

// @azure/storage-common brings an 85 KB Emscripten CRC64 module, used only to validate Blob and File transfers
// (structured messages). The queue client never calls it (its bodies are XML), but the module's top-level code keeps it
// in any bundle of the SDK. It is replaced by a function that throws, so an SDK version that starts to use it fails the
// queue tests loudly instead of computing a wrong checksum.
const noCrc64 = {
  name: 'no-crc64',
  setup(b) {
    b.onLoad({ filter: /[\\/]@azure[\\/]storage-common[\\/]dist[\\/]esm[\\/]crc64\.js$/ }, () => ({
      contents:
        'export default function NativeCRC64() { throw new Error("CRC64 is not in this bundle: see tools/build.mjs"); }',
      loader: 'js',
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

// Google's client libraries (googleapis, google-auth-library) are used by the Android Management channel only: they
// get a bundle of their own with the whole channel, dist/androidManagement.js, which lib/deps.ts imports on the
// channel's first call.
const androidManagementApart = {
  name: 'android-management-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/adapters\/androidManagement$/ }, (args) =>
      args.importer.endsWith(join('lib', 'deps.ts')) ? { path: './androidManagement.js', external: true } : undefined,
    );
  },
};

// @azure/storage-queue, with the XML stack the queue service needs, is dist/storageQueue.js, which
// lib/adapters/storageActionQueue.ts imports on the first queue call: loaded with the app, it added 17% to the CPU time
// of the app's require (docs/PERFORMANCE.md "The queue SDK, loaded on first use"), and most requests enqueue nothing.
const queueSdkApart = {
  name: 'queue-sdk-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/queueSdk$/ }, (args) =>
      args.importer.endsWith(join('lib', 'adapters', 'storageActionQueue.ts'))
        ? { path: './storageQueue.js', external: true }
        : undefined,
    );
  },
};

// The OpenTelemetry SDK: dist/telemetry.js (its exporters, loaded on the first export: dist/telemetryExporters.js), which lib/telemetry/telemetry.ts imports only when an
// exporter is configured (docs/operations.md), so an app without one never parses it.
const telemetryApart = {
  name: 'telemetry-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/exporters$/ }, (args) =>
      args.importer.endsWith(join('lib', 'telemetry', 'sdk.ts'))
        ? { path: './telemetryExporters.js', external: true }
        : undefined,
    );
    b.onResolve({ filter: /^\.\/sdk$/ }, (args) =>
      args.importer.endsWith(join('lib', 'telemetry', 'telemetry.ts'))
        ? { path: './telemetry.js', external: true }
        : undefined,
    );
  },
};

const app = await build({
  ...common,
  entryPoints: ['functions/index.ts'],
  outfile: 'dist/main.js',
  external: ['@azure/functions-core'],
  plugins: [zodEnglishOnly, identityApart, androidManagementApart, queueSdkApart, telemetryApart, noXml],
  // What each module adds to the bundle, for esbuild's analyzer (https://esbuild.github.io/analyze/) and the test that
  // keeps the XML stack and @azure/storage-queue out of it (test/integration/adapters/bundleWithoutXml.test.ts).
  metafile: true,
  // Smaller code compiles faster at cold start. keepNames keeps function and class names in stack traces; the linked
  // source map gives the rest (set NODE_OPTIONS=--enable-source-maps in the app settings to use it).
  minify: true,
});
writeFileSync('dist/main.meta.json', JSON.stringify(app.metafile));
await build({
  ...common,
  entryPoints: ['lib/adapters/identity.ts'],
  outfile: 'dist/identity.js',
  minify: true,
});
await build({
  ...common,
  entryPoints: ['lib/adapters/queueSdk.ts'],
  outfile: 'dist/storageQueue.js',
  plugins: [noCrc64],
  metafile: true,
  minify: true,
}).then((queue) => writeFileSync('dist/storageQueue.meta.json', JSON.stringify(queue.metafile)));
await build({
  ...common,
  entryPoints: ['lib/telemetry/sdk.ts'],
  outfile: 'dist/telemetry.js',
  plugins: [telemetryApart],
  // The OpenTelemetry packages' ES module builds, which esbuild can tree-shake: their CommonJS builds bring every
  // semantic convention constant and the resource detectors (child_process, fs, os), 245 KiB where 98 KiB is used, and
  // requiring them cost the cold start ~40 ms of CPU instead of ~9 (docs/operations.md, "Cold start").
  mainFields: ['module', 'main'],
  minify: true,
});
await build({
  ...common,
  entryPoints: ['lib/telemetry/exporters.ts'],
  outfile: 'dist/telemetryExporters.js',
  minify: true,
});
await build({
  ...common,
  entryPoints: ['lib/adapters/androidManagement/index.ts'],
  outfile: 'dist/androidManagement.js',
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
    benchScale: 'tools/bench/scale.ts',
    validateInfra: 'tools/validateInfra.ts',
    package: 'tools/package.ts',
    coldStartCompare: 'tools/bench/coldStartCompare.ts',
    apiDocuments: 'tools/apiDocuments/generate.ts',
  },
  outdir: 'dist/tools',
  // Tools run from the checkout: keep dev dependencies (azurite, esbuild) as real packages.
  packages: 'external',
});

// The API's OpenAPI and Swagger documents are generated here, at build time, next to the bundle (dist/openapi.json,
// dist/swagger.json): the app serves the files, so the generators and the response schemas stay out of dist/main.js.
const generated = spawnSync(process.execPath, ['dist/tools/apiDocuments.js', '--out', 'dist'], { stdio: 'inherit' });
if (generated.status !== 0) process.exit(generated.status ?? 1);

// The admin console (docs/console.md): browser ES modules into dist/console, which functions/consolePage.ts serves.
// MSAL.js is a chunk of its own, imported only in AUTH_MODE=entra. Every asset gets a gzip twin (served when the
// browser accepts gzip) and a content hash in its name (so it can be cached for a year).
const CONSOLE_DIR = 'dist/console';
const KiB = 1024;
// Gzipped budgets: the JavaScript every mode loads, and MSAL.js (about 76 KiB gzipped on its own as of 5.30).
const CONSOLE_BUDGETS = { everyMode: 60 * KiB, entraOnly: 90 * KiB };

rmSync(CONSOLE_DIR, { recursive: true, force: true });
const consoleBuild = await build({
  entryPoints: { console: 'lib/console/app/main.tsx' },
  bundle: true,
  platform: 'browser',
  format: 'esm',
  splitting: true,
  target: ['chrome111', 'edge111', 'firefox111', 'safari16.4'],
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: `${CONSOLE_DIR}/assets`,
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  plugins: [zodEnglishOnly],
});

const icon = readFileSync('lib/console/app/icon.svg');
const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8).toUpperCase()}.svg`;
writeFileSync(`${CONSOLE_DIR}/assets/${iconName}`, icon);

const outputs = consoleBuild.metafile.outputs;
const entryJs = Object.keys(outputs).find((file) => outputs[file].entryPoint === 'lib/console/app/main.tsx');
const entryCss = outputs[entryJs].cssBundle;
const assetUrl = (file) => `/api/console/assets/${basename(file)}`;
writeFileSync(
  `${CONSOLE_DIR}/index.html`,
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reset passcode console</title>
<link rel="icon" href="${assetUrl(iconName)}" type="image/svg+xml">
<link rel="stylesheet" href="${assetUrl(entryCss)}">
<script type="module" src="${assetUrl(entryJs)}"></script>
</head>
<body>
<div id="app"><p role="status">Loading the console…</p></div>
<noscript>The console needs JavaScript.</noscript>
</body>
</html>
`,
);

// JavaScript loaded in every mode: the entry and what it imports statically; the rest is behind import() (MSAL.js).
const everyMode = new Set();
const visit = (file) => {
  if (everyMode.has(file)) return;
  everyMode.add(file);
  for (const imported of outputs[file].imports) if (imported.kind === 'import-statement') visit(imported.path);
};
visit(entryJs);

mkdirSync(`${CONSOLE_DIR}/assets`, { recursive: true });
const totals = { everyMode: 0, entraOnly: 0 };
const rows = [];
for (const file of [...Object.keys(outputs), `${CONSOLE_DIR}/assets/${iconName}`]) {
  const body = readFileSync(file);
  const gzipped = gzipSync(body, { level: 9 });
  writeFileSync(`${file}.gz`, gzipped);
  if (file.endsWith('.js')) totals[everyMode.has(file) ? 'everyMode' : 'entraOnly'] += gzipped.length;
  rows.push(
    `  ${basename(file).padEnd(44)} ${String(body.length).padStart(8)} B  ${String(gzipped.length).padStart(7)} B gzipped`,
  );
}
const kib = (bytes) => `${(bytes / KiB).toFixed(1)} KiB`;
console.log(`console assets (dist/console/assets):\n${rows.join('\n')}`);
console.log(
  `console JavaScript gzipped: ${kib(totals.everyMode)} in every mode (budget ${kib(CONSOLE_BUDGETS.everyMode)}), ` +
    `+ ${kib(totals.entraOnly)} MSAL.js in entra mode (budget ${kib(CONSOLE_BUDGETS.entraOnly)})`,
);
for (const [part, size] of Object.entries(totals)) {
  if (size > CONSOLE_BUDGETS[part]) {
    console.error(`console JavaScript over budget (${part}): ${kib(size)} > ${kib(CONSOLE_BUDGETS[part])}`);
    process.exitCode = 1;
  }
}
