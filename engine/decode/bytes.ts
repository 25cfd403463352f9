/**
 * Byte layer of the decoders: size caps, peeking at the first bytes, compression detection, gunzip and
 * zip extraction. Everything streams; only zip touches the disk, because its central directory sits at
 * the end of the archive and yauzl needs random access to read it.
 */
import { Readable, pipeline } from 'node:stream';
import { crc32, createGunzip } from 'node:zlib';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { BodyTooLargeError, DecodeError } from './errors.ts';

export type Compression = 'none' | 'gzip' | 'zip';

export interface CompressionHints {
  contentType?: string;
  contentEncoding?: string;
  url?: string;
}

/** Throws BodyTooLargeError as soon as more than `limit` bytes have passed, before handing them on. */
export async function* capBytes(
  src: AsyncIterable<Uint8Array | string>,
  limit: number,
  stage: 'raw' | 'decompressed',
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const item of src) {
    // Tolerate string chunks from hand-made bodies; HTTP clients yield bytes.
    const chunk: Uint8Array = typeof item === 'string' ? Buffer.from(item) : item;
    total += chunk.byteLength;
    if (total > limit) throw new BodyTooLargeError(limit, stage);
    yield chunk;
  }
}

/**
 * Reads until at least `n` bytes (or the end) are available and returns them together with a stream
 * that replays them followed by the rest of the source. Abandoning the returned stream closes the source.
 */
export async function peekBytes(
  src: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array>; close: () => Promise<void> }> {
  const it = src[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let len = 0;
  let ended = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    if (r.value.byteLength === 0) continue;
    parts.push(r.value);
    len += r.value.byteLength;
  }
  const head = parts.length === 1 ? parts[0] : concat(parts, len);
  async function* replay(): AsyncGenerator<Uint8Array> {
    let finished = ended;
    try {
      if (head.byteLength > 0) yield head;
      while (!finished) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          return;
        }
        yield r.value;
      }
    } catch (err) {
      finished = true;
      throw err;
    } finally {
      // Reached only when the consumer stops early: let the source release its socket or file.
      if (!finished) await it.return?.();
    }
  }
  // For callers that give up before iterating `stream`: a generator never started cannot run its finally.
  const close = async (): Promise<void> => {
    if (!ended) {
      ended = true;
      await it.return?.();
    }
  };
  return { head, stream: replay(), close };
}

function concat(parts: Uint8Array[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  // Local file header, or the end-of-central-directory record of an empty archive.
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b) {
    if ((head[2] === 0x03 && head[3] === 0x04) || (head[2] === 0x05 && head[3] === 0x06)) return 'zip';
  }
  return 'none';
}

/** What the headers and URL claim; only a claim, see resolveCompression. */
export function claimedCompression(hints: CompressionHints | undefined): Compression | undefined {
  if (!hints) return undefined;
  const enc = hints.contentEncoding?.toLowerCase() ?? '';
  if (/\b(x-)?gzip\b/.test(enc)) return 'gzip';
  const type = (hints.contentType ?? '').toLowerCase().split(';')[0].trim();
  if (type === 'application/gzip' || type === 'application/x-gzip' || type === 'application/gzip-compressed') return 'gzip';
  if (type === 'application/zip' || type === 'application/x-zip-compressed' || type === 'application/x-zip') return 'zip';
  if (hints.url) {
    let path = hints.url;
    try {
      path = new URL(hints.url).pathname;
    } catch {
      path = hints.url.split(/[?#]/)[0];
    }
    path = path.toLowerCase();
    if (path.endsWith('.gz') || path.endsWith('.gzip')) return 'gzip';
    if (path.endsWith('.zip')) return 'zip';
  }
  return undefined;
}

/**
 * In auto mode the bytes decide. A gzip claim over plain bytes is normal: fetch-style clients inflate
 * Content-Encoding transparently but keep the header. A zip claim over non-zip bytes is never right
 * (typically an error page served from a download URL), so it fails loudly instead of being parsed as text.
 */
export function resolveCompression(head: Uint8Array, hints: CompressionHints | undefined): Compression {
  const sniffed = sniffCompression(head);
  if (sniffed !== 'none') return sniffed;
  if (head.length > 0 && claimedCompression(hints) === 'zip') {
    throw new DecodeError('zip', 'response is labelled as a zip archive but does not start with a zip signature', { byte: 0 });
  }
  return 'none';
}

/** Streams the inflated bytes of a (possibly multi-member) gzip body; truncation is a DecodeError. */
export async function* gunzip(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let fed = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const c of src) {
      fed += c.byteLength;
      yield c;
    }
  }
  const gz = createGunzip({ chunkSize: 64 * 1024 });
  // pipeline tears down both sides when either fails or the consumer stops reading.
  pipeline(Readable.from(counted()), gz, () => {});
  try {
    for await (const out of gz as AsyncIterable<Buffer>) yield out;
  } catch (err) {
    if (isZlibError(err)) {
      const msg = err.code === 'Z_BUF_ERROR' ? 'unexpected end of file (truncated gzip stream)' : `invalid gzip data (${err.message})`;
      throw new DecodeError('gzip', msg, { byte: fed }, { cause: err });
    }
    throw err;
  } finally {
    gz.destroy();
  }
}

