// Enrichment after real sync runs on a real DuckDB file: queued from onCommitted, run in the background, cached
// by content hash, its status and errors recorded; a hanging AI provider never slows or fails a sync; the review
// queue publishes what a person approves or edits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startServer, json } from '../../test/support/http-server.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import type { ServingStore } from '../store/serving-store.ts';
import { enrichmentConfig } from './config.ts';
import { startFakeOpenAI, type Behaviour } from './fixtures/fake-openai.ts';
import { OpenAICompatibleProvider } from './provider.ts';
import { EnrichmentReader } from './reader.ts';
import { ReviewQueue, ReviewError } from './review.ts';
import { EnrichmentRunner } from './runner.ts';

const SPEC = parseSpec(`dsl: 1
id: shop
name: Shop
kind: retailer
base_url: https://api.shop.example
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "description": desc, "url": "https://www.shop.de/p/" & $string(id), "price": price, "sale_price": sale, "currency": "EUR", "merchant_name": "Shop", "expires_at": ends}'
`, 'shop.yaml');

type Item = { id: number; name: string; desc?: string; price: number; sale?: number; ends?: string };

const quiet = () => createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

const ITEMS: Item[] = [
  { id: 1, name: 'Nur heute: Kabellose Kopfhörer mit Geräuschunterdrückung', desc: 'Bis zu 30 Stunden Akku, kostenlose Rücksendung.', price: 199, sale: 129 },
  { id: 2, name: 'Espressomaschine mit Mahlwerk', desc: 'Exklusiv für Mitglieder, solange der Vorrat reicht.', price: 499 },
  { id: 3, name: 'Wanderschuhe wasserdicht', desc: 'Leichte Schuhe für lange Touren.', price: 149, sale: 99 },
];

async function setup(items: () => Item[]) {
  const { store, path } = await freshStore();
  const api = await startServer((_req, res) => json(res, 200, { items: items() }));
  return { store, path, api };
}

const sync = (store: ServingStore, url: string, onCommitted?: (r: string, c: never) => void) =>
  syncConnector({ spec: SPEC, config: {}, redactor: new Redactor(), logger: quiet(), store, baseUrlOverride: url, onCommitted: onCommitted as never });

test('after each commit: a job per run enriches changed offers only, records its status, and readers see the result', async () => {
  let items = ITEMS;
  const { store, path, api } = await setup(() => items);
  const runner = await EnrichmentRunner.open({ path, provider: null, config: enrichmentConfig({}) });
  const reader = await EnrichmentReader.open(path);
  try {
    const first = await sync(store, api.url, runner.onCommitted);
    await runner.idle();
    const job = (await runner.enrichmentStore.getJob(first.runId))!;
    assert.equal(job.status, 'succeeded');
    assert.deepEqual([job.offers, job.enriched, job.cached, job.failed, job.ai_requests], [3, 3, 0, 0, 0]);
    const ids = (await store.conn.runAndReadAll("SELECT id, external_id FROM offers ORDER BY external_id")).getRowObjectsJson() as Array<{ id: string; external_id: string }>;
    const views = await reader.get(ids.map((r) => r.id));
    const headphones = views.get(ids[0].id)!;
    assert.deepEqual(headphones.languages, ['de']);
    assert.deepEqual(headphones.countries, ['DE'], 'from the .de landing domain');
    assert.equal(headphones.categories[0].id, '505771');
    for (const tag of ['urgency:today-only', 'trust:free-returns', 'value:big-discount']) assert.ok(headphones.tags.includes(tag), tag);
    assert.equal(headphones.copy.source, 'rules');
    assert.equal(headphones.copy.machine_generated, true);
    assert.equal(headphones.copy.cta, 'Jetzt kaufen');
    assert.ok(views.get(ids[1].id)!.tags.includes('exclusivity:members-only'));
    assert.equal(views.get(ids[2].id)!.categories[0].id, '187');

    const second = await sync(store, api.url, runner.onCommitted);
    await runner.idle();
    assert.equal(second.counts.unchanged, 3);
    assert.equal(await runner.enrichmentStore.getJob(second.runId), undefined, 'a run that changed nothing queues no job');

    items = [{ ...ITEMS[0], price: 189 }, ITEMS[1], ITEMS[2]];
    const third = await sync(store, api.url, runner.onCommitted);
    await runner.idle();
    const j3 = (await runner.enrichmentStore.getJob(third.runId))!;
    assert.deepEqual([j3.offers, j3.enriched], [1, 1], 'only the changed offer');

    // Re-running a job over unchanged content enriches nothing: the content hash and signature match.
    await runner.enqueueRun(first.runId);
    const again = (await runner.enrichmentStore.getJob(first.runId))!;
    assert.deepEqual([again.status, again.offers, again.enriched, again.cached], ['succeeded', 3, 0, 3]);
    const manual = runner.enrichAll({ force: true });
    await manual.done;
    assert.equal((await runner.enrichmentStore.getJob(manual.jobId))!.enriched, 3, 'a forced manual re-enrichment redoes all');
    assert.ok((await runner.enrichmentStore.listJobs()).length >= 3);
  } finally {
    await runner.close(); reader.close(); await api.close(); store.close();
  }
});

