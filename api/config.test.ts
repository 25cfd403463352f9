import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redactor } from '../engine/log/redact.ts';
import { ConfigError, defaultApiConfig, loadApiConfig } from './config.ts';

test('defaults are safe: loopback, no CORS, omit tracking offers without consent, GraphiQL and introspection off', () => {
  const c = loadApiConfig({ env: {} });
  assert.deepEqual([c.host, c.port, c.corsOrigins, c.consentMode, c.graphql.graphiql, c.graphql.introspection], ['127.0.0.1', 8080, [], 'omit', false, false]);
  assert.equal(c.clickIdParams.awin, 'clickref');
  assert.deepEqual(JSON.parse(JSON.stringify(c)), JSON.parse(JSON.stringify(defaultApiConfig())));
});

test('file, then environment, then flags; postback secrets from the environment are redacted from logs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-apicfg-'));
  const file = join(dir, 'api.yaml');
  await writeFile(file, `port: 9000
corsOrigins: [https://shop.example]
consentMode: landing
graphql: { graphiql: true }
postbacks:
  awin: { secret: file-secret-0123456789, auth: hmac }
`);
  const redactor = new Redactor();
  const c = loadApiConfig({
    file, redactor,
    env: { OFFERFEED_API_PORT: '9100', OFFERFEED_API_RATE_LIMIT_MAX: '50', OFFERFEED_POSTBACK_SOVRN_COMMERCE_SECRET: 'env-secret-0123456789', OFFERFEED_POSTBACK_SOVRN_COMMERCE_AUTH: 'hmac' },
    overrides: { host: '0.0.0.0' },
  });
  assert.equal(c.port, 9100);
  assert.equal(c.host, '0.0.0.0');
  assert.deepEqual(c.corsOrigins, ['https://shop.example']);
  assert.equal(c.consentMode, 'landing');
  assert.deepEqual(c.graphql, { graphiql: true, introspection: false, maxDepth: 8, maxCost: 5000 });
  assert.equal(c.rateLimit.max, 50);
  assert.deepEqual(c.postbacks['sovrn-commerce'], { secret: 'env-secret-0123456789', auth: 'hmac' });
  assert.equal(c.postbacks.awin.auth, 'hmac');
  assert.equal(redactor.redact('bad token env-secret-0123456789 / file-secret-0123456789'), 'bad token [REDACTED] / [REDACTED]');
});

test('invalid settings are refused with a message naming the setting, never echoing a secret', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-apicfg-'));
  const bad = async (text: string) => { const f = join(dir, `c${Math.random()}.json`); await writeFile(f, text); return f; };
  assert.throws(() => loadApiConfig({ env: { OFFERFEED_API_PORT: 'eighty' } }), /OFFERFEED_API_PORT="eighty" is not a number/);
  assert.throws(() => loadApiConfig({ env: { OFFERFEED_API_CONSENT_MODE: 'maybe' } }), /consentMode/);
  assert.throws(() => loadApiConfig({ env: { OFFERFEED_API_CORS_ORIGINS: 'https://a.example/path' } }), /corsOrigins/);
  const unknown = await bad('{"prot": 1}');
  const broken = await bad('{not json');
  assert.throws(() => loadApiConfig({ file: unknown, env: {} }), /unknown setting "prot"/);
  assert.throws(() => loadApiConfig({ file: broken, env: {} }), ConfigError);
  const err = (() => { try { loadApiConfig({ env: { OFFERFEED_POSTBACK_CJ_SECRET: 'short1' } }); } catch (e) { return e as Error; } })();
  assert.match(err!.message, /postbacks\.cj\.secret must be a string of at least 16 characters/);
  assert.ok(!err!.message.includes('short1'));
});
