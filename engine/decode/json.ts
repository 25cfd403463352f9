/** JSON documents and newline-delimited JSON records. */
import { BATCH_SIZE, MAX_RECORD_CHARS, collectText, isBlank, isPlainObject, lineColumn, type Rec } from './common.ts';
import { DecodeError } from './errors.ts';

/** Collects the whole text and parses it; a syntax error carries line and column. */
export async function decodeJsonDocument(text: AsyncIterable<string>): Promise<unknown> {
  const doc = await collectText(text, 'json', 'as one JSON text; use format ndjson or smaller pages');
  if (isBlank(doc)) throw new DecodeError('json', 'empty body, expected a JSON document', { line: 1, column: 1, byte: 0 });
  try {
    return JSON.parse(doc);
  } catch (err) {
    throw jsonError('json', doc, err);
  }
}

/** Streams one JSON object per line; blank lines are skipped, anything else that is not an object fails. */
export async function* ndjsonBatches(text: AsyncIterable<string>, batchSize = BATCH_SIZE): AsyncGenerator<Rec[]> {
  let lineNo = 0;
  let recordNo = 0;
  let batch: Rec[] = [];

  const handle = (line: string): void => {
    lineNo++;
    if (isBlank(line)) return;
    recordNo++;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw jsonError('ndjson', line, err, lineNo, recordNo);
    }
    if (!isPlainObject(v)) {
      throw new DecodeError('ndjson', `line is ${describe(v)}, expected a JSON object`, { line: lineNo, column: 1, record: recordNo });
    }
    batch.push(v);
  };

  // Pieces of a line that spans chunks; joined once when its newline arrives, so long lines stay linear.
  let partial: string[] = [];
  let partialChars = 0;
  for await (const chunk of text) {
    let start = 0;
    let nl = chunk.indexOf('\n');
    while (nl !== -1) {
      let line = chunk.slice(start, nl);
      if (partial.length > 0) {
        partial.push(line);
        line = partial.join('');
        partial = [];
        partialChars = 0;
      }
      handle(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (start < chunk.length) {
      partial.push(start === 0 ? chunk : chunk.slice(start));
      partialChars += chunk.length - start;
      if (partialChars > MAX_RECORD_CHARS) {
        throw new DecodeError('ndjson', `line longer than ${MAX_RECORD_CHARS} characters`, { line: lineNo + 1, record: recordNo + 1 });
      }
    }
  }
  // A final line without a newline is normal; if the body was cut mid-record it fails to parse here.
  if (partial.length > 0) {
    const last = partial.join('');
    handle(last.endsWith('\r') ? last.slice(0, -1) : last);
  }
  if (batch.length > 0) yield batch;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

function jsonError(format: 'json' | 'ndjson', text: string, cause: unknown, lineNo?: number, recordNo?: number): DecodeError {
  if (!(cause instanceof SyntaxError)) {
    return new DecodeError(format, `cannot parse JSON (${(cause as Error)?.message ?? String(cause)})`, lineNo ? { line: lineNo, record: recordNo } : undefined, { cause });
  }
  // V8's message may quote the body; locate the error ourselves and report only the position.
  const found = locateJsonSyntaxError(text) ?? { offset: text.length, reason: 'invalid JSON' };
  if (lineNo !== undefined) {
    return new DecodeError(format, found.reason, { line: lineNo, column: found.offset + 1, record: recordNo }, { cause });
  }
  const { line, column } = lineColumn(text, found.offset);
  return new DecodeError(format, found.reason, { line, column, byte: Buffer.byteLength(text.slice(0, found.offset)) }, { cause });
}

const enum St {
  Value,
  Key,
  After,
}

/**
 * Finds the first syntax error of a JSON text (RFC 8259), iteratively so deep nesting cannot overflow the
 * stack. Only runs after JSON.parse has failed, so it favours clarity over speed.
 */
export function locateJsonSyntaxError(s: string): { offset: number; reason: string } | undefined {
  const n = s.length;
  const stack: number[] = []; // 0 = array, 1 = object
  let i = 0;
  let state = St.Value;
  const skipWs = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (reason: string): { offset: number; reason: string } => ({ offset: i, reason: i >= n ? 'unexpected end of input' : reason });

  const scanString = (): string | undefined => {
    i++; // opening quote
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return undefined;
      }
      if (c === 92) {
        const e = s[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            i += 2;
            return 'invalid \\u escape in string';
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          i++;
          return 'invalid escape in string';
        }
        continue;
      }
      if (c < 0x20) return 'control character in string (unescaped newline or tab?)';
      i++;
    }
    return 'unterminated string';
  };

  const scanNumber = (): string | undefined => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(s.slice(i, i + 512));
    if (!m) return 'invalid number';
    i += m[0].length;
    return undefined;
  };

  for (;;) {
    if (state === St.Value) {
      skipWs();
      if (i >= n) return fail('');
      const c = s[i];
      if (c === '{') {
        i++;
        skipWs();
        if (s[i] === '}') {
          i++;
          state = St.After;
        } else {
          stack.push(1);
          state = St.Key;
        }
      } else if (c === '[') {
        i++;
        skipWs();
        if (s[i] === ']') {
          i++;
          state = St.After;
        } else {
          stack.push(0);
        }
      } else if (c === '"') {
        const err = scanString();
        if (err) return fail(err);
        state = St.After;
      } else if (c === '-' || (c >= '0' && c <= '9')) {
        const err = scanNumber();
        if (err) return fail(err);
        state = St.After;
      } else if (s.startsWith('true', i) || s.startsWith('null', i)) {
        i += 4;
        state = St.After;
      } else if (s.startsWith('false', i)) {
        i += 5;
        state = St.After;
      } else {
        return fail('unexpected character, expected a JSON value');
      }
    } else if (state === St.Key) {
      skipWs();
      if (s[i] !== '"') return fail('expected a double-quoted property name');
      const err = scanString();
      if (err) return fail(err);
      skipWs();
      if (s[i] !== ':') return fail("expected ':' after property name");
      i++;
      state = St.Value;
    } else {
      skipWs();
      if (stack.length === 0) return i < n ? fail('unexpected data after the JSON value') : undefined;
      if (i >= n) return fail('');
      const top = stack[stack.length - 1];
      const c = s[i];
      if (c === ',') {
        i++;
        state = top === 1 ? St.Key : St.Value;
      } else if ((top === 0 && c === ']') || (top === 1 && c === '}')) {
        i++;
        stack.pop();
      } else {
        return fail(top === 0 ? "expected ',' or ']' after array element" : "expected ',' or '}' after property value");
      }
    }
  }
}
