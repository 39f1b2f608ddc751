import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Where a Chromium is looked for: CHROMIUM_PATH when set, then Debian's and other distributions' usual places.
 * Playwright never downloads a browser here (its download host is not reachable); Debian's package is the browser.
 */
function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/**
 * The Chromium the browser tests drive, installed from Debian's packages when none is there (as root, as on the
 * project's machines and CI): a fresh machine runs `npm test` with nothing installed by hand. Elsewhere the error says
 * what to install.
 */
export function ensureChromium(log: (line: string) => void = console.log): string {
  const found = findChromium();
  if (found) return found;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    throw new Error(
      'No Chromium found for the browser tests: install Debian\'s "chromium" package (apt-get install chromium) or ' +
        'set CHROMIUM_PATH to a Chromium or Chrome executable',
    );
  }
  log('browser tests: no Chromium found, installing Debian\'s "chromium" package (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium'],
  ]) {
    const run = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${run.stderr.trim().slice(-500)}`);
  }
  const installed = findChromium();
  if (!installed) throw new Error('apt-get installed "chromium" but no executable was found');
  return installed;
}
