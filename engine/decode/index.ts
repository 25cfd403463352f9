/**
 * Response decoders: turn an HTTP response body stream into one parsed document (json, xml) or a stream
 * of record batches (ndjson, csv, tsv, xml with record_tag).
 *
 * Layers, each streaming:  raw bytes ─cap─▶ gunzip | unzip entry | as-is ─cap─▶ text ─▶ format parser.
 * Caps are checked as bytes pass, so a decompression bomb stops at the cap instead of after inflating.
 */
import { capBytes, compileEntryPattern, gunzip, peekBytes, resolveCompression, unzipEntry, type Compression } from './bytes.ts';
import { BATCH_SIZE, type Rec } from './common.ts';
import { checkCsvSpec, csvBatches, type CsvSpec } from './csv.ts';
import { DecodeError } from './errors.ts';
import { decodeJsonDocument, ndjsonBatches } from './json.ts';
import { chooseEncoding, decodeText, requireEncoding } from './text.ts';
import { checkRecordTag, decodeXmlDocument, xmlRecordBatches, type XmlSpec } from './xml.ts';

export { BodyTooLargeError, DecodeError, type DecodePosition } from './errors.ts';
export { BATCH_SIZE, MAX_RECORD_CHARS } from './common.ts';
export type { Compression } from './bytes.ts';

export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 1024 * 1024 * 1024;

export type DecoderFormat = 'json' | 'ndjson' | 'xml' | 'csv' | 'tsv';
export const DECODER_FORMATS: readonly DecoderFormat[] = ['json', 'ndjson', 'xml', 'csv', 'tsv'];

export interface DecoderSpec {
  format: DecoderFormat;
  /** Default auto: magic bytes decide, with Content-Encoding / Content-Type / URL suffix as hints. */
  compression?: 'auto' | 'none' | 'gzip' | 'zip';
  /** Regex on entry names of a zip archive; default the first file entry. */
  zip_entry?: string;
  /** Text encoding; default: BOM, else Content-Type charset, else XML declaration, else utf-8. */
  encoding?: string;
  xml?: XmlSpec;
  csv?: CsvSpec;
  /** Cap on raw (compressed) bytes read; default 256 MiB. */
  max_bytes?: number;
  /** Cap on bytes after decompression; default 1 GiB. */
  max_decompressed_bytes?: number;
}

export interface BodyMeta {
  contentType?: string;
  contentEncoding?: string;
  url?: string;
}

/** What the decoder found out about the body, for call logs and troubleshooting. */
export interface DecodedInfo {
  compression: Compression;
  encoding: string;
  /** Name of the zip entry that was read. */
  zipEntry?: string;
}

export type Decoded =
  | { kind: 'document'; value: unknown; info?: DecodedInfo }
  | { kind: 'records'; batches: AsyncIterable<Record<string, unknown>[]>; info?: DecodedInfo };

/**
 * Decodes a response body. Document formats are fully read before the promise resolves; record formats
 * resolve once the first bytes are inspected and stream lazily: errors (malformed data, truncation,
 * caps) are then thrown by the batch iterator, possibly after earlier batches were delivered, so a
 * consumer must treat a throwing iterator as a failed run. `batches` can be iterated once; breaking out
 * of the iteration releases the body (and any temp file).
 */
export async function decodeBody(
  body: AsyncIterable<Uint8Array>,
  spec: DecoderSpec,
  meta: BodyMeta = {},
): Promise<Decoded> {
  let configuredEncoding: string | undefined;
  try {
    checkSpec(spec);
    configuredEncoding = spec.encoding ? requireEncoding(spec.encoding) : undefined;
  } catch (err) {
    await closeQuietly(body);
    throw err;
  }
  const maxRaw = spec.max_bytes ?? DEFAULT_MAX_BYTES;
  const maxPlain = spec.max_decompressed_bytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;

  const raw = await peekBytes(capBytes(body, maxRaw, 'raw'), 4);
  const mode = spec.compression ?? 'auto';
  let compression: Compression;
  try {
    compression = mode === 'auto' ? resolveCompression(raw.head, meta) : mode;
  } catch (err) {
    await raw.close();
    throw err;
  }
  const info: DecodedInfo = { compression, encoding: 'utf-8' };

  let plain: AsyncIterable<Uint8Array>;
  if (compression === 'gzip') plain = gunzip(raw.stream);
  else if (compression === 'zip') {
    plain = unzipEntry(raw.stream, {
      entry: spec.zip_entry,
      maxDecompressedBytes: maxPlain,
      onEntry: (name) => {
        info.zipEntry = name;
      },
    });
  } else plain = raw.stream;

  // Eager on purpose: the first decoded bytes settle the encoding, and for zip this spools the archive,
  // so a broken archive or a missing entry fails decodeBody itself rather than the first batch.
  const text = await peekBytes(capBytes(plain, maxPlain, 'decompressed'), 512);
  info.encoding = chooseEncoding(text.head, {
    configured: configuredEncoding,
    // A zip's Content-Type describes the archive, not the entry's text. JSON is UTF-8 by definition
    // (RFC 8259), and a stray charset on a JSON response is more often wrong than right, as fetch() assumes.
    contentType: compression === 'zip' || spec.format === 'json' || spec.format === 'ndjson' ? undefined : meta.contentType,
    xml: spec.format === 'xml',
  });
  const chars = decodeText(text.stream, info.encoding);

  switch (spec.format) {
    case 'json':
      return { kind: 'document', value: await decodeJsonDocument(chars), info };
    case 'ndjson':
      return { kind: 'records', batches: singleUse(ndjsonBatches(chars, BATCH_SIZE)), info };
    case 'csv':
    case 'tsv':
      return { kind: 'records', batches: singleUse(csvBatches(chars, spec.format, spec.csv, BATCH_SIZE)), info };
    case 'xml': {
      const tag = spec.xml?.record_tag;
      if (tag) return { kind: 'records', batches: singleUse(xmlRecordBatches(chars, { ...spec.xml, record_tag: tag }, BATCH_SIZE)), info };
      return { kind: 'document', value: await decodeXmlDocument(chars, spec.xml), info };
    }
  }
}

function checkSpec(spec: DecoderSpec): void {
  const format = String(spec?.format);
  if (!DECODER_FORMATS.includes(format as DecoderFormat)) {
    throw new DecodeError(format, `unsupported format; expected one of ${DECODER_FORMATS.join(', ')}`);
  }
  const compression = spec.compression ?? 'auto';
  if (!['auto', 'none', 'gzip', 'zip'].includes(compression)) {
    throw new DecodeError(format, `unsupported compression ${JSON.stringify(compression)}`);
  }
  for (const key of ['max_bytes', 'max_decompressed_bytes'] as const) {
    const v = spec[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new DecodeError(format, `${key} must be a non-negative number`);
  }
  compileEntryPattern(spec.zip_entry);
  if (spec.format === 'csv' || spec.format === 'tsv') checkCsvSpec(spec.format, spec.csv);
  if (spec.format === 'xml' && spec.xml?.record_tag !== undefined) checkRecordTag(spec.xml.record_tag);
}

async function closeQuietly(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    await body[Symbol.asyncIterator]().return?.();
  } catch {
    // The body was unusable anyway; the original error is the one worth reporting.
  }
}

function singleUse(gen: AsyncGenerator<Rec[]>): AsyncIterable<Rec[]> {
  let taken = false;
  return {
    [Symbol.asyncIterator](): AsyncIterator<Rec[]> {
      if (taken) throw new Error('decoded record batches can only be iterated once');
      taken = true;
      return gen;
    },
  };
}
