// Finds the records in a sample response: the format (JSON, NDJSON, XML, CSV/TSV; gzip/zip handled by the
// engine's decoders), then the largest array of objects reachable through objects from the document root,
// expressed as the JSONata `records` expression a spec uses; plus a profile of the records' fields (paths,
// types, examples, uniqueness) that the mapping proposal works from.
import { gunzipSync } from 'node:zlib';
import type { Decoder } from '../types/connector.generated.ts';
import { decodeBody, type DecoderSpec } from '../decode/index.ts';
import { selectRecords } from '../extract/stream-reader.ts';

export type SampleFormat = 'json' | 'ndjson' | 'xml' | 'csv' | 'tsv';

export interface SampleInput {
  body: Buffer | string;
  contentType?: string;
  /** Forces a format instead of sniffing it. */
  format?: SampleFormat;
  /** Forces the records expression instead of detecting it. */
  records?: string;
  /** Decoder settings given by the user (csv delimiter, xml arrays …); detected ones fill the gaps. */
  decoder?: Decoder;
}

export interface FieldProfile {
  /** JSONata path from the record (backtick-quoted where needed), e.g. `price.amount`, `images[0].url`. */
  path: string;
  /** Last key, lower-cased, for name matching. */
  name: string;
  /** Keys along the way, lower-cased (a parent named "merchant" makes `merchant.name` the merchant's name). */
  keys: string[];
  types: Array<'string' | 'number' | 'boolean' | 'object' | 'array' | 'null'>;
  /** Share of records that have a non-empty value. */
  presence: number;
  /** Every non-empty value distinct across the sample. */
  unique: boolean;
  examples: unknown[];
  /** The values, for value-based detection (first 200 records). */
  values: unknown[];
  /** The field is an array of scalars (e.g. a list of categories). */
  array: boolean;
}

export interface Detection {
  format: SampleFormat;
  /** The decoder block for the spec. */
  decoder: Decoder;
  /** JSONata from the document to the record list; undefined when the document itself is the list (or a row format). */
  records?: string;
  /** How many records the sample holds. */
  count: number;
  /** Up to 200 records. */
  sample: Record<string, unknown>[];
  fields: FieldProfile[];
  /** Other arrays of objects found, largest first, for the UI's "not this list" choice. */
  alternatives: Array<{ records: string; count: number }>;
  /** The decoded document (json, xml), for pagination expressions and the empty-page sandbox route. */
  document?: unknown;
}

export class DetectionError extends Error {
  readonly status = 422;
  constructor(message: string) { super(message); this.name = 'DetectionError'; }
}

const MAX_SAMPLE_RECORDS = 200;

export function sniffFormat(body: Buffer, contentType = ''): SampleFormat {
  const ct = contentType.toLowerCase();
  if (/ndjson|jsonl|json-seq/.test(ct)) return 'ndjson';
  if (/json/.test(ct)) return 'json';
  if (/xml/.test(ct)) return 'xml';
  if (/tab-separated/.test(ct)) return 'tsv';
  if (/csv/.test(ct)) return 'csv';
  let plain = body;
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try { plain = gunzipSync(body, { maxOutputLength: 1024 * 1024 }); } catch (e) { plain = Buffer.from((e as { buffer?: Buffer }).buffer ?? []); }
  }
  const text = plain.subarray(0, 65_536).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('<')) return 'xml';
  if (text.startsWith('{') || text.startsWith('[')) {
    const lines = text.split('\n').filter((l) => l.trim());
    if (lines.length > 1 && text.startsWith('{') && lines.slice(0, 5).every((l) => { try { JSON.parse(l); return true; } catch { return false; } })) return 'ndjson';
    return 'json';
  }
  const first = text.split('\n')[0] ?? '';
  return (first.match(/\t/g)?.length ?? 0) > (first.match(/,/g)?.length ?? 0) ? 'tsv' : 'csv';
}

