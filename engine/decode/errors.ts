/**
 * Errors raised while decoding a response body. Messages describe where the body went wrong but never
 * quote body content: bodies can carry tokens or personal data, and these messages end up in run logs.
 */

export interface DecodePosition {
  /** 1-based line in the decoded text. */
  line?: number;
  /** 1-based column (UTF-16 code units) in that line. */
  column?: number;
  /** 0-based byte offset in the raw body (compression layer) or decoded text (document formats). */
  byte?: number;
  /** 1-based index of the record being decoded (row formats and XML record streaming). */
  record?: number;
}

export class DecodeError extends Error {
  override name = 'DecodeError';
  /** Layer that failed: json, ndjson, csv, tsv, xml, or the compression layer (gzip, zip), or text. */
  format: string;
  position?: DecodePosition;

  constructor(format: string, message: string, position?: DecodePosition, options?: { cause?: unknown }) {
    super(`${format}: ${message}${formatPosition(position)}`, options);
    this.format = format;
    if (position && Object.keys(position).length > 0) this.position = position;
  }
}

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  limit: number;
  stage: 'raw' | 'decompressed';

  constructor(limit: number, stage: 'raw' | 'decompressed') {
    super(`response body exceeds the ${stage === 'raw' ? 'raw' : 'decompressed'} size limit of ${limit} bytes`);
    this.limit = limit;
    this.stage = stage;
  }
}

function formatPosition(p?: DecodePosition): string {
  if (!p) return '';
  const parts: string[] = [];
  if (p.record !== undefined) parts.push(`record ${p.record}`);
  if (p.line !== undefined) parts.push(`line ${p.line}`);
  if (p.column !== undefined) parts.push(`column ${p.column}`);
  if (p.byte !== undefined) parts.push(`byte ${p.byte}`);
  return parts.length ? ` (at ${parts.join(', ')})` : '';
}
