/** Shared shapes and limits of the record decoders. */
import { DecodeError } from './errors.ts';

export type Rec = Record<string, unknown>;

/** Records per batch handed to the mapper: big enough to amortise per-batch work, small enough to stay cheap in memory. */
export const BATCH_SIZE = 1000;

/**
 * Longest single record (ndjson line, CSV row, XML record element) in characters. A stream that never
 * closes a record would otherwise buffer up to the whole decompressed cap; no real offer comes close.
 */
export const MAX_RECORD_CHARS = 64 * 1024 * 1024;

/** 1-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number, firstLine = 1): { line: number; column: number } {
  let line = firstLine;
  let lineStart = 0;
  let nl = text.indexOf('\n');
  while (nl !== -1 && nl < offset) {
    line++;
    lineStart = nl + 1;
    nl = text.indexOf('\n', lineStart);
  }
  return { line, column: offset - lineStart + 1 };
}

export function isPlainObject(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/** Collects a whole text document; V8 strings top out around 512 Mi characters, so a larger one gets `tooLarge`. */
export async function collectText(text: AsyncIterable<string>, format: string, tooLarge: string): Promise<string> {
  const parts: string[] = [];
  let chars = 0;
  for await (const s of text) {
    parts.push(s);
    chars += s.length;
  }
  try {
    return parts.length === 1 ? parts[0] : parts.join('');
  } catch (err) {
    throw new DecodeError(format, `document of ${chars} characters is too large to parse ${tooLarge}`, undefined, { cause: err });
  }
}
