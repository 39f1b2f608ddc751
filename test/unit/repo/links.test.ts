import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// A clone of the repository must be complete: no file may point at a sibling checkout, a build machine's home or
// working directory, or a local file URL, and every relative Markdown link must land on a file of the repository.

const ROOT = resolve(__dirname, '../../..');

/** Files in the repository (tracked, plus new ones not yet committed but not ignored). */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter((file) => existsSync(join(ROOT, file)));
}

/** Text files only: a NUL byte in the first 8 KiB marks a binary (the connector icon, for instance). */
function readText(file: string): string | undefined {
  const buffer = readFileSync(join(ROOT, file));
  return buffer.subarray(0, 8192).includes(0) ? undefined : buffer.toString('utf8');
}

// Written as patterns so that this file does not match itself.
const OUTSIDE_REFERENCES: [string, RegExp][] = [
  ['a sibling "shared" folder', /\.\.\/(\.\.\/)*shared\b/],
  ["the build machine's work directory", /(^|[\s("'`=:])\/work\//],
  ['a home directory', /(^|[\s("'`=:])\/(home|root|Users)\/(?!site\/wwwroot)/],
  ['a Windows user folder', /[A-Za-z]:\\Users\\/],
  ['a file URL', /\bfile:\/\/\//],
];

/** Every place a text file refers outside the repository, as "file:line: what". */
function outsideReferences(files: string[], read: (file: string) => string | undefined): string[] {
  const found: string[] = [];
  for (const file of files) {
    if (file === 'package-lock.json') continue; // registry URLs and integrity hashes only
    const text = read(file);
    if (text === undefined) continue;
    text.split('\n').forEach((line, index) => {
      for (const [what, pattern] of OUTSIDE_REFERENCES) {
        if (pattern.test(line)) found.push(`${file}:${index + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  return found;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_[\]()]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');

const anchorsIn = (markdown: string) =>
  new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading]) => anchorOf(heading ?? '')));

/** Relative Markdown links that leave the repository, name a missing file, or a missing heading. */
function brokenMarkdownLinks(files: string[], read: (file: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.md'))) {
    const text = read(file) ?? '';
    // Links in fenced code blocks are examples, not links.
    const prose = text.replace(/^```[\s\S]*?^```/gm, '');
    for (const [, target = ''] of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path = '', anchor] = target.split('#');
      const resolved = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURI(path));
      const inRepo = relative(ROOT, resolved);
      if (inRepo.startsWith('..')) {
        broken.push(`${file}: ${target} leaves the repository`);
      } else if (!existsSync(resolved)) {
        broken.push(`${file}: ${target} does not exist`);
      } else if (anchor && statSync(resolved).isFile() && resolved.endsWith('.md')) {
        if (!anchorsIn(readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${file}: ${target} has no such heading`);
      }
    }
  }
  return broken;
}

/** Code citing the contract or the design by a bare file name ("API" + ".md"), as it did when they lived outside the repo. */
function bareDesignCitations(files: string[], read: (file: string) => string | undefined): string[] {
  return files
    .filter((file) => /\.(ts|mts|mjs|js)$/.test(file))
    .flatMap((file) =>
      (read(file) ?? '')
        .split('\n')
        .flatMap((line, index) =>
          /(?<![\w/])(API|DESIGN)\.md/.test(line) ? [`${file}:${index + 1}: ${line.trim().slice(0, 100)}`] : [],
        ),
    );
}

describe('the repository refers only to itself', () => {
  const files = repositoryFiles();

  it('lists the repository files', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/API.md');
    expect(files).toContain('docs/DESIGN.md');
  });

  it('has no reference to a sibling checkout, a machine path or a file URL in any file', () => {
    expect(outsideReferences(files, readText)).toEqual([]);
  });

  it('has only Markdown links that land on a file (and heading) of the repository', () => {
    expect(brokenMarkdownLinks(files, readText)).toEqual([]);
  });

  it('cites the contract and the design in code by their place in the repo (docs/API.md, docs/DESIGN.md)', () => {
    expect(bareDesignCitations(files, readText)).toEqual([]);
    const fake: Record<string, string> = { 'x.ts': `// see ${'API'}.md\n// see docs/${'DESIGN'}.md` };
    expect(bareDesignCitations(['x.ts'], (file) => fake[file])).toEqual([`x.ts:1: // see ${'API'}.md`]);
  });

  it('catches each kind of outside reference and broken link', () => {
    const fake: Record<string, string> = {
      // Assembled at run time, so that this very file stays clean.
      'a.ts': `// see ${['..', 'shared', `${'API'}.md`].join('/')}`,
      'b.md': [
        `Built in ${['', 'work', 'main'].join('/')}.`,
        `Or in ${['', 'root', 'x'].join('/')}.`,
        `Or in ${['', 'home', 'me', 'x'].join('/')}.`,
        `See ${['file:', '', '', 'tmp'].join('/')} or ${['C:', 'Users', 'me'].join('\\')}.`,
      ].join('\n'),
      'c.md':
        '[up](../../elsewhere.md) [gone](docs/nothing.md) [heading](docs/API.md#no-such-heading) [ok](docs/API.md#errors)',
      'd.md': 'Azure runs the app from /home/site/wwwroot, which is fine.',
    };
    const read = (file: string) => fake[file] ?? readText(file);
    expect(outsideReferences(Object.keys(fake), read).map((line) => line.split(': ').slice(0, 2).join(': '))).toEqual([
      'a.ts:1: a sibling "shared" folder',
      "b.md:1: the build machine's work directory",
      'b.md:2: a home directory',
      'b.md:3: a home directory',
      'b.md:4: a Windows user folder',
      'b.md:4: a file URL',
    ]);
    expect(brokenMarkdownLinks(['c.md'], read)).toEqual([
      'c.md: ../../elsewhere.md leaves the repository',
      'c.md: docs/nothing.md does not exist',
      'c.md: docs/API.md#no-such-heading has no such heading',
    ]);
  });
});
