import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, type DecoderSpec } from './index.ts';
import { records } from './testkit.ts';

// Its own file (so its own process): the 30 MB strings would distort the memory checks of other tests.
const MiB = 1024 * 1024;

async function* slices(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

test('a single huge record stays linear: 30 MB ndjson line, CSV field, XML CDATA in 64 KiB chunks', async () => {
  const big = 'z'.repeat(30 * MiB);
  const cases: [DecoderSpec, string, (r: Record<string, unknown>) => unknown][] = [
    [{ format: 'ndjson' }, `{"id":"1"}\n{"id":"2","blob":"${big}"}\n`, (r) => (r.blob as string | undefined)?.length],
    [{ format: 'csv' }, `id,blob\n1,x\n2,"${big}"\n`, (r) => (r.blob as string).length],
    [{ format: 'xml', xml: { record_tag: 'item' } }, `<feed><item><id>1</id></item><item><blob><![CDATA[${big}]]></blob><more>${big.slice(0, 2 * MiB)}</more></item></feed>`, (r) => (r.blob as string | undefined)?.length],
  ];
  for (const [spec, text, size] of cases) {
    const t0 = performance.now();
    const out = await records(await decodeBody(slices(Buffer.from(text), 64 * 1024), spec));
    const ms = performance.now() - t0;
    assert.equal(out.length, 2);
    assert.equal(size(out[1]), big.length);
    assert.ok(ms < 5000, `${spec.format}: ${ms.toFixed(0)} ms`);
    console.log(`# huge record (${spec.format}): ${ms.toFixed(0)} ms`);
  }
});
