/** CSV and TSV rows as records, streamed through csv-parse. Values stay strings; the mapper converts. */
import { Readable, pipeline } from 'node:stream';
import { parse, type Options as CsvParseOptions } from 'csv-parse';
import { BATCH_SIZE, MAX_RECORD_CHARS, type Rec } from './common.ts';
import { DecodeError } from './errors.ts';

export interface CsvSpec {
  delimiter?: string;
  header?: boolean;
  columns?: string[];
  quote?: string;
  skip_lines?: number;
  relax_column_count?: boolean;
}

/**
 * Translates the connector's csv options into csv-parse options.
 * - `header` defaults to true unless `columns` are given; with both, the header row is read and replaced.
 * - Without header and columns, rows become objects keyed "0", "1", … so records are always objects.
 * - TSV has no quoting convention, so quotes are literal characters there unless `quote` is set;
 *   in CSV, stray quotes inside unquoted fields (`5" screen`) are kept as data (relax_quotes).
 */
export function csvParseOptions(format: 'csv' | 'tsv', spec: CsvSpec = {}): CsvParseOptions {
  const delimiter = spec.delimiter ?? (format === 'tsv' ? '\t' : ',');
  const quote = spec.quote ?? (format === 'tsv' ? '' : '"');
  const header = spec.header ?? !(spec.columns && spec.columns.length > 0);
  const given = spec.columns && spec.columns.length > 0 ? [...spec.columns] : undefined;
  if (delimiter.length === 0 || /[\r\n]/.test(delimiter)) throw new DecodeError(format, 'csv.delimiter must be non-empty and contain no line break');
  if (quote !== '' && (quote === delimiter || quote.length !== 1)) throw new DecodeError(format, 'csv.quote must be one character, different from the delimiter');
  const skip = spec.skip_lines ?? 0;
  if (!Number.isInteger(skip) || skip < 0) throw new DecodeError(format, 'csv.skip_lines must be a non-negative integer');

  const opts: CsvParseOptions = {
    delimiter,
    quote: quote === '' ? false : quote,
    relax_quotes: quote !== '',
    relax_column_count: spec.relax_column_count ?? false,
    // Explicit, because csv-parse's delimiter auto-discovery rescans on every byte until it sees a line
    // break, which makes a long first row (or a newline-free bomb) crawl at a few MB/s. A lone CR stays data.
    record_delimiter: ['\r\n', '\n'],
    skip_empty_lines: true,
    bom: true,
    from_line: skip + 1,
    max_record_size: MAX_RECORD_CHARS,
  };
  if (given && header) opts.columns = () => given;
  else if (given) opts.columns = given;
  else if (header) opts.columns = true;
  else {
    const toObject = (row: string[]): Rec => Object.fromEntries(row.map((v, i) => [String(i), v]));
    // csv-parse's typings only allow on_record to return the row type; returning an object is supported at runtime.
    opts.on_record = toObject as unknown as CsvParseOptions['on_record'];
  }
  return opts;
}

/** Fails early, before any byte is read, on options csv-parse would reject. */
export function checkCsvSpec(format: 'csv' | 'tsv', spec: CsvSpec = {}): void {
  try {
    parse(csvParseOptions(format, spec)).destroy();
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const code = (err as { code?: unknown }).code;
    throw new DecodeError(format, `invalid csv options (${typeof code === 'string' ? code : (err as Error).message})`, undefined, { cause: err });
  }
}

export async function* csvBatches(
  text: AsyncIterable<string>,
  format: 'csv' | 'tsv',
  spec: CsvSpec = {},
  batchSize = BATCH_SIZE,
): AsyncGenerator<Rec[]> {
  const parser = parse(csvParseOptions(format, spec));
  // pipeline destroys the source when the parser fails or the consumer stops iterating.
  pipeline(Readable.from(text, { objectMode: false }), parser, () => {});
  let batch: Rec[] = [];
  let count = 0;
  try {
    for await (const rec of parser as AsyncIterable<Rec>) {
      batch.push(rec);
      count++;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    throw csvError(format, err, count);
  } finally {
    parser.destroy();
  }
  if (batch.length > 0) yield batch;
}

const REASONS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'quoted field not closed before the end of input (truncated body?)',
  CSV_INVALID_CLOSING_QUOTE: 'unexpected character after a closing quote',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unexpected character after a closing quote',
  INVALID_OPENING_QUOTE: 'quote inside an unquoted field',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'row has a different number of fields than the first row',
  CSV_RECORD_INCONSISTENT_COLUMNS: 'row has a different number of fields than there are columns',
  CSV_MAX_RECORD_SIZE: `row longer than ${MAX_RECORD_CHARS} characters`,
  CSV_INVALID_COLUMN_MAPPING: 'invalid column mapping',
};

function csvError(format: 'csv' | 'tsv', err: unknown, recordsSoFar: number): unknown {
  if (!(err instanceof Error) || typeof (err as { code?: unknown }).code !== 'string') return err;
  const e = err as Error & { code: string; lines?: number; records?: number; column?: string | number | null; index?: number };
  if (!(e.code.startsWith('CSV_') || e.code === 'INVALID_OPENING_QUOTE')) return err;
  // csv-parse messages can quote field values; report the code's meaning and the position only.
  let reason = REASONS[e.code] ?? `malformed ${format.toUpperCase()} (${e.code})`;
  if (e.code.startsWith('CSV_INVALID_OPTION')) reason = `invalid parser option (${e.code})`;
  // csv-parse runs ahead of the consumer, so its own record count is the accurate one.
  const position: { line?: number; record?: number } = { record: (typeof e.records === 'number' ? e.records : recordsSoFar) + 1 };
  if (typeof e.lines === 'number') position.line = e.lines;
  // csv-parse reports the field index, not a character column, so it goes into the message only.
  let field = '';
  if (typeof e.index === 'number' && e.code !== 'CSV_QUOTE_NOT_CLOSED' && !e.code.startsWith('CSV_RECORD_INCONSISTENT')) {
    field = ` in field ${e.index + 1}${typeof e.column === 'string' ? ` ("${e.column}")` : ''}`;
  }
  return new DecodeError(format, `${reason}${field}`, position, { cause: err });
}
