import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { freshStore } from '../../test/support/store.ts';
import { AdminStore } from '../store/admin-store.ts';
import { all } from '../store/duckdb.ts';
import { Redactor } from '../log/redact.ts';
import { ADMIN_ACTIONS, AdminAuth, AuthError, authorize, ForbiddenError, hashPassword, verifyPassword } from './auth.ts';

async function setup(clock?: { t: number }) {
  const { store, dir, path } = await freshStore();
  const admin = await AdminStore.open(path);
  const redactor = new Redactor();
  const auth = new AdminAuth(admin, { redactor, lockAfter: 3, lockMs: 60_000, sessionTtlMs: 3_600_000, sessionIdleMs: 600_000, now: clock ? () => new Date(clock.t) : undefined });
  return { store, admin, auth, redactor, async close() { admin.close(); store.close(); await rm(dir, { recursive: true, force: true }); } };
}

test('passwords are scrypt hashes with their parameters; verification is exact', async () => {
  const h = await hashPassword('correct horse battery');
  assert.match(h, /^scrypt\$65536\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.equal(await verifyPassword('correct horse battery', h), true);
  assert.equal(await verifyPassword('correct horse batterY', h), false);
  assert.notEqual(await hashPassword('correct horse battery'), h, 'salt must differ per hash');
  // Tampered parameters never make verification allocate huge memory or succeed.
  assert.equal(await verifyPassword('x', h.replace('65536', String(2 ** 24))), false);
  assert.equal(await verifyPassword('x', 'plain'), false);
});

test('roles: viewers read, only admins act; unknown roles and actions are denied', () => {
  for (const a of ADMIN_ACTIONS) {
    assert.equal(authorize('admin', a), true);
    assert.equal(authorize('viewer', a), false, `viewer may ${a}`);
  }
  assert.equal(authorize('viewer', 'read'), true);
  assert.equal(authorize('admin', 'read'), true);
  assert.equal(authorize('root', 'sync'), false);
  assert.equal(authorize('admin', 'drop-everything'), false);
  assert.equal(authorize('viewer', 'constructor'), false);
  assert.equal(authorize(undefined, 'read'), false);
});

test('UI login: sessions are random, hashed at rest, expire, end on logout and lock after repeated failures', async () => {
  const clock = { t: Date.parse('2026-01-01T10:00:00Z') };
  const t = await setup(clock);
  try {
    const alice = await t.auth.createUser('alice', 'a long passphrase', 'admin');
    assert.equal(alice.role, 'admin');
    assert.equal('password_hash' in alice, false);
    await assert.rejects(t.auth.createUser('Alice', 'another passphrase', 'viewer'), /already exists/);
    await assert.rejects(t.auth.createUser('bob', 'short', 'viewer'), /at least 10/);
    await assert.rejects(t.auth.createUser('bob', 'long enough pw', 'root' as never), /role must be/);

    const s = await t.auth.login('alice', 'a long passphrase');
    assert.match(s.sessionId, /^ofs_[\w-]{43}$/);
    const p = await t.auth.authenticate(s.sessionId);
    assert.deepEqual([p?.user, p?.role, p?.via], ['alice', 'admin', 'session']);
    const rows = await all<{ id_hash: string }>(t.store.conn, 'SELECT id_hash FROM admin_sessions');
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].id_hash, s.sessionId);
    assert.ok(!rows[0].id_hash.includes(s.sessionId.slice(4)));

    // Idle for longer than the idle timeout: gone.
    clock.t += 11 * 60_000;
    assert.equal(await t.auth.authenticate(s.sessionId), null);
    const s2 = await t.auth.login('alice', 'a long passphrase');
    clock.t += 5 * 60_000;
    assert.ok(await t.auth.authenticate(s2.sessionId));
    await t.auth.logout(s2.sessionId);
    assert.equal(await t.auth.authenticate(s2.sessionId), null);

    // Wrong passwords: the same message for unknown users; three failures lock the account.
    await assert.rejects(t.auth.login('nobody', 'whatever it is'), AuthError);
    for (let i = 0; i < 3; i++) await assert.rejects(t.auth.login('alice', 'wrong passphrase'), AuthError);
    await assert.rejects(t.auth.login('alice', 'a long passphrase'), /locked/);
    clock.t += 61_000;
    assert.ok(await t.auth.login('alice', 'a long passphrase'));

    // A new password ends existing sessions.
    const s3 = await t.auth.login('alice', 'a long passphrase');
    await t.auth.setPassword(alice.id, 'a newer passphrase');
    assert.equal(await t.auth.authenticate(s3.sessionId), null);
    await assert.rejects(t.auth.setRole(alice.id, 'viewer'), /last active admin/);
    await assert.rejects(t.auth.setDisabled(alice.id, true), /last active admin/);
  } finally { await t.close(); }
});

