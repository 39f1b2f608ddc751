import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** A Chromium to drive, and the directory of shared libraries it needs besides the system's (when it brings its own). */
export interface ChromiumBrowser {
  executablePath: string;
  libraryPath?: string;
}

/**
 * Where an installed Chromium is looked for: CHROMIUM_PATH when set, then the usual places of Debian's, Ubuntu's and
 * Google's packages. Playwright never downloads a browser here (its download host is not reachable).
 */
function findInstalled(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [
    env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/**
 * The Chromium the browser tests drive: an installed one, or else the one the npm registry ships inside the
 * `@sparticuz/chromium` dev dependency (a headless Chromium with the NSS libraries it needs, brotli-compressed in the
 * package and unpacked to the temporary directory), so a fresh machine runs every tier of `npm test` with nothing
 * installed by hand, root or not, Debian or Ubuntu. Says which it used; when neither works, one line says what to do.
 */
export async function ensureChromium(log: (line: string) => void = console.log): Promise<ChromiumBrowser> {
  const installed = findInstalled();
  if (installed) {
    log(`browser tests: Chromium at ${installed}`);
    return { executablePath: installed };
  }
  try {
    const { default: packaged, inflate } = await import('@sparticuz/chromium');
    const executablePath = await packaged.executablePath();
    // Its NSS and expat libraries (built for Amazon Linux 2023, glibc only) stand in for system packages.
    const bin = join(process.cwd(), 'node_modules', '@sparticuz', 'chromium', 'bin');
    const libraries = await inflate(join(bin, 'al2023.tar.br'));
    log(`browser tests: no Chromium installed; using @sparticuz/chromium's, unpacked to ${executablePath}`);
    return { executablePath, libraryPath: join(libraries, 'lib') };
  } catch (error) {
    throw new Error(
      `No Chromium for the browser tests (none installed, and @sparticuz/chromium could not be unpacked: ${String(error)}): ` +
        'run npm ci, install a "chromium" package, or set CHROMIUM_PATH to a Chromium or Chrome executable',
    );
  }
}