function isZlibError(err: unknown): err is Error & { code: string } {
  const code: unknown = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
}

export interface ZipOptions {
  /** Regex source matched against entry names; default: first entry that is a file. */
  entry?: string;
  /** Entries declaring a larger uncompressed size are refused before any inflating. */
  maxDecompressedBytes: number;
  /** Told the name of the chosen entry. */
  onEntry?: (name: string) => void;
}

/**
 * Spools the archive to a private temp file (yauzl needs random access), then streams one entry.
 * The file is unlinked as soon as yauzl holds it open, so nothing is left behind even if the consumer
 * never finishes reading.
 */
export async function* unzipEntry(src: AsyncIterable<Uint8Array>, opts: ZipOptions): AsyncGenerator<Uint8Array> {
  const pattern = compileEntryPattern(opts.entry);
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-zip-'));
  let zip: yauzl.ZipFile | undefined;
  let entryStream: Readable | undefined;
  try {
    const file = join(dir, 'body.zip');
    const fh = await open(file, 'wx', 0o600);
    try {
      for await (const chunk of src) await fh.write(chunk);
    } finally {
      await fh.close();
    }
    try {
      zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false });
    } catch (err) {
      throw new DecodeError('zip', `not a readable zip archive (${(err as Error).message})`, undefined, { cause: err });
    }
    await rm(dir, { recursive: true, force: true });
    const entry = await chooseEntry(zip, pattern);
    opts.onEntry?.(entry.fileName);
    if (entry.isEncrypted()) throw new DecodeError('zip', `entry "${entry.fileName}" is encrypted`);
    if (!entry.canDecodeFileData()) {
      throw new DecodeError('zip', `entry "${entry.fileName}" uses unsupported compression method ${entry.compressionMethod}`);
    }
    if (entry.uncompressedSize > opts.maxDecompressedBytes) throw new BodyTooLargeError(opts.maxDecompressedBytes, 'decompressed');
    try {
      entryStream = await zip.openReadStreamPromise(entry);
    } catch (err) {
      throw new DecodeError('zip', `cannot read entry "${entry.fileName}" (${(err as Error).message})`, undefined, { cause: err });
    }
    // yauzl checks sizes but not checksums; a corrupt entry must not pass as a complete feed.
    let crc = 0;
    try {
      for await (const chunk of entryStream as AsyncIterable<Buffer>) {
        crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof DecodeError || err instanceof BodyTooLargeError) throw err;
      const msg = isZlibError(err) && err.code === 'Z_BUF_ERROR' ? 'unexpected end of entry data' : (err as Error).message;
      throw new DecodeError('zip', `entry "${entry.fileName}" is corrupt (${msg})`, undefined, { cause: err });
    }
    if (crc >>> 0 !== entry.crc32 >>> 0) throw new DecodeError('zip', `entry "${entry.fileName}" is corrupt (CRC-32 mismatch)`);
  } finally {
    entryStream?.destroy();
    zip?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function compileEntryPattern(source: string | undefined): RegExp | undefined {
  if (source === undefined || source === '') return undefined;
  try {
    return new RegExp(source);
  } catch (err) {
    throw new DecodeError('zip', `zip_entry is not a valid regular expression: ${(err as Error).message}`);
  }
}

async function chooseEntry(zip: yauzl.ZipFile, pattern: RegExp | undefined): Promise<yauzl.Entry> {
  const seen: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      // Directories and macOS resource forks are never the payload.
      if (name.endsWith('/') || name.startsWith('__MACOSX/')) continue;
      if (pattern ? pattern.test(name) : true) return entry;
      if (seen.length < 20) seen.push(name);
    }
  } catch (err) {
    throw new DecodeError('zip', `cannot list archive entries (${(err as Error).message})`, undefined, { cause: err });
  }
  const listed = seen.length ? `; entries: ${seen.map((s) => JSON.stringify(s)).join(', ')}` : '; the archive has no file entries';
  throw new DecodeError('zip', pattern ? `no entry matches /${pattern.source}/${listed}` : `archive contains no file entry${listed}`);
}
