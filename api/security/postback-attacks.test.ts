// Conversion postbacks under attack, over real HTTP into a real DuckDB store: forged tokens and signatures are
// refused (nothing stored), stale or future timestamps are refused while clocks up to ±10 minutes apart are
// accepted, a replayed postback is counted once (and after the window not at all), and both comparisons are
// constant-time (crypto.timingSafeEqual on equal-length digests).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startApiStack, type ApiStack } from '../../test/support/api-stack.ts';
import { all } from '../../engine/store/duckdb.ts';
import { openSideConnection } from '../../engine/store/side-connection.ts';
import { canonicalQuery } from '../routes/postbacks.ts';

const TOKEN = 'alpha-postback-token-0123456789';
const HMAC_KEY = 'beta-hmac-key-0123456789abcdef';
const PARAM_KEY = 'gamma-hmac-key-0123456789abcdef';
const TS_TOKEN = 'delta-token-with-timestamp-0123';
const MIN = 60_000;

const hmac = (key: string, msg: string) => createHmac('sha256', key).update(msg).digest('hex');
const unix = (ms: number) => String(Math.floor(ms / 1000));

describe('postback attacks', () => {
  let s: ApiStack;
  let tried = 0;
  let txn = 0;
  const path = () => join(s.dir, 'offerfeed.duckdb');

  before(async () => {
    s = await startApiStack({
      clickhouse: false,
      config: {
        rateLimit: { max: 100_000, timeWindowMs: 60_000, postbacks: { max: 100_000, timeWindowMs: 60_000 } },
        postbacks: {
          alpha: { secret: TOKEN, auth: 'token' },
          // Signed body, timestamp in the X-Offerfeed-Timestamp header, signed as "<ts>.<body>".
          beta: { secret: HMAC_KEY, auth: 'hmac', timestamp: {} },
          // Signed query or body that carries its own `ts` parameter.
          gamma: { secret: PARAM_KEY, auth: 'hmac', timestamp: { toleranceS: 900 } },
          // A token network that must say when it sent, within a minute.
          delta: { secret: TS_TOKEN, auth: 'token', timestamp: { param: 'sent', toleranceS: 60 } },
        },
      },
    });
  });
  after(() => s?.close());

  /** Rows of the conversions table for a transaction id (of any network). */
  const stored = async (tx: string) => {
    const conn = await openSideConnection(path());
    try { return (await all<{ n: number }>(conn, 'SELECT count(*)::INTEGER AS n FROM conversions WHERE transaction_id = $t', { t: tx }))[0].n; } finally { conn.closeSync(); }
  };

  /** A signed POST to beta: body JSON, timestamp header, signature over "<ts>.<body>" unless overridden. */
  async function beta(o: { tx?: string; ts?: string; sig?: string | null; body?: string; signedTs?: string; headers?: Record<string, string> } = {}) {
    const tx = o.tx ?? `B-${txn++}`;
    const body = o.body ?? JSON.stringify({ transaction_id: tx, amount: 10, commission: 1, currency: 'EUR' });
    const ts = o.ts ?? unix(Date.now());
    const sig = o.sig === undefined ? hmac(HMAC_KEY, `${o.signedTs ?? ts}.${body}`) : o.sig;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-offerfeed-timestamp': ts, ...o.headers };
    if (sig !== null) headers['x-offerfeed-signature'] = sig;
    const res = await fetch(`${s.url}/api/postbacks/beta`, { method: 'POST', headers, body });
    tried++;
    return { status: res.status, json: await res.json() as Record<string, unknown>, tx };
  }

  test('forged tokens are refused and store nothing', async () => {
    const forged = [
      '', 'wrong', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), ` ${TOKEN}`, `${TOKEN}\u0000`, HMAC_KEY, TS_TOKEN,
      TOKEN.replace('0', '\u0030\u0301'), TOKEN.replace('a', '\u0430'), createHash('sha256').update(TOKEN).digest('hex'), 'x'.repeat(900), `${TOKEN},${TOKEN}`,
    ];
    for (const [i, token] of forged.entries()) {
      // HTTP clients trim header values (a padded token becomes the real one): those are sent in query and body only.
      for (const where of token === token.trim() ? ['query', 'header', 'body'] : ['query', 'body']) {
        const tx = `forged-token-${i}-${where}`;
        const res = where === 'query' ? await fetch(`${s.url}/api/postbacks/alpha?transaction_id=${tx}&token=${encodeURIComponent(token)}`)
          : where === 'header' ? await fetch(`${s.url}/api/postbacks/alpha?transaction_id=${tx}`, { headers: token && token === token.trim() && !/[\u0000\u0100-\uffff]/.test(token) ? { 'x-offerfeed-token': token } : {} })
            : await fetch(`${s.url}/api/postbacks/alpha`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ transaction_id: tx, token }).toString() });
        tried++;
        assert.equal(res.status, 401, `token ${JSON.stringify(token).slice(0, 40)} in ${where}`);
        assert.equal(await stored(tx), 0);
      }
    }
    const ok = await fetch(`${s.url}/api/postbacks/alpha?transaction_id=good-token&token=${TOKEN}`);
    assert.equal(ok.status, 200);
  });

  test('forged signatures are refused and store nothing', async () => {
    const body = JSON.stringify({ transaction_id: 'forged-sig', amount: 10 });
    const ts = unix(Date.now());
    const good = hmac(HMAC_KEY, `${ts}.${body}`);
    const goodB64 = Buffer.from(good, 'hex').toString('base64');
    const flip = (h: string, i: number) => h.slice(0, i) + (h[i] === '0' ? '1' : '0') + h.slice(i + 1);
    const forged: Array<[string, string | null]> = [
      ['no signature', null], ['empty', ''], ['wrong key', hmac('another-key-0123456789abcdef', `${ts}.${body}`)], ['another network\'s key', hmac(PARAM_KEY, `${ts}.${body}`)],
      ['the alpha token as a key', hmac(TOKEN, `${ts}.${body}`)], ['first hex digit flipped', flip(good, 0)], ['last hex digit flipped', flip(good, 63)], ['a middle digit flipped', flip(good, 31)],
      ['truncated to 63', good.slice(0, 63)], ['truncated to 32', good.slice(0, 32)], ['one digit too many', `${good}0`], ['sha1 of the message', createHmac('sha1', HMAC_KEY).update(`${ts}.${body}`).digest('hex')],
      ['sha512 of the message', createHmac('sha512', HMAC_KEY).update(`${ts}.${body}`).digest('hex')], ['plain sha256 of the message', createHash('sha256').update(`${ts}.${body}`).digest('hex')],
      ['signed without the timestamp', hmac(HMAC_KEY, body)], ['signed with another timestamp', hmac(HMAC_KEY, `${Number(ts) - 1}.${body}`)], ['signature of an empty body', hmac(HMAC_KEY, `${ts}.`)],
      ['base64 with trailing junk', `${goodB64}!!`], ['base64 with junk inside', `${goodB64.slice(0, 10)}*${goodB64.slice(10)}`], ['two signatures', `${good}, ${flip(good, 5)}`],
      ['sha512= prefix', `sha512=${good}`], ['zeroes', '0'.repeat(64)], ['non-hex of the right length', 'z'.repeat(64)], ['a secret as the signature', HMAC_KEY],
    ];
    for (const [name, sig] of forged) {
      const r = await beta({ tx: 'forged-sig', body, ts, sig });
      assert.equal(r.status, 401, name);
    }
    const tampered = await beta({ tx: 'forged-sig', body: body.replace('10', '1000'), ts, sig: good });
    assert.equal(tampered.status, 401, 'body changed after signing');
    assert.equal(await stored('forged-sig'), 0);
    // The genuine one, in each accepted spelling.
    for (const sig of [good, `sha256=${good}`, good.toUpperCase(), goodB64, goodB64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')]) {
      const r = await beta({ body, ts, sig, tx: 'forged-sig' });
      assert.equal(r.status, 200, sig);
    }
    assert.equal(await stored('forged-sig'), 1);
  });

  test('timestamps: ±10 minutes of skew accepted; stale, future, missing or unreadable refused', async () => {
    const now = Date.now();
    const accepted = [0, -10 * MIN, 10 * MIN, -14 * MIN, 14 * MIN];
    const refused = [-16 * MIN, 16 * MIN, -60 * MIN, 24 * 60 * MIN, -365 * 24 * 60 * MIN];
    for (const skew of accepted) {
      for (const form of [unix(now + skew), String(now + skew), new Date(now + skew).toISOString()]) {
        const r = await beta({ ts: form });
        assert.equal(r.status, 200, `skew ${skew / MIN} min as ${form}: ${JSON.stringify(r.json)}`);
        assert.equal(r.json.status, 'recorded');
      }
    }
    for (const skew of refused) {
      for (const form of [unix(now + skew), String(now + skew), new Date(now + skew).toISOString()]) {
        const r = await beta({ ts: form });
        assert.equal(r.status, 401, `skew ${skew / MIN} min as ${form}`);
        assert.match(String(r.json.message), /timestamp/);
        assert.equal(await stored(r.tx), 0);
      }
    }
    for (const junk of ['', 'yesterday', '0', '-1', '1e10', 'NaN', '99999999999999999999', '2026-13-45T00:00:00Z', `${unix(now)}abc`, `${unix(now)}, ${unix(now)}`]) {
      const r = await beta({ ts: junk });
      assert.equal(r.status, 401, `timestamp ${JSON.stringify(junk)}`);
    }
    // The header timestamp is signed: moving it (a captured postback made fresh) breaks the signature.
    const old = unix(now - 30 * MIN);
    const moved = await beta({ ts: unix(now), signedTs: old });
    assert.equal(moved.status, 401);
  });

  test('GET and POST postbacks whose signed parameters carry the timestamp', async () => {
    const now = Date.now();
    const get = async (params: Record<string, string>, sig?: string) => {
      const q = new URLSearchParams({ ...params, signature: sig ?? hmac(PARAM_KEY, canonicalQuery(params, 'signature')) });
      tried++;
      return (await fetch(`${s.url}/api/postbacks/gamma?${q}`)).status;
    };
    assert.equal(await get({ transaction_id: 'G-1', ts: unix(now - 10 * MIN) }), 200);
    assert.equal(await get({ transaction_id: 'G-2', ts: unix(now + 10 * MIN) }), 200);
    assert.equal(await get({ transaction_id: 'G-3', ts: unix(now - 20 * MIN) }), 401, 'stale');
    assert.equal(await get({ transaction_id: 'G-4' }), 401, 'no timestamp');
    const params = { transaction_id: 'G-5', ts: unix(now - 20 * MIN) };
    assert.equal(await get({ ...params, ts: unix(now) }, hmac(PARAM_KEY, canonicalQuery(params, 'signature'))), 401, 'fresh timestamp on an old signature');
    const body = JSON.stringify({ transaction_id: 'G-6', ts: Number(unix(now + 9 * MIN)), amount: 3 });
    const post = await fetch(`${s.url}/api/postbacks/gamma`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-offerfeed-signature': hmac(PARAM_KEY, body) }, body });
    assert.equal(post.status, 200);
    // A token network with a one-minute window in its own parameter.
    const delta = async (sent: string) => { tried++; return (await fetch(`${s.url}/api/postbacks/delta?transaction_id=D-${txn++}&token=${TS_TOKEN}&sent=${encodeURIComponent(sent)}`)).status; };
    assert.equal(await delta(unix(now - 30_000)), 200);
    assert.equal(await delta(unix(now - 2 * MIN)), 401);
    assert.equal(await delta(''), 401);
  });

  test('a replayed postback is counted once; replayed after the window, refused', async () => {
    const ts = unix(Date.now());
    const body = JSON.stringify({ transaction_id: 'R-1', amount: 50, commission: 5, currency: 'USD' });
    const sig = hmac(HMAC_KEY, `${ts}.${body}`);
    const results = [];
    for (let i = 0; i < 6; i++) results.push((await beta({ body, ts, sig, tx: 'R-1' })).json.status);
    assert.deepEqual(results, ['recorded', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    // Concurrent replays of a new one: still one conversion.
    const body2 = JSON.stringify({ transaction_id: 'R-2', amount: 7 });
    const sig2 = hmac(HMAC_KEY, `${ts}.${body2}`);
    const burst = await Promise.all(Array.from({ length: 10 }, () => beta({ body: body2, ts, sig: sig2, tx: 'R-2' })));
    assert.deepEqual(burst.map((r) => r.status), Array(10).fill(200));
    assert.equal(burst.filter((r) => r.json.status === 'recorded').length, 1);
    assert.equal(await stored('R-1'), 1);
    assert.equal(await stored('R-2'), 1);
    // The same captured request to another network, or with another transaction id under the old signature.
    const other = await fetch(`${s.url}/api/postbacks/gamma`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-offerfeed-timestamp': ts, 'x-offerfeed-signature': sig }, body });
    assert.equal(other.status, 401);
    assert.equal((await beta({ body: body.replace('R-1', 'R-1b'), ts, sig })).status, 401);
    // Captured 20 minutes ago and replayed now: refused before it can count.
    const oldTs = unix(Date.now() - 20 * MIN);
    const late = JSON.stringify({ transaction_id: 'R-3', amount: 1 });
    assert.equal((await beta({ body: late, ts: oldTs, sig: hmac(HMAC_KEY, `${oldTs}.${late}`), tx: 'R-3' })).status, 401);
    assert.equal(await stored('R-3'), 0);
    // The token network, which cannot sign: its replays are counted once too.
    const replay = async () => (await (await fetch(`${s.url}/api/postbacks/alpha?transaction_id=R-4&commission=2&token=${TOKEN}`)).json() as { status: string }).status;
    assert.deepEqual([await replay(), await replay(), await replay()], ['recorded', 'duplicate', 'duplicate']);
    assert.equal(await stored('R-4'), 1);
  });

  test('tokens and signatures are compared in constant time (crypto.timingSafeEqual on equal-length digests)', async () => {
    const src = await readFile(new URL('../routes/postbacks.ts', import.meta.url), 'utf8');
    const fn = (name: string) => {
      const start = src.indexOf(`function ${name}(`);
      assert.ok(start >= 0, `${name} exists`);
      return src.slice(start, src.indexOf('\n}\n', start));
    };
    assert.match(src, /import \{[^}]*\btimingSafeEqual\b[^}]*\} from 'node:crypto'/);
    const token = fn('tokenMatches');
    assert.match(token, /timingSafeEqual\(sha256\(given\), sha256\(secret\)\)/, 'tokens: digests of equal length, so neither content nor length leaks');
    const sig = fn('signatureMatches');
    assert.match(sig, /timingSafeEqual\(provided, expected\)/);
    for (const body of [token, sig]) assert.doesNotMatch(body, /(given|provided|sig|secret|expected)\s*[!=]==?\s*(secret|expected|given|provided)\b/, 'no ordinary comparison of secrets');
    assert.doesNotMatch(src, /\.secret\s*[!=]==?|[!=]==?\s*cfg\.secret/, 'the configured secret is never compared with ===');
  });

  test('attack cases tried', () => {
    assert.ok(tried > 80, String(tried));
    console.log(`# postback attack cases tried: ${tried}`);
  });
});