test('a hanging AI provider neither slows nor fails a sync; the job ends partial with its errors and rule copy', async () => {
  const ai = await startFakeOpenAI(() => ({ kind: 'hang' }));
  const { store, path, api } = await setup(() => ITEMS);
  const provider = new OpenAICompatibleProvider({ url: ai.url, model: 'slow', timeoutMs: 1500, maxRetries: 0 });
  const runner = await EnrichmentRunner.open({ path, provider, config: enrichmentConfig({ ai_languages: ['en'] }) });
  const other = await freshStore();
  try {
    // The same first sync into another store without enrichment is the yardstick.
    const baseline = performance.now();
    await sync(other.store, api.url);
    const withoutMs = performance.now() - baseline;
    const started = performance.now();
    const out = await sync(store, api.url, runner.onCommitted);
    const withMs = performance.now() - started;
    assert.equal(out.result.status, 'succeeded');
    assert.ok(withMs < withoutMs + 500, `sync took ${Math.round(withMs)} ms with enrichment queued, ${Math.round(withoutMs)} ms without`);
    // The provider has the job's request and does not answer; a sync in the meantime runs as usual.
    for (let i = 0; i < 100 && ai.open() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ai.open(), 1);
    const during = await sync(store, api.url);
    assert.equal(during.result.status, 'succeeded');
    await runner.idle();
    const job = (await runner.enrichmentStore.getJob(out.runId))!;
    assert.equal(job.status, 'partial');
    assert.equal(job.enriched, 3, 'rule enrichment still landed');
    const errors = await runner.enrichmentStore.jobErrors(out.runId);
    assert.equal(errors.filter((e) => e.stage === 'ai').length, 3);
    assert.match(errors[0].message, /no reply within 1500 ms/);
  } finally {
    await runner.close(); await ai.close(); await api.close(); store.close(); other.store.close();
  }
});

test('onCommitted never throws, even when the runner cannot reach its store', async () => {
  const { store, path, api } = await setup(() => ITEMS);
  const runner = await EnrichmentRunner.open({ path, provider: null });
  runner.enrichmentStore.close();
  try {
    const out = await sync(store, api.url, runner.onCommitted);
    assert.equal(out.result.status, 'succeeded');
    await runner.idle();
  } finally { await api.close(); store.close(); }
});

