/** Bytes → text: choosing the encoding and decoding chunk by chunk (multi-byte sequences may straddle chunks). */
import { DecodeError } from './errors.ts';

/** Returns the WHATWG name of a supported encoding label, or undefined. */
export function normalizeEncoding(label: string): string | undefined {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    return undefined;
  }
}

export function requireEncoding(label: string): string {
  const enc = normalizeEncoding(label);
  if (!enc) throw new DecodeError('text', `unsupported text encoding ${JSON.stringify(label)}`);
  return enc;
}

export function bomEncoding(head: Uint8Array): string | undefined {
  if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return undefined;
}

export function charsetFromContentType(contentType: string | undefined): string | undefined {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType) : null;
  return m ? normalizeEncoding(m[1]) : undefined;
}

/** The encoding named in `<?xml version="1.0" encoding="..."?>`, read as ASCII from the first bytes. */
export function xmlDeclaredEncoding(head: Uint8Array): string | undefined {
  const start = bomEncoding(head) === 'utf-8' ? 3 : 0;
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 512)).toString('latin1', start);
  const m = /^\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(text);
  const enc = m ? normalizeEncoding(m[1]) : undefined;
  // Text readable as ASCII cannot be UTF-16 whatever the declaration says (a real UTF-16 file has a BOM).
  return enc?.startsWith('utf-16') ? undefined : enc;
}

/**
 * Picks the encoding: a byte-order mark wins (it cannot be wrong about itself), then the spec's explicit
 * setting, then the Content-Type charset, then the XML declaration, else UTF-8.
 */
export function chooseEncoding(
  head: Uint8Array,
  opts: { /** Already checked with requireEncoding. */ configured?: string; contentType?: string; xml?: boolean },
): string {
  return (
    bomEncoding(head) ??
    opts.configured ??
    charsetFromContentType(opts.contentType) ??
    (opts.xml ? xmlDeclaredEncoding(head) : undefined) ??
    'utf-8'
  );
}

/**
 * Decodes a byte stream into text chunks. Invalid byte sequences become U+FFFD rather than failing the
 * whole feed: affiliate feeds routinely contain a few mis-encoded bytes in descriptions. The BOM is dropped.
 */
export async function* decodeText(src: AsyncIterable<Uint8Array>, encoding: string): AsyncGenerator<string> {
  const decoder = new TextDecoder(encoding, { ignoreBOM: false });
  for await (const chunk of src) {
    const s = decoder.decode(chunk, { stream: true });
    if (s.length > 0) yield s;
  }
  const tail = decoder.decode();
  if (tail.length > 0) yield tail;
}
