import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../lib/core/errorCatalogue';
import { renderErrorTable, withErrorTable } from '../../../tools/apiDocuments/errorTable';
import { errorsByStatus, operations } from '../../../tools/apiDocuments/model';
import { NOT_YET_ROUTED } from '../../../tools/apiDocuments/operations';

const apiDoc = join(__dirname, '../../../docs/API.md');

describe('the error catalogue in the documents', () => {
  it('is the error table of docs/API.md (refresh it with: node dist/tools/apiDocuments.js --docs docs/API.md)', () => {
    const markdown = readFileSync(apiDoc, 'utf8');
    expect(withErrorTable(markdown)).toBe(markdown);
    for (const code of ERROR_CODES) expect(renderErrorTable()).toContain(`\`${code}\``);
  });

  it('documents every code on at least one operation, with its status (but those no route answers yet)', () => {
    const documented = new Set(operations().flatMap((operation) => [...errorsByStatus(operation).values()].flat()));
    expect([...documented, ...NOT_YET_ROUTED].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of NOT_YET_ROUTED) expect(documented.has(code), code).toBe(false);
  });

  it('replaces only what is between the markers', () => {
    const text = 'before\n<!-- errors:start -->\nSTALE-TABLE\n<!-- errors:end -->\nafter';
    const replaced = withErrorTable(text);
    expect(replaced.startsWith('before\n<!-- errors:start -->\n| status |')).toBe(true);
    expect(replaced.endsWith('\n<!-- errors:end -->\nafter')).toBe(true);
    expect(replaced).not.toContain('STALE-TABLE');
    expect(() => withErrorTable('no markers')).toThrow(/markers/);
  });
});