test('review queue: translations and low-confidence copy wait; approve, edit and reject publish (or not) what they should', async () => {
  let items = ITEMS;
  // o-copy of the espresso machine comes back with low confidence; everything else is confident.
  const ai = await startFakeOpenAI((req): Behaviour => ({ kind: 'ok', confidence: req.offers.some((o) => o.title.startsWith('Espresso')) ? 0.3 : 0.95 }));
  const { store, path, api } = await setup(() => items);
  const runner = await EnrichmentRunner.open({
    path, provider: new OpenAICompatibleProvider({ url: ai.url, model: 'good', timeoutMs: 5000 }),
    config: enrichmentConfig({ ai_languages: ['en', 'fr'], ai_batch_size: 1, ai_price_input: 1, ai_price_output: 2 }),
  });
  const reader = await EnrichmentReader.open(path);
  const queue = new ReviewQueue(runner.enrichmentStore);
  try {
    const first = await sync(store, api.url, runner.onCommitted);
    await runner.idle();
    const job = (await runner.enrichmentStore.getJob(first.runId))!;
    assert.equal(job.status, 'succeeded', JSON.stringify(await runner.enrichmentStore.jobErrors(first.runId)));
    assert.equal(job.ai_requests, 3);
    assert.ok(job.cost > 0 && job.cost_currency === 'USD');
    const [idHeadphones, idEspresso] = ((await store.conn.runAndReadAll("SELECT id FROM offers ORDER BY external_id")).getRowObjectsJson() as Array<{ id: string }>).map((r) => r.id);
    let views = await reader.get([idHeadphones, idEspresso]);
    assert.equal(views.get(idHeadphones)!.copy.source, 'ai', 'confident AI copy is published');
    assert.equal(views.get(idHeadphones)!.copy.machine_generated, true);
    assert.equal(views.get(idHeadphones)!.copy.model, 'good');
    assert.equal(views.get(idEspresso)!.copy.source, 'rules', 'low-confidence AI copy waits; rule copy is served meanwhile');
    assert.deepEqual(views.get(idHeadphones)!.translations, {}, 'translations wait for review');

    const pending = await queue.list({ status: 'pending' });
    assert.deepEqual(pending.map((p) => `${p.kind}:${p.lang}`).sort(), ['copy:de', 'translation:en', 'translation:en', 'translation:en', 'translation:fr', 'translation:fr', 'translation:fr']);
    assert.equal((await queue.counts())['pending:translation'], 6);
    const copyItem = pending.find((p) => p.kind === 'copy')!;
    assert.match(copyItem.reason, /model confidence 0.3/);
    assert.equal(copyItem.offer_title, ITEMS[1].name);

    const frHeadphones = pending.find((p) => p.kind === 'translation' && p.lang === 'fr' && p.offer_id === idHeadphones)!;
    await queue.approve(frHeadphones.id, 'ana');
    const enHeadphones = pending.find((p) => p.kind === 'translation' && p.lang === 'en' && p.offer_id === idHeadphones)!;
    await queue.edit(enHeadphones.id, 'ana', { title: 'Wireless noise-cancelling headphones', summary: 'Up to 30 hours of battery.' });
    await queue.edit(copyItem.id, 'ben', { summary: 'Espressomaschine mit Mahlwerk – frisch gemahlen, nur für Mitglieder.', cta: 'Zum Angebot' });
    const frEspresso = pending.find((p) => p.kind === 'translation' && p.lang === 'fr' && p.offer_id === idEspresso)!;
    const rejected = await queue.reject(frEspresso.id, 'ben', 'wrong tone');
    assert.equal(rejected.status, 'rejected');
    await assert.rejects(queue.approve(frHeadphones.id, 'ana'), (e: Error) => e instanceof ReviewError && e.status === 409);
    await assert.rejects(queue.edit(frEspresso.id, 'ana', { title: '' }), (e: Error) => e instanceof ReviewError);

    views = await reader.get([idHeadphones, idEspresso]);
    assert.deepEqual(views.get(idHeadphones)!.translations.fr, { title: `[fr] ${ITEMS[0].name}`, summary: `[fr] ${ITEMS[0].name} summary`, machine_generated: true });
    assert.deepEqual(views.get(idHeadphones)!.translations.en, { title: 'Wireless noise-cancelling headphones', summary: 'Up to 30 hours of battery.', machine_generated: false });
    const edited = views.get(idEspresso)!.copy;
    assert.deepEqual([edited.source, edited.machine_generated, edited.reviewed_by, edited.cta], ['human', false, 'ben', 'Zum Angebot']);
    assert.equal(views.get(idEspresso)!.translations.fr, undefined, 'a rejected translation is not published');

    // Two offers change: pending items of their old text are superseded, published translations of it no longer served.
    items = [{ ...ITEMS[0], name: 'Nur heute: Kopfhörer ANC Pro' }, { ...ITEMS[1], price: 479 }, ITEMS[2]];
    const changed = await sync(store, api.url, runner.onCommitted);
    await runner.idle();
    assert.equal((await runner.enrichmentStore.getJob(changed.runId))!.status, 'succeeded');
    const superseded = await queue.list({ status: 'superseded' });
    assert.deepEqual(superseded.map((p) => `${p.offer_id === idEspresso ? 'espresso' : 'other'}:${p.kind}:${p.lang}`), ['espresso:translation:en']);
    views = await reader.get([idHeadphones]);
    assert.deepEqual(views.get(idHeadphones)!.translations, {}, 'translations of the old title are not served');
    assert.deepEqual((await queue.list({ status: 'pending', offerId: idHeadphones })).map((p) => p.lang).sort(), ['en', 'fr'], 'the new text waits for review');
    const idShoes = (await store.findOffer('shop', '3'))!.id as string;
    assert.equal((await queue.list({ status: 'pending', offerId: idShoes })).length, 2, 'an unchanged offer keeps its pending items');
  } finally {
    await runner.close(); reader.close(); await ai.close(); await api.close(); store.close();
  }
});
