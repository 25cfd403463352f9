// The wiring a serving process uses: one onCommitted for syncConnector that queues enrichment and a debounced
// optimizer pass, readers for request handlers, and a clean shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startServer, json } from '../../test/support/http-server.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { all } from '../store/duckdb.ts';
import { startEngineServices } from './services.ts';

const SPEC = parseSpec(`dsl: 1
id: deals
name: Deals
kind: retailer
base_url: https://api.deals.example
streams:
  - name: items
    kind: deal
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://deals.example.fr/d/" & $string(id), "currency": "EUR"}'
`, 'deals.yaml');

test('one onCommitted hook: the run is enriched and scored in the background; the API reads both', async () => {
  const { store, path } = await freshStore();
  const api = await startServer((_req, res) => json(res, 200, { items: [{ id: 1, name: "Vente flash : -40 % sur les casques audio aujourd'hui seulement" }, { id: 2, name: 'Livraison offerte sur les baskets' }] }));
  const services = await startEngineServices({ path, provider: null, timers: false, optimizer: { optimizeDebounceMs: 20 } });
  try {
    const out = await syncConnector({ spec: SPEC, config: {}, redactor: new Redactor(), logger: createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) }), store, baseUrlOverride: api.url, onCommitted: services.onCommitted });
    assert.equal(out.result.status, 'succeeded');
    await services.runner.idle();
    for (let i = 0; i < 100; i++) {
      const [{ n }] = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM offer_scores');
      if (n === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const top = await services.optimizer.rankForTop(2, { lang: 'fr', country: 'FR' }, { record: 'top' });
    assert.equal(top.length, 2, 'filters match the enriched language and country');
    const views = await services.reader.get(top.map((t) => t.offer_id));
    const flash = [...views.values()].find((v) => v.tags.includes('urgency:today-only'))!;
    assert.ok(flash.tags.includes('value:big-discount'));
    assert.equal(flash.categories[0].id, '505771');
    assert.equal(flash.copy.language, 'fr');
    assert.equal(await services.optimizer.flushImpressions(), 2);
  } finally {
    await services.close(); await api.close(); store.close();
  }
});