function sniffDelimiter(body: Buffer): string {
  const first = body.subarray(0, 8192).toString('utf8').replace(/^\uFEFF/, '').split('\n')[0] ?? '';
  const counts = [',', ';', '|', '\t'].map((d) => [d, first.split(d).length - 1] as const).sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

async function* once(b: Buffer): AsyncIterable<Uint8Array> { yield b; }

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const jsonataKey = (k: string): string => (IDENT.test(k) ? k : `\`${k.replace(/`/g, '')}\``);
const pathText = (segs: string[]) => segs.map(jsonataKey).join('.');

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Arrays of objects reachable from the root through objects only (not through other arrays' elements). */
function arraysOfObjects(doc: unknown): Array<{ path: string[]; count: number }> {
  const out: Array<{ path: string[]; count: number }> = [];
  const walk = (v: unknown, path: string[], depth: number) => {
    if (depth > 12) return;
    if (Array.isArray(v)) {
      const objects = v.filter(isObj).length;
      if (objects > 0 && objects >= v.length / 2) out.push({ path, count: objects });
      return;
    }
    if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k], depth + 1);
  };
  walk(doc, [], 0);
  // Largest first; on a tie the shallower list (the envelope's, not a nested one).
  return out.sort((a, b) => b.count - a.count || a.path.length - b.path.length);
}

export async function detectRecords(input: SampleInput): Promise<Detection> {
  const body = typeof input.body === 'string' ? Buffer.from(input.body) : input.body;
  if (!body.length) throw new DetectionError('the sample is empty');
  const format = input.format ?? (input.decoder?.format as SampleFormat | undefined) ?? sniffFormat(body, input.contentType);
  const decoder: Decoder = { ...(input.decoder ?? {}), format };
  if ((format === 'csv') && !decoder.csv?.delimiter) {
    const d = sniffDelimiter(body);
    if (d !== ',') decoder.csv = { ...(decoder.csv ?? {}), delimiter: d };
  }
  const spec: DecoderSpec = { ...(decoder as DecoderSpec), max_bytes: 50 * 1024 * 1024, max_decompressed_bytes: 200 * 1024 * 1024 };
  let decoded;
  try {
    decoded = await decodeBody(once(body), spec, { contentType: input.contentType });
  } catch (e) {
    throw new DetectionError(`the sample is not valid ${format.toUpperCase()}: ${(e as Error).message}`);
  }
  let records: Record<string, unknown>[] = [];
  let count = 0;
  let recordsExpr = input.records;
  let alternatives: Detection['alternatives'] = [];
  let document: unknown;
  if (decoded.kind === 'records') {
    try {
      for await (const batch of decoded.batches) {
        count += batch.length;
        if (records.length < MAX_SAMPLE_RECORDS) records.push(...batch.slice(0, MAX_SAMPLE_RECORDS - records.length));
      }
    } catch (e) {
      throw new DetectionError(`the sample is not valid ${format.toUpperCase()}: ${(e as Error).message}`);
    }
    recordsExpr = undefined;
  } else {
    document = decoded.value;
    const found = arraysOfObjects(document);
    alternatives = found.slice(0, 6).map((f) => ({ records: pathText(f.path), count: f.count }));
    if (recordsExpr === undefined) {
      if (!found.length) {
        if (isObj(document)) throw new DetectionError('no list of records found in the sample: it holds a single object. Fetch a page with several records, or set the records expression by hand');
        throw new DetectionError('no list of records found in the sample');
      }
      const best = found[0];
      recordsExpr = best.path.length ? pathText(best.path) : undefined;
      // A page holding a single record would parse as an object, not a list: name the repeated tag.
      if (format === 'xml' && best.path.length) decoder.xml = { ...(decoder.xml ?? {}), arrays: [...new Set([...(decoder.xml?.arrays ?? []), best.path.join('.')])] };
      alternatives = alternatives.filter((a) => a.records !== recordsExpr);
    }
    let all: Record<string, unknown>[];
    try { all = await selectRecords(recordsExpr, document, {}); } catch (e) { throw new DetectionError(`records expression: ${(e as Error).message}`); }
    count = all.length;
    records = all.slice(0, MAX_SAMPLE_RECORDS);
  }
  if (!count) throw new DetectionError('the sample holds no records');
  return { format, decoder, records: recordsExpr, count, sample: records, fields: profileFields(records), alternatives, document };
}

