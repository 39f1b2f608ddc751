import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// Comments and docs cite the repository's files by path ("lib/adapters/androidManagement/client.ts makes them"): a
// renamed or removed file must not leave a citation behind that sends the reader nowhere.

const ROOT = resolve(import.meta.dirname, '../../..');
const SOURCES = /\.(ts|tsx|mts|mjs|md)$/;
// A top-level folder of the repository, then a path to a file with an extension: a citation. A path preceded by a
// letter, dot or slash belongs to a URL or a longer path (https://example.test/docs/x.md), not to this repository.
const CITATION =
  /(?<![\w./-])((?:lib|docs|tools|test|functions|infra|examples)\/[\w./-]+\.(?:ts|tsx|mts|mjs|md|json|svg))\b/g;

/** Every citation of a repository path in `text`, with its line number. */
function citations(text: string): { path: string; line: number }[] {
  const found: { path: string; line: number }[] = [];
  text.split('\n').forEach((content, index) => {
    for (const match of content.matchAll(CITATION)) found.push({ path: match[1] as string, line: index + 1 });
  });
  return found;
}

function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out
    .split('\0')
    .filter((file) => SOURCES.test(file) && existsSync(join(ROOT, file)))
    .filter((file) => !file.startsWith('test/unit/repo/')); // these tests write missing paths on purpose
}

describe('paths cited in code and docs', () => {
  it('finds a citation, and only a path of this repository', () => {
    expect(citations('// as lib/core/loopback.ts says (docs/DESIGN.md "Configuration")')).toEqual([
      { path: 'lib/core/loopback.ts', line: 1 },
      { path: 'docs/DESIGN.md', line: 1 },
    ]);
    expect(citations('https://openapi.test/doc.json and node_modules/x/lib/index.ts')).toEqual([]);
  });

  it('every cited file exists', () => {
    const missing = sourceFiles().flatMap((file) =>
      citations(readFileSync(join(ROOT, file), 'utf8'))
        .filter(({ path }) => !existsSync(join(ROOT, path)))
        .map(({ path, line }) => `${file}:${line}: ${path}`),
    );
    expect(missing).toEqual([]);
  });
});
