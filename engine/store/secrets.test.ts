import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { freshStore } from '../../test/support/store.ts';
import { SecretStore, SecretStoreError, masterKey } from './secrets.ts';
import { all } from './duckdb.ts';
import { parseSpec } from '../spec/loader.ts';
import { envConfigSource, resolveConfig } from '../spec/config.ts';
import { secretStoreConfigSource } from '../spec/secret-config.ts';

test('secrets are encrypted at rest, bound to their connector and name, and need the right master key', async () => {
  const { store } = await freshStore();
  const key = randomBytes(32);
  try {
    const secrets = new SecretStore(store, key);
    await secrets.set('awin', 'api_token', 'tok-very-secret-123');
    const [row] = await all<{ ciphertext: string }>(store.conn, 'SELECT ciphertext FROM secrets');
    assert.ok(!Buffer.from(row.ciphertext, 'base64').toString('latin1').includes('very-secret'));
    assert.deepEqual(await secrets.getAll('awin'), { api_token: 'tok-very-secret-123' });
    await assert.rejects(new SecretStore(store, randomBytes(32)).getAll('awin'), SecretStoreError);
    // A value copied to another connector does not decrypt there.
    await store.conn.run(`INSERT INTO secrets SELECT 'cj', name, iv, ciphertext, tag, updated_at FROM secrets WHERE connector = 'awin'`);
    await assert.rejects(secrets.getAll('cj'), /cannot be decrypted/);
    assert.throws(() => masterKey({}), /OFFERFEED_MASTER_KEY is not set/);
    assert.equal(masterKey({ OFFERFEED_MASTER_KEY: key.toString('hex') }).length, 32);
  } finally { store.close(); }
});

test('settings resolve from --config, then the environment, then the secret store', async () => {
  const { store } = await freshStore();
  try {
    const spec = parseSpec(`dsl: 1
id: demo
name: Demo
kind: feed
base_url: https://x.example
config:
  type: object
  required: [token, account]
  properties:
    token: { type: string, x-secret: true }
    account: { type: string }
streams:
  - name: s
    kind: deal
    request: { path: /x }
    map: '{}'
`, 'demo.yaml');
    const secrets = new SecretStore(store, randomBytes(32));
    await secrets.set('demo', 'token', 'from-store');
    await secrets.set('demo', 'account', 'acct-store');
    const values = await resolveConfig(spec, [envConfigSource({ OFFERFEED_DEMO_ACCOUNT: 'acct-env' }), secretStoreConfigSource(secrets)]);
    assert.deepEqual(values, { token: 'from-store', account: 'acct-env' });
  } finally { store.close(); }
});
