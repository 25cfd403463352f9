import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { buildUiAssets, UI_ASSETS_PATH, UI_BASE, type UiAssets } from './ui-assets.ts';
import uiRoutes from './ui-routes.ts';

let assets: UiAssets;
before(async () => { assets = await buildUiAssets(); });

async function appWith(o: Parameters<typeof uiRoutes>[1] = {}) {
  const app = Fastify();
  await app.register(uiRoutes, o);
  await app.ready();
  return app;
}

describe('admin UI bundle', () => {
  test('builds one hashed script and one hashed stylesheet', () => {
    assert.match(assets.script, /^app\.[0-9a-f]{12}\.js$/);
    assert.match(assets.stylesheet ?? '', /^app\.[0-9a-f]{12}\.css$/);
    assert.equal(assets.files.size, 2);
    const js = assets.files.get(assets.script)!.body.toString('utf8');
    // The app itself is in it (the API prefix, the CSRF header) and so are its libraries.
    assert.ok(js.includes('/admin/api'));
    assert.ok(js.includes('x-offerfeed-admin'));
    assert.ok(js.length > 50_000, 'Preact and Chart.js are bundled in');
    const css = assets.files.get(assets.stylesheet!)!.body.toString('utf8');
    assert.ok(css.includes('.topbar'));
  });

  test('leaves no import for the browser to resolve', () => {
    const js = assets.files.get(assets.script)!.body.toString('utf8');
    const staticImport = /(?:^|[;}\s)])import\s*(?:[\w$*{][^;"'`]*?from\s*)?["']([^"']+)["']/g;
    const reexport = /(?:^|[;}\s)])export\s*[\w$*{][^;"'`]*?from\s*["']([^"']+)["']/g;
    const dynamic = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
    const found = [...js.matchAll(staticImport), ...js.matchAll(reexport), ...js.matchAll(dynamic)].map((m) => m[1]);
    assert.deepEqual(found, []);
    assert.doesNotMatch(js, /\brequire\(\s*["'](?:preact|chart\.js)/);
    assert.doesNotMatch(js, /process\.env/);
  });

  test('a fresh build of the same sources has the same names (content hashes)', async () => {
    const again = await buildUiAssets();
    assert.equal(again.script, assets.script);
    assert.equal(again.stylesheet, assets.stylesheet);
  });
});

describe('admin UI routes', () => {
  test('the page references the bundle and carries no inline script or data', async () => {
    const app = await appWith({ assets });
    const res = await app.inject({ url: UI_BASE });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    const html = res.body;
    assert.ok(html.includes(`<script type="module" src="${UI_ASSETS_PATH}/${assets.script}"></script>`));
    assert.ok(html.includes(`<link rel="stylesheet" href="${UI_ASSETS_PATH}/${assets.stylesheet}">`));
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs, /\bsrc=/);
      assert.equal(body.trim(), '');
    }
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
    assert.doesNotMatch(html, /<style\b/);
    await app.close();
  });

  test('every app path gets the page; assets come with long cache headers, compressed when asked', async () => {
    const app = await appWith({ assets });
    for (const url of [`${UI_BASE}/`, `${UI_BASE}/networks/cj`, `${UI_BASE}/offers?q=shoes&status=active`, `${UI_BASE}/runs/r-1`]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, assets.html, url);
    }
    const js = assets.files.get(assets.script)!;
    const plain = await app.inject({ url: `${UI_ASSETS_PATH}/${assets.script}`, headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.rawPayload.equals(js.body));

    const gz = await app.inject({ url: `${UI_ASSETS_PATH}/${assets.script}`, headers: { 'accept-encoding': 'gzip, deflate' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.rawPayload).equals(js.body));

    const br = await app.inject({ url: `${UI_ASSETS_PATH}/${assets.stylesheet}`, headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.ok(brotliDecompressSync(br.rawPayload).equals(assets.files.get(assets.stylesheet!)!.body));

    const refused = await app.inject({ url: `${UI_ASSETS_PATH}/${assets.script}`, headers: { 'accept-encoding': 'br;q=0, gzip' } });
    assert.equal(refused.headers['content-encoding'], 'gzip');
    await app.close();
  });

  test('unknown assets are 404, not the page', async () => {
    const app = await appWith({ assets });
    for (const url of [`${UI_ASSETS_PATH}/app.000000000000.js`, `${UI_ASSETS_PATH}/`, `${UI_ASSETS_PATH}/x/y.js`, `${UI_BASE}/assets`]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.doesNotMatch(res.body, /<!doctype html>/i, url);
    }
    await app.close();
  });

  test('a failed build leaves the server up and says why with 503', async () => {
    const failed = Promise.reject(new Error('admin UI build failed: main.tsx:1:1: boom'));
    failed.catch(() => undefined);
    const app = Fastify({ logger: false });
    await app.register(uiRoutes, { assets: failed });
    await app.ready();
    const res = await app.inject({ url: `${UI_BASE}/networks` });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /boom/);
    await app.close();
  });
});
