import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// `import { z } from 'zod'` binds zod's whole namespace object, which esbuild cannot shake: one such import anywhere
// in the app puts all of zod (its JSON Schema conversion included) back into dist/main.js, about 95 KiB
// (docs/PERFORMANCE.md "Bundle and cold start"). `import * as z from 'zod'` is the form zod documents.
describe('the app bundle', () => {
  it('imports zod as a namespace everywhere the bundle reaches', () => {
    const root = join(__dirname, '../../..');
    const sources = ['lib', 'functions'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => /\.tsx?$/.test(file))
        .map((file) => join(dir, file)),
    );
    expect(sources.length).toBeGreaterThan(40);
    const named = sources.filter((file) =>
      /^import \{[^}]*\bz\b[^}]*\} from 'zod';/m.test(readFileSync(join(root, file), 'utf8')),
    );
    expect(named).toEqual([]);
  });
});