test('API tokens are shown once, stored as SHA-256, can expire and be revoked', async () => {
  const clock = { t: Date.parse('2026-01-01T10:00:00Z') };
  const t = await setup(clock);
  try {
    const ci = await t.auth.createToken('ci-bot', 'admin', { createdBy: 'alice' });
    assert.match(ci.token, /^oft_[\w-]{43}$/);
    const dump = JSON.stringify(await all(t.store.conn, 'SELECT * FROM admin_tokens'));
    assert.ok(!dump.includes(ci.token.slice(4)), 'the token is stored in clear');
    const p = await t.auth.authenticate(`Bearer ${ci.token}`);
    assert.deepEqual([p?.user, p?.role, p?.via], ['ci-bot', 'admin', 'token']);
    assert.equal(await t.auth.authenticate(`${ci.token}x`), null);
    assert.equal(await t.auth.authenticate('oft_'), null);
    assert.equal(await t.auth.authenticate('garbage'), null);
    assert.equal(await t.auth.authenticate(''), null);
    assert.ok((await t.auth.listTokens())[0].last_used_at);
    assert.equal('token_hash' in (await t.auth.listTokens())[0], false);

    const short = await t.auth.createToken('temp', 'viewer', { createdBy: 'alice', expiresAt: new Date(clock.t + 1000) });
    assert.ok(await t.auth.authenticate(short.token));
    clock.t += 2000;
    assert.equal(await t.auth.authenticate(short.token), null);

    assert.equal(await t.auth.revokeToken(ci.id), true);
    assert.equal(await t.auth.authenticate(ci.token), null);
    assert.equal(await t.auth.revokeToken(ci.id), false);

    const viewer = await t.auth.createUser('val', 'viewer passphrase', 'viewer');
    await assert.rejects(t.auth.createToken('escalate', 'admin', { createdBy: 'val', userId: viewer.id }), /viewer cannot create an admin token/);
    const own = await t.auth.createToken('val-token', 'viewer', { createdBy: 'val', userId: viewer.id });
    assert.ok(await t.auth.authenticate(own.token));
    // Tokens of a disabled user stop working.
    await t.auth.createUser('root', 'admin passphrase', 'admin');
    await t.auth.setDisabled(viewer.id, true);
    assert.equal(await t.auth.authenticate(own.token), null);
  } finally { await t.close(); }
});

test('perform: a viewer cannot run admin actions; every attempt, success and failure is audited without secrets', async () => {
  const t = await setup();
  try {
    await t.auth.createUser('alice', 'a long passphrase', 'admin');
    await t.auth.createUser('val', 'viewer passphrase', 'viewer');
    const admin = (await t.auth.authenticate((await t.auth.login('alice', 'a long passphrase')).sessionId))!;
    const viewer = (await t.auth.authenticate((await t.auth.createToken('dash', 'viewer', { createdBy: 'alice' })).token))!;
    let ran = 0;
    const act = async () => { ran++; return 'done'; };

    for (const action of ['sync', 'resync', 'rollback', 'pause', 'resume', 'spec.change', 'secret.change'] as const) {
      await assert.rejects(t.auth.perform(viewer, action, 'awin', act), ForbiddenError);
    }
    assert.equal(ran, 0);
    assert.equal(await t.auth.perform(viewer, 'read', null, act), 'done');
    assert.equal(await t.auth.perform(admin, 'sync', 'awin', act, { full: false }), 'done');
    await assert.rejects(t.auth.perform(null, 'sync', 'awin', act), AuthError);

    t.redactor.add('s3cr3t-canary-value');
    await assert.rejects(t.auth.perform(admin, 'secret.change', 'awin', async () => { throw new Error('store refused s3cr3t-canary-value'); }, { setting: 'api_token' }), /refused/);

    const log = await t.auth.listAudit({ limit: 50 });
    const denied = log.filter((e) => e.result === 'denied');
    assert.equal(denied.length, 7);
    assert.ok(denied.every((e) => e.actor === 'dash' && e.actor_kind === 'token' && e.role === 'viewer'));
    const ok = log.find((e) => e.result === 'ok')!;
    assert.deepEqual([ok.actor, ok.action, ok.target, ok.details], ['alice', 'sync', 'awin', { full: false }]);
    assert.ok(Date.now() - Date.parse(ok.occurred_at) < 60_000);
    const failed = log.find((e) => e.result === 'error')!;
    assert.equal(failed.action, 'secret.change');
    assert.deepEqual(failed.details, { setting: 'api_token', error: 'store refused [REDACTED]' });
    assert.equal(log.some((e) => e.action === 'read'), false, 'reads are not audited');
    assert.ok(!JSON.stringify(await all(t.store.conn, 'SELECT * FROM admin_audit')).includes('s3cr3t-canary-value'));
    assert.equal((await t.auth.listAudit({ actor: 'alice', action: 'sync' })).length, 1);
  } finally { await t.close(); }
});

