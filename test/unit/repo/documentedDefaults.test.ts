import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigSchema, parseConfig } from '../../../lib/config';

const ROOT = join(import.meta.dirname, '../../..');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The defaults lib/config.ts gives a setting nobody set (the few required settings aside). */
const defaults: Record<string, unknown> = parseConfig({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PASSCODE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  STATUS_LINK_KEYS: `s1:${randomBytes(32).toString('base64')}`,
  AUTH_MODE: 'none',
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
}) satisfies Config;

/**
 * Every "`SETTING` (default N" and "`SETTING`, default N" in the docs for a setting of lib/config.ts (the host's own,
 * such as FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, are not the app's): the number a reader takes for the default. Digits
 * may be grouped with commas or underscores ("86,400", "10_000").
 */
function documentedDefaults(text: string): { setting: string; value: number }[] {
  const found = [];
  for (const match of text.matchAll(/`([A-Z][A-Z0-9_]+)`(?: \(|, )default (\d[\d,_]*)(?![\d.])/g)) {
    const setting = match[1] as string;
    if (setting in defaults) found.push({ setting, value: Number((match[2] as string).replaceAll(/[,_]/g, '')) });
  }
  return found;
}

describe('numbers the docs give as setting defaults', () => {
  it('finds the ones it checks (the pattern still matches the docs)', () => {
    const all = DOCS.flatMap((file) => documentedDefaults(readFileSync(join(ROOT, file), 'utf8')));
    const settings = new Set(all.map((d) => d.setting));
    for (const setting of ['STATUS_LINK_TTL_SECONDS', 'DEVICE_RETRY_WINDOW_MINUTES', 'PASSCODE_DISPLAY_HOURS']) {
      expect(settings).toContain(setting);
    }
    expect(documentedDefaults('`STATUS_LINK_TTL_SECONDS` (default 86,400 s')).toEqual([
      { setting: 'STATUS_LINK_TTL_SECONDS', value: 86_400 },
    ]);
  });

  it.each(DOCS)('%s states the defaults lib/config.ts has', (file) => {
    for (const { setting, value } of documentedDefaults(readFileSync(join(ROOT, file), 'utf8'))) {
      expect({ setting, value }).toEqual({ setting, value: defaults[setting] });
    }
  });
});

describe('local.settings.example.json (docs/DESIGN.md "Configuration")', () => {
  const example: Record<string, string> = JSON.parse(
    readFileSync(join(ROOT, 'local.settings.example.json'), 'utf8'),
  ).Values;
  // Set by the platform or Core Tools, the identity-based storage form of Azure, and the old name kept to explain it.
  const notForTheExample = (key: string) =>
    key.includes('__') ||
    ['AZURE_FUNCTIONS_ENVIRONMENT', 'WEBSITE_INSTANCE_ID', 'WEBSITE_AUTH_ENABLED', 'STATUS_LINK_KEY'].includes(key);

  it('lists every setting of lib/config.ts an operator sets', () => {
    const missing = Object.keys(ConfigSchema.def.shape).filter((key) => !notForTheExample(key) && !(key in example));
    expect(missing).toEqual([]);
  });

  it('gives each numeric setting its default', () => {
    for (const [key, value] of Object.entries(example)) {
      if (typeof defaults[key] === 'number')
        expect({ key, value: Number(value) }).toEqual({ key, value: defaults[key] });
    }
  });
});
