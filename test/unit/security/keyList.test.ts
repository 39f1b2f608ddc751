import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_KEY_FINGERPRINTS, keyFingerprint, parseKeyList, weakKeyReason } from '../../../lib/security/keyList';

/** Files a user copies settings from: examples, settings templates, docs, infrastructure parameters. */
function exampleFiles(): string[] {
  const tracked = execFileSync('git', ['ls-files'], { encoding: 'utf8' }).split('\n');
  return tracked.filter(
    (file) =>
      file !== 'package-lock.json' &&
      !file.startsWith('test/') &&
      (/\.(json|md)$/.test(file) || file === 'tools/azurite.ts'),
  );
}

describe('example keys', () => {
  it('every key published in an example file is refused in Azure', () => {
    const published: string[] = [];
    for (const file of exampleFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const [token] of text.matchAll(/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42,}={1,2}(?![A-Za-z0-9+/=])/g)) {
        const bytes = Buffer.from(token, 'base64');
        if (bytes.length >= 32) published.push(`${file}: ${keyFingerprint(bytes)}`);
      }
    }
    // Keys are published as padded base64 (how randomBytes(n).toString("base64") writes them); the gateway guide's
    // worked example uses a UTF-8 secret instead.
    const gateway = /Secret \(UTF-8, 32 bytes\):\s*```?\s*\n?([^\n`]+)/.exec(
      readFileSync('docs/device-gateway.md', 'utf8'),
    );
    expect(gateway?.[1]).toBeDefined();
    published.push(`docs/device-gateway.md: ${keyFingerprint(Buffer.from(gateway?.[1]?.trim() ?? '', 'utf8'))}`);
    expect(published.length).toBeGreaterThanOrEqual(3);
    const unknown = published.filter((entry) => !EXAMPLE_KEY_FINGERPRINTS.has(entry.split(': ')[1] ?? ''));
    expect(unknown).toEqual([]);
  });

  it('refuses published, constant and counting keys and accepts random ones', () => {
    expect(weakKeyReason(Buffer.from('BO27zc+zCgpfwBJsDsOJNSNbHpELC2uraS801RGZ0MI=', 'base64'))).toMatch(/example/);
    expect(weakKeyReason(Buffer.alloc(32))).toMatch(/entropy/);
    expect(weakKeyReason(Buffer.from('a'.repeat(40)))).toMatch(/entropy/);
    expect(weakKeyReason(Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i * 3)))).toMatch(/entropy/);
    for (let i = 0; i < 200; i++) {
      expect(weakKeyReason(randomBytes(32))).toBeUndefined();
      expect(weakKeyReason(Buffer.from(randomBytes(32).toString('hex')))).toBeUndefined();
    }
  });
});

describe('parseKeyList', () => {
  it('takes the first key as current and names entries, never key material, in errors', () => {
    const a = randomBytes(32).toString('base64');
    const list = parseKeyList('X_KEYS', ` new:${a}, old:${randomBytes(40).toString('base64')}`, { atLeast: 32 });
    expect(list.currentKeyId).toBe('new');
    expect([...list.keys.keys()]).toEqual(['new', 'old']);
    const short = randomBytes(16).toString('base64');
    expect(() => parseKeyList('X_KEYS', `k:${short}`, { atLeast: 32 })).toThrow(/X_KEYS key 'k' must be at least 32/);
    try {
      parseKeyList('X_KEYS', `k:${short}`, { exactly: 32 });
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});
