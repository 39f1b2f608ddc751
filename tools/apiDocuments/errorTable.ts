import { ERROR_CATALOGUE, ERROR_CODES, type ErrorEntry } from '../../lib/core/errorCatalogue';

/**
 * docs/API.md's error table lives between these markers; `node dist/tools/apiDocuments.js --docs docs/API.md` (after
 * `npm run build`) rewrites it from the catalogue, and a unit test fails while it differs.
 */
const ERROR_TABLE_START = '<!-- errors:start -->';
const ERROR_TABLE_END = '<!-- errors:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');

/** The error catalogue as a Markdown table: status, code, message template, target, headers, when. */
export function renderErrorTable(): string {
  const rows = ERROR_CODES.map((code) => {
    const entry: ErrorEntry = ERROR_CATALOGUE[code];
    const headers = [
      ...(entry.headers ?? []).map((h) => `\`${h}\``),
      ...(entry.optionalHeaders ?? []).map((h) => `\`${h}\` (some)`),
    ];
    const target = entry.target ? `\`${entry.target}\`` : '';
    return `| ${entry.status} | \`${code}\` | ${cell(entry.message)} | ${target} | ${headers.join(', ')} | ${cell(entry.when)} |`;
  });
  return ['| status | code | message | target | headers | when |', '|---:|---|---|---|---|---|', ...rows].join('\n');
}

/** `markdown` with the text between the error table markers replaced by the current table. */
export function withErrorTable(markdown: string): string {
  const start = markdown.indexOf(ERROR_TABLE_START);
  const end = markdown.indexOf(ERROR_TABLE_END);
  if (start < 0 || end < start) throw new Error(`no ${ERROR_TABLE_START} … ${ERROR_TABLE_END} markers`);
  return `${markdown.slice(0, start + ERROR_TABLE_START.length)}\n${renderErrorTable()}\n${markdown.slice(end)}`;
}
