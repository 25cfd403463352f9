// The body of a page that could not be decoded, kept with a failed run's error so an admin can see what the
// network really sent. Capped (64 KiB), gunzipped when it was gzip (a secret inside compressed bytes could not
// be found otherwise), and passed through the run's redactor before it goes anywhere.
import { constants, gunzipSync } from 'node:zlib';
import type { Redactor } from '../log/redact.ts';
import { stripSecretsFromUrl } from '../http/runtime.ts';
import { partitionLabel, type PageInfo } from '../extract/stream-reader.ts';

export const MAX_PAYLOAD_BYTES = 65_536;
/** A failed run keeps the payloads of its last few broken pages, not of every refetch. */
export const MAX_PAYLOADS_PER_RUN = 5;

/** What the stream reader reports when a body broke: raw first bytes, as received. */
export interface BodyFailure {
  info: PageInfo;
  error: Error;
  head: Buffer;
  /** Bytes received for the whole body (more than head when it was longer). */
  bytes: number;
  /** Nth time this page's body was read (1 = first fetch, 2 = first refetch …). */
  attempt: number;
  status?: number;
  contentType?: string;
}

export interface ErrorPayload {
  stream: string;
  partition?: string;
  page?: number;
  url: string;
  attempt: number;
  status?: number;
  content_type?: string;
  error: string;
  bytes: number;
  kept_bytes: number;
  truncated: boolean;
  encoding: 'text' | 'base64';
  decompressed: boolean;
  payload: string;
}

/** Keeps the most recent failures, bounded in number. */
export class BodyFailureLog {
  private readonly items: BodyFailure[] = [];
  add(f: BodyFailure): void {
    this.items.push({ ...f, head: f.head.subarray(0, MAX_PAYLOAD_BYTES) });
    if (this.items.length > MAX_PAYLOADS_PER_RUN) this.items.shift();
  }
  get size(): number { return this.items.length; }
  async payloads(redactor: Redactor): Promise<ErrorPayload[]> {
    return Promise.all(this.items.map((f) => toErrorPayload(f, redactor)));
  }
}

export async function toErrorPayload(f: BodyFailure, redactor: Redactor): Promise<ErrorPayload> {
  const raw = f.head.subarray(0, MAX_PAYLOAD_BYTES);
  let body = raw;
  let decompressed = false;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    const inflated = gunzipPrefix(raw, MAX_PAYLOAD_BYTES);
    if (inflated.length) { body = inflated; decompressed = true; }
  }
  const text = utf8OrUndefined(body);
  // The cap may cut a secret in two: its first characters at the very end are masked too.
  const payload = text !== undefined
    ? redactor.redactCut(text)
    // Binary: secrets are matched byte for byte (latin1 maps each byte to one char) before encoding.
    : Buffer.from(redactor.redactCut(body.toString('latin1')), 'latin1').toString('base64');
  return {
    stream: f.info.stream,
    partition: partitionLabel(f.info.partition),
    page: f.info.page,
    url: redactor.redact(stripSecretsFromUrl(f.info.url)),
    attempt: f.attempt,
    status: f.status,
    content_type: f.contentType,
    error: redactor.redact(f.error.message),
    bytes: f.bytes,
    kept_bytes: body.length,
    truncated: f.bytes > raw.length || (decompressed && body.length >= MAX_PAYLOAD_BYTES),
    encoding: text !== undefined ? 'text' : 'base64',
    decompressed,
    payload,
  };
}

/** UTF-8 text, tolerating a character cut in two at the cap; undefined for binary. */
function utf8OrUndefined(b: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: true });
  } catch {
    return undefined;
  }
}

/**
 * As much of a gzip stream as inflates before it ends or breaks, at most `max` bytes: the longest prefix of
 * the raw bytes that inflates cleanly (a cut-off stream inflates with a sync flush; a corrupt byte does not).
 */
function gunzipPrefix(raw: Buffer, max: number): Buffer {
  const inflate = (n: number): Buffer | undefined => {
    try { return gunzipSync(raw.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: max }); } catch { return undefined; }
  };
  const whole = inflate(raw.length);
  if (whole) return whole;
  let lo = 0;
  let best: Buffer = Buffer.alloc(0);
  let hi = raw.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const out = inflate(mid);
    if (out) { best = out; lo = mid + 1; } else hi = mid - 1;
  }
  return best;
}
