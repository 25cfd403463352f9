/** Helpers for the decoder tests: real byte streams fed in awkward chunk sizes, and a minimal zip writer. */
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import type { Decoded } from './index.ts';

/** Deterministic PRNG (mulberry32) so chunk boundaries are random but reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Streams `data` in chunks of random size between min and max bytes, yielding to the event loop between them. */
export async function* chunked(data: Uint8Array | string, opts: { min?: number; max?: number; seed?: number } = {}): AsyncGenerator<Uint8Array> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const rnd = prng(opts.seed ?? 1);
  const min = opts.min ?? 1;
  const max = opts.max ?? 7;
  let i = 0;
  while (i < bytes.length) {
    const n = min + Math.floor(rnd() * (max - min + 1));
    yield bytes.subarray(i, i + n);
    i += n;
    await Promise.resolve();
  }
}

export async function* whole(data: Uint8Array | string): AsyncGenerator<Uint8Array> {
  yield typeof data === 'string' ? Buffer.from(data) : data;
}

export function gz(data: string | Uint8Array): Buffer {
  return gzipSync(typeof data === 'string' ? Buffer.from(data) : data);
}

/** Writes a zip archive (no zip64), stored or deflated entries; directories are names ending in '/'. */
export function makeZip(entries: { name: string; data?: string | Uint8Array; store?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = e.data === undefined ? Buffer.alloc(0) : typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data);
    const store = e.store || e.name.endsWith('/');
    const body = store ? raw : deflateRawSync(raw);
    const name = Buffer.from(e.name);
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(store ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(store ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(e.name.endsWith('/') ? 0x10 : 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

export async function records(decoded: Decoded): Promise<Record<string, unknown>[]> {
  assert.equal(decoded.kind, 'records');
  if (decoded.kind !== 'records') return [];
  const out: Record<string, unknown>[] = [];
  for await (const batch of decoded.batches) {
    assert.ok(batch.length > 0 && batch.length <= 1000, `batch size ${batch.length}`);
    out.push(...batch);
  }
  return out;
}

export function documentValue(decoded: Decoded): unknown {
  assert.equal(decoded.kind, 'document');
  return decoded.kind === 'document' ? decoded.value : undefined;
}

/** Expects `fn` to reject with an instance of `type` and returns it for further checks. */
export async function rejects<T extends Error>(fn: () => Promise<unknown>, type: new (...a: never[]) => T): Promise<T> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return err as T;
  }
  assert.fail(`expected ${type.name} to be thrown`);
}