/** Field paths of the records (nested objects up to 3 levels, first element of arrays of objects) with what they hold. */
export function profileFields(records: Record<string, unknown>[]): FieldProfile[] {
  const acc = new Map<string, { keys: string[]; array: boolean; values: unknown[]; types: Set<FieldProfile['types'][number]> }>();
  const add = (path: string, keys: string[], v: unknown, array = false) => {
    let f = acc.get(path);
    if (!f) { f = { keys, array, values: [], types: new Set() }; acc.set(path, f); }
    f.types.add(v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as 'string'));
    f.values.push(v);
  };
  const walk = (v: unknown, segs: string[], keys: string[], depth: number) => {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = [...segs, jsonataKey(k)];
      const ks = [...keys, k.toLowerCase()];
      if (isObj(x) && depth < 3) { walk(x, p, ks, depth + 1); continue; }
      if (Array.isArray(x) && x.length && x.every(isObj) && depth < 3) {
        // Lists of objects: the first element's fields (images[0].src) and the whole list's (categories.name).
        walk(x[0], [...segs, `${jsonataKey(k)}[0]`], ks, depth + 1);
        for (const [sk, sx] of Object.entries(x[0])) if (!isObj(sx) && !Array.isArray(sx)) add(`${p.join('.')}.${jsonataKey(sk)}`, [...ks, sk.toLowerCase()], x.map((e) => (e as Record<string, unknown>)[sk]), true);
        continue;
      }
      add(p.join('.'), ks, x, Array.isArray(x) && x.every((e) => !isObj(e)));
    }
  };
  for (const r of records) walk(r, [], [], 0);
  const n = records.length || 1;
  return [...acc.entries()].map(([path, f]) => {
    const filled = f.values.filter((v) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0));
    const distinct = new Set(filled.map((v) => JSON.stringify(v)));
    return {
      path, name: f.keys[f.keys.length - 1], keys: f.keys, types: [...f.types], presence: filled.length / n,
      unique: filled.length > 1 && distinct.size === filled.length, examples: [...distinct].slice(0, 3).map((s) => JSON.parse(s)),
      values: filled, array: f.array,
    };
  });
}

/** Every record of a sample (up to `limit`) with a known decoder and records expression: what a run would see. */
export async function readAllRecords(body: Buffer, decoder: Decoder, records: string | undefined, contentType?: string, limit = 100_000): Promise<Record<string, unknown>[]> {
  const spec: DecoderSpec = { ...(decoder as DecoderSpec), max_bytes: 50 * 1024 * 1024, max_decompressed_bytes: 200 * 1024 * 1024 };
  let decoded;
  try { decoded = await decodeBody(once(body), spec, { contentType }); } catch (e) { throw new DetectionError(`the sample is not valid ${String(decoder.format ?? 'json').toUpperCase()}: ${(e as Error).message}`); }
  if (decoded.kind === 'document') {
    try { return (await selectRecords(records, decoded.value, {})).slice(0, limit); } catch (e) { throw new DetectionError(`records expression: ${(e as Error).message}`); }
  }
  const out: Record<string, unknown>[] = [];
  try {
    for await (const batch of decoded.batches) {
      out.push(...batch.slice(0, limit - out.length));
      if (out.length >= limit) break;
    }
  } catch (e) { throw new DetectionError(`the sample is not valid ${String(decoder.format).toUpperCase()}: ${(e as Error).message}`); }
  return out;
}
