// The connector templates are the proof that a new partner needs only configuration: each one passes its
// sandbox contract as shipped, copies made with `connectors new` pass theirs too, and the CSV template
// streams a 300,000-row gzip feed through the real engine in bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatContractReport, runContractTest } from '../../engine/sandbox/contract.ts';
import { loadSpecFile } from '../../engine/spec/loader.ts';
import { listTemplates, scaffoldConnector, ScaffoldError } from '../../engine/cli/scaffold.ts';
import type { BenchResult } from './csv-product-feed/bench-feed.ts';

const templatesDir = fileURLToPath(new URL('.', import.meta.url));
const TEMPLATES = ['csv-product-feed', 'rss-deals', 'woocommerce-store'];

/** runContractTest finds connectors through specPath, which reads OFFERFEED_CONNECTORS_DIR on every call. */
async function inConnectorsDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.OFFERFEED_CONNECTORS_DIR;
  process.env.OFFERFEED_CONNECTORS_DIR = dir;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.OFFERFEED_CONNECTORS_DIR;
    else process.env.OFFERFEED_CONNECTORS_DIR = saved;
  }
}

test('the three templates are listed', async () => {
  const list = await listTemplates({ templatesDir });
  assert.deepEqual(list.map((t) => t.id), TEMPLATES);
  for (const t of list) assert.ok(t.name && t.kind && t.description, `${t.id} has a name, kind and description`);
});

for (const id of TEMPLATES) {
  test(`template ${id} passes its sandbox contract`, async () => {
    const report = await inConnectorsDir(templatesDir, () => runContractTest(id));
    assert.ok(report.ok, formatContractReport(report));
    assert.ok(report.expectedCount > 0, `${id} has expected offers`);
    assert.ok(report.passes.every((p) => p.quarantined > 0), `${id}'s sample has records that must be quarantined`);
  });
}

test('connectors new: a copy of each template is a valid connector that passes its own contract', async () => {
  const connectors = await mkdtemp(join(tmpdir(), 'offerfeed-scaffold-'));
  try {
    for (const template of TEMPLATES) {
      const id = `acme-${template.split('-')[0]}`;
      const { dir, files } = await scaffoldConnector(id, template, { connectorsDir: connectors, templatesDir });
      assert.equal(dir, join(connectors, id));
      assert.ok(files.includes('connector.yaml') && files.includes('README.md') && files.includes('sandbox/routes.yaml')
        && files.includes('sandbox/config.json') && files.includes('sandbox/expected.ndjson'), files.join(', '));
      assert.ok(!files.some((f) => f.endsWith('.ts')), 'no TypeScript is copied into a connector');

      const { spec } = await loadSpecFile(join(dir, 'connector.yaml'));
      assert.equal(spec.id, id);
      assert.equal(spec.name, `Acme ${template.split('-')[0][0].toUpperCase()}${template.split('-')[0].slice(1)}`);
      const yaml = await readFile(join(dir, 'connector.yaml'), 'utf8');
      assert.match(yaml, new RegExp(`made from the ${template} template`));

      const readme = await readFile(join(dir, 'README.md'), 'utf8');
      assert.ok(readme.startsWith(`# ${spec.name}\n`), 'README title is the new name');
      assert.ok(!readme.includes(template), `README no longer names ${template}`);
      assert.ok(!readme.includes('template-only'), 'template-only notes are dropped');
      assert.match(readme, new RegExp(`OFFERFEED_${id.toUpperCase().replace(/-/g, '_')}_`));
      assert.match(readme, new RegExp(`offerfeed connectors test ${id}\\b`));

      const expected = (await readFile(join(dir, 'sandbox/expected.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(expected.length > 0 && expected.every((o) => o.network === id));

      for (const f of files.filter((x) => x.endsWith('.gz'))) {
        assert.deepEqual(await readFile(join(dir, f)), await readFile(join(templatesDir, template, f)), `${f} is copied byte for byte`);
      }
      const report = await inConnectorsDir(connectors, () => runContractTest(id));
      assert.ok(report.ok, formatContractReport(report));
    }

    await assert.rejects(scaffoldConnector('acme-rss', 'woocommerce-store', { connectorsDir: connectors, templatesDir }),
      (e: Error) => e instanceof ScaffoldError && /already exists/.test(e.message));
    const before = await readFile(join(connectors, 'acme-rss', 'connector.yaml'), 'utf8');
    assert.match(before, /^id: acme-rss$/m, 'the existing connector is untouched');

    for (const bad of ['Acme', '-acme', 'acme_deals', '../acme', '']) {
      await assert.rejects(scaffoldConnector(bad, 'rss-deals', { connectorsDir: connectors, templatesDir }),
        (e: Error) => e instanceof ScaffoldError && /not valid/.test(e.message), `id ${JSON.stringify(bad)}`);
    }
    for (const bad of ['no-such-template', '../templates', 'rss-deals/sandbox']) {
      await assert.rejects(scaffoldConnector('acme-x', bad, { connectorsDir: connectors, templatesDir }),
        (e: Error) => e instanceof ScaffoldError && /unknown template/.test(e.message), `template ${bad}`);
    }
    assert.ok(!existsSync(join(connectors, 'acme-x')), 'a refused scaffold leaves nothing behind');

    const named = await scaffoldConnector('shop-42', 'woocommerce-store', { connectorsDir: connectors, templatesDir, name: 'Shop: "42" & Co' });
    assert.equal((await loadSpecFile(join(named.dir, 'connector.yaml'))).spec.name, 'Shop: "42" & Co');
  } finally {
    await rm(connectors, { recursive: true, force: true });
  }
});

test('csv-product-feed streams a 300,000-row gzip feed with every row arriving, in bounded memory', { timeout: 240_000 }, async (t) => {
  const ROWS = 300_000;
  // Its own process: under node:test every promise is tracked for async context, which makes the
  // promise-heavy map several times slower than a real run and muddies the memory figures.
  const child = spawn(process.execPath, ['--import', 'tsx', join(templatesDir, 'csv-product-feed', 'bench-feed.ts'), '--rows', String(ROWS), '--seed', '7', '--json'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, `bench-feed exited with ${code}: ${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as BenchResult;
  t.diagnostic(`${ROWS} rows, ${r.file_mib} MiB gzip, generated in ${r.generate_s} s; run ${r.run_s} s = ${r.rows_per_s} rows/s; `
    + `RSS ${r.rss_before_mib} MiB before, ${r.rss_peak_mib} MiB peak (+${r.rss_growth_mib} MiB)`);

  assert.equal(r.status, 'succeeded', r.error);
  assert.equal(r.quarantined, 0, 'no generated row is bad');
  assert.equal(r.offers, ROWS, 'every row became an offer');
  assert.equal(r.id_sum, (ROWS * (ROWS + 1)) / 2, 'each of SKU-1 … SKU-300000 arrived exactly once');
  assert.equal(r.requests, 1, 'one download, no retries');
  assert.ok(r.rss_growth_mib < 300, `RSS grew by ${r.rss_growth_mib} MiB while streaming; expected < 300 MiB`);
});
