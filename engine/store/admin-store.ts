// The admin tables of the serving store (migration 004_admin): users, tokens, sessions, audit log, connector
// schedule overrides and pause, scheduler/breaker state, alerts, alert channels and self-test results.
// It works on its own DuckDB connection so that its short transactions never interleave with a sync's long
// commit on the serving store's connection, and serializes its own operations (one DuckDB connection runs one
// transaction at a time).
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, openDuckDB, run, transaction, type Params } from './duckdb.ts';

export type Role = 'admin' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'viewer'];

export interface UserRow {
  id: string; name: string; role: Role; password_hash: string; disabled: boolean; failed_logins: number;
  locked_until: string | null; created_at: string; updated_at: string; last_login_at: string | null;
}
export type PublicUser = Omit<UserRow, 'password_hash'>;

export interface TokenRow {
  id: string; name: string; role: Role; token_hash: string; user_id: string | null; created_by: string;
  created_at: string; expires_at: string | null; last_used_at: string | null; revoked_at: string | null;
}
export type PublicToken = Omit<TokenRow, 'token_hash'>;

export interface SessionRow { id_hash: string; user_id: string; created_at: string; expires_at: string; last_seen_at: string; revoked_at: string | null }

export interface AuditEntry {
  id: number; occurred_at: string; actor: string; actor_kind: 'session' | 'token' | 'cli' | 'system'; role: string | null;
  action: string; target: string | null; result: 'ok' | 'denied' | 'error'; details: unknown;
}

export interface ConnectorSettings {
  connector: string; schedule_cron: string | null; schedule_interval: string | null; paused: boolean;
  paused_reason: string | null; updated_at: string; updated_by: string;
}

export type BreakerState = 'closed' | 'open' | 'half_open';
export interface SchedulerState {
  connector: string; consecutive_failures: number; breaker: BreakerState; breaker_opened_at: string | null;
  breaker_retry_at: string | null; breaker_openings: number; last_attempt_at: string | null; last_status: string | null;
  last_error: string | null; updated_at: string;
}

export interface AlertRow {
  id: number; key: string; connector: string | null; kind: string; severity: 'warning' | 'critical'; message: string;
  details: unknown; first_seen_at: string; last_seen_at: string; resolved_at: string | null; resolved_by: string | null;
  notified_at: string | null; notify_result: unknown; resolved_notify_result: unknown;
}

export interface AlertChannel { id: string; kind: 'webhook' | 'email'; target: string; enabled: boolean; created_at: string; created_by: string }

export interface HealthCheckRow { connector: string; kind: 'contract' | 'probe'; checked_at: string; ok: boolean; skipped: boolean; duration_ms: number; details: unknown }

export interface RunSummaryRow { id: string; connector: string; mode: string; status: string; started_at: string; finished_at: string | null; error: string | null; counts: unknown }

/** DuckDB's TIMESTAMP literal for a JS date (UTC, no zone). */
export const ts = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');
/** A TIMESTAMP as read back ('2025-01-02 10:00:00.123') → ISO 8601 UTC. */
export const isoOf = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(`${String(v).replace(' ', 'T')}Z`).toISOString());
const json = (v: unknown): unknown => {
  if (typeof v !== 'string') return v ?? null;
  try { return JSON.parse(v); } catch { return v; }
};

const TIME_COLUMNS = new Set(['locked_until', 'created_at', 'updated_at', 'last_login_at', 'expires_at', 'last_used_at', 'revoked_at', 'last_seen_at',
  'occurred_at', 'last_success_at', 'first_run_at', 'last_finished_at', 'breaker_opened_at', 'breaker_retry_at', 'last_attempt_at', 'first_seen_at', 'resolved_at', 'notified_at', 'checked_at', 'started_at', 'finished_at']);
const JSON_COLUMNS = new Set(['details', 'notify_result', 'resolved_notify_result', 'counts']);

function shape<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = TIME_COLUMNS.has(k) ? isoOf(v) : JSON_COLUMNS.has(k) ? json(v) : v;
  return out as T;
}

export class AdminStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string, private readonly conn: DuckDBConnection) {}

  /** Opens a connection of its own on the serving store's DuckDB file (which must be migrated). */
  static async open(path: string): Promise<AdminStore> {
    const db = await openDuckDB(path);
    const store = new AdminStore(path, await db.connect());
    const [t] = await store.rows<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_name = 'admin_users'`);
    if (!t.n) {
      store.close();
      throw new Error(`the serving store ${path} has no admin tables yet: run \`offerfeed migrate up\` first`);
    }
    return store;
  }

  close(): void {
    this.conn.closeSync();
  }

  /** Runs fn after every earlier operation of this store finished. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private rows<T>(sql: string, params?: Params): Promise<T[]> {
    return all<Record<string, unknown>>(this.conn, sql, params).then((r) => r.map((x) => shape<T>(x)));
  }

  private query<T>(sql: string, params?: Params): Promise<T[]> {
    return this.exclusive(() => this.rows<T>(sql, params));
  }

  private exec(sql: string, params?: Params): Promise<void> {
    return this.exclusive(() => run(this.conn, sql, params));
  }

  private tx<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(() => transaction(this.conn, fn));
  }

  // ---- users --------------------------------------------------------------------------------------------

  async insertUser(u: { id: string; name: string; role: Role; password_hash: string }, now = new Date()): Promise<void> {
    await this.tx(async () => {
      const [dup] = await this.rows(`SELECT id FROM admin_users WHERE lower(name) = lower($n)`, { n: u.name });
      if (dup) throw new Error(`a user named "${u.name}" already exists`);
      await run(this.conn, `INSERT INTO admin_users (id, name, role, password_hash, created_at, updated_at) VALUES ($id, $n, $r, $h, $now, $now)`,
        { id: u.id, n: u.name, r: u.role, h: u.password_hash, now: ts(now) });
    });
  }

  async userByName(name: string): Promise<UserRow | undefined> {
    return (await this.query<UserRow>('SELECT * FROM admin_users WHERE lower(name) = lower($n)', { n: name }))[0];
  }

  async userById(id: string): Promise<UserRow | undefined> {
    return (await this.query<UserRow>('SELECT * FROM admin_users WHERE id = $id', { id }))[0];
  }

  async listUsers(): Promise<PublicUser[]> {
    return this.query<PublicUser>(`SELECT * EXCLUDE (password_hash) FROM admin_users ORDER BY name`);
  }

  async updateUser(id: string, patch: Partial<Pick<UserRow, 'role' | 'password_hash' | 'disabled'>>, now = new Date()): Promise<boolean> {
    const sets = Object.keys(patch).map((k) => `${k} = $${k}`);
    if (!sets.length) return false;
    return this.tx(async () => {
      const [u] = await this.rows('SELECT id FROM admin_users WHERE id = $id', { id });
      if (!u) return false;
      await run(this.conn, `UPDATE admin_users SET ${sets.join(', ')}, updated_at = $now WHERE id = $id`, { ...(patch as Record<string, string | boolean>), id, now: ts(now) });
      return true;
    });
  }

  async recordLoginFailure(id: string, lockAfter: number, lockMs: number, now = new Date()): Promise<void> {
    await this.exec(`UPDATE admin_users SET failed_logins = failed_logins + 1,
        locked_until = CASE WHEN failed_logins + 1 >= $after THEN $until::TIMESTAMP ELSE locked_until END WHERE id = $id`,
    { id, after: lockAfter, until: ts(new Date(now.getTime() + lockMs)) });
  }

  async recordLoginSuccess(id: string, now = new Date()): Promise<void> {
    await this.exec('UPDATE admin_users SET failed_logins = 0, locked_until = NULL, last_login_at = $now WHERE id = $id', { id, now: ts(now) });
  }

  async countAdmins(): Promise<number> {
    const [r] = await this.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM admin_users WHERE role = 'admin' AND NOT disabled`);
    return r.n;
  }

  // ---- tokens -------------------------------------------------------------------------------------------

  async insertToken(t: Omit<TokenRow, 'created_at' | 'last_used_at' | 'revoked_at'>, now = new Date()): Promise<void> {
    await this.exec(`INSERT INTO admin_tokens (id, name, role, token_hash, user_id, created_by, created_at, expires_at)
      VALUES ($id, $n, $r, $h, $u, $by, $now, $exp)`, {
      id: t.id, n: t.name, r: t.role, h: t.token_hash, u: t.user_id, by: t.created_by, now: ts(now), exp: t.expires_at ? ts(new Date(t.expires_at)) : null,
    });
  }

  async tokenByHash(hash: string): Promise<TokenRow | undefined> {
    return (await this.query<TokenRow>('SELECT * FROM admin_tokens WHERE token_hash = $h', { h: hash }))[0];
  }

  async touchToken(id: string, now = new Date()): Promise<void> {
    await this.exec('UPDATE admin_tokens SET last_used_at = $now WHERE id = $id', { id, now: ts(now) });
  }

  async listTokens(): Promise<PublicToken[]> {
    return this.query<PublicToken>('SELECT * EXCLUDE (token_hash) FROM admin_tokens ORDER BY created_at');
  }

  async revokeToken(id: string, now = new Date()): Promise<boolean> {
    return this.tx(async () => {
      const [t] = await this.rows('SELECT id FROM admin_tokens WHERE id = $id AND revoked_at IS NULL', { id });
      if (!t) return false;
      await run(this.conn, 'UPDATE admin_tokens SET revoked_at = $now WHERE id = $id', { id, now: ts(now) });
      return true;
    });
  }

  // ---- sessions -----------------------------------------------------------------------------------------

  async insertSession(s: { id_hash: string; user_id: string; expires_at: Date }, now = new Date()): Promise<void> {
    await this.exec('INSERT INTO admin_sessions VALUES ($h, $u, $now, $exp, $now, NULL)', { h: s.id_hash, u: s.user_id, now: ts(now), exp: ts(s.expires_at) });
  }

  async sessionByHash(hash: string): Promise<SessionRow | undefined> {
    return (await this.query<SessionRow>('SELECT * FROM admin_sessions WHERE id_hash = $h', { h: hash }))[0];
  }

  async touchSession(hash: string, now = new Date()): Promise<void> {
    await this.exec('UPDATE admin_sessions SET last_seen_at = $now WHERE id_hash = $h', { h: hash, now: ts(now) });
  }

  async revokeSession(hash: string, now = new Date()): Promise<void> {
    await this.exec('UPDATE admin_sessions SET revoked_at = $now WHERE id_hash = $h AND revoked_at IS NULL', { h: hash, now: ts(now) });
  }

  async revokeUserSessions(userId: string, now = new Date()): Promise<void> {
    await this.exec('UPDATE admin_sessions SET revoked_at = $now WHERE user_id = $u AND revoked_at IS NULL', { u: userId, now: ts(now) });
  }

  /** Expired and revoked sessions older than a day are of no use to anyone. */
  async pruneSessions(now = new Date()): Promise<void> {
    await this.exec(`DELETE FROM admin_sessions WHERE coalesce(revoked_at, expires_at) < $cut`, { cut: ts(new Date(now.getTime() - 86_400_000)) });
  }

  // ---- audit --------------------------------------------------------------------------------------------

  async insertAudit(e: Omit<AuditEntry, 'id' | 'occurred_at'>, now = new Date()): Promise<void> {
    await this.exec('INSERT INTO admin_audit (occurred_at, actor, actor_kind, role, action, target, result, details) VALUES ($at, $a, $k, $r, $act, $t, $res, $d)', {
      at: ts(now), a: e.actor, k: e.actor_kind, r: e.role, act: e.action, t: e.target, res: e.result, d: e.details === undefined ? null : JSON.stringify(e.details),
    });
  }

  async listAudit(f: { limit?: number; actor?: string; action?: string; target?: string; since?: Date; before?: number } = {}): Promise<AuditEntry[]> {
    const where: string[] = [];
    const p: Record<string, string | number> = { lim: Math.min(Math.max(f.limit ?? 100, 1), 1000) };
    if (f.actor) { where.push('actor = $actor'); p.actor = f.actor; }
    if (f.action) { where.push('action = $action'); p.action = f.action; }
    if (f.target) { where.push('target = $target'); p.target = f.target; }
    if (f.since) { where.push('occurred_at >= $since'); p.since = ts(f.since); }
    if (f.before !== undefined) { where.push('id < $before'); p.before = f.before; }
    return this.query<AuditEntry>(`SELECT id::INTEGER AS id, occurred_at, actor, actor_kind, role, action, target, result, details::VARCHAR AS details FROM admin_audit
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $lim`, p);
  }

  // ---- connector settings (schedule override, pause) ---------------------------------------------------------

  async connectorSettings(connector?: string): Promise<ConnectorSettings[]> {
    return this.query<ConnectorSettings>(`SELECT * FROM connector_settings ${connector ? 'WHERE connector = $c' : ''} ORDER BY connector`, connector ? { c: connector } : undefined);
  }

  async upsertConnectorSettings(connector: string, patch: Partial<Pick<ConnectorSettings, 'schedule_cron' | 'schedule_interval' | 'paused' | 'paused_reason'>>, by: string, now = new Date()): Promise<ConnectorSettings> {
    return this.tx(async () => {
      const [cur] = await this.rows<ConnectorSettings>('SELECT * FROM connector_settings WHERE connector = $c', { c: connector });
      const next = {
        schedule_cron: cur?.schedule_cron ?? null, schedule_interval: cur?.schedule_interval ?? null, paused: cur?.paused ?? false, paused_reason: cur?.paused_reason ?? null,
        ...patch,
      };
      await run(this.conn, 'DELETE FROM connector_settings WHERE connector = $c', { c: connector });
      await run(this.conn, 'INSERT INTO connector_settings VALUES ($c, $cron, $int, $p, $pr, $now, $by)', {
        c: connector, cron: next.schedule_cron, int: next.schedule_interval, p: next.paused, pr: next.paused_reason, now: ts(now), by,
      });
      return { connector, ...next, updated_at: now.toISOString(), updated_by: by };
    });
  }

  // ---- scheduler state -------------------------------------------------------------------------------------

  async schedulerStates(): Promise<SchedulerState[]> {
    return this.query<SchedulerState>('SELECT * FROM scheduler_state ORDER BY connector');
  }

  async schedulerState(connector: string): Promise<SchedulerState | undefined> {
    return (await this.query<SchedulerState>('SELECT * FROM scheduler_state WHERE connector = $c', { c: connector }))[0];
  }

  async saveSchedulerState(s: Omit<SchedulerState, 'updated_at'>, now = new Date()): Promise<void> {
    const t = (v: string | null) => (v ? ts(new Date(v)) : null);
    await this.tx(async () => {
      await run(this.conn, 'DELETE FROM scheduler_state WHERE connector = $c', { c: s.connector });
      await run(this.conn, 'INSERT INTO scheduler_state VALUES ($c, $f, $b, $bo, $br, $bn, $la, $ls, $le, $now)', {
        c: s.connector, f: s.consecutive_failures, b: s.breaker, bo: t(s.breaker_opened_at), br: t(s.breaker_retry_at), bn: s.breaker_openings,
        la: t(s.last_attempt_at), ls: s.last_status, le: s.last_error, now: ts(now),
      });
    });
  }

  // ---- run history read by the scheduler and the health monitor --------------------------------------------

  async lastRuns(connector: string, limit: number): Promise<RunSummaryRow[]> {
    return this.query<RunSummaryRow>(`SELECT id, connector, mode, status, started_at, finished_at, error, counts::VARCHAR AS counts FROM sync_runs
      WHERE connector = $c ORDER BY started_at DESC LIMIT $n`, { c: connector, n: limit });
  }

  /** Per connector: last success, last finished run, first run, and the number of failed runs since the last success. */
  async runHealth(): Promise<Array<{ connector: string; last_success_at: string | null; first_run_at: string | null; last_status: string | null; last_error: string | null; last_finished_at: string | null; failures_since_success: number }>> {
    return this.query(`
      WITH s AS (SELECT connector, max(finished_at) AS last_success_at FROM sync_runs WHERE status = 'succeeded' OR status = 'rolled_back' GROUP BY connector),
      f AS (SELECT connector, min(started_at) AS first_run_at FROM sync_runs GROUP BY connector),
      l AS (SELECT connector, status AS last_status, error AS last_error, finished_at AS last_finished_at FROM sync_runs
            WHERE status IN ('succeeded', 'failed', 'rolled_back') QUALIFY row_number() OVER (PARTITION BY connector ORDER BY started_at DESC) = 1),
      x AS (SELECT r.connector, count(*)::INTEGER AS failures_since_success FROM sync_runs r LEFT JOIN s ON s.connector = r.connector
            WHERE r.status = 'failed' AND (s.last_success_at IS NULL OR r.started_at > s.last_success_at) GROUP BY r.connector)
      SELECT f.connector, s.last_success_at, f.first_run_at, l.last_status, l.last_error, l.last_finished_at, coalesce(x.failures_since_success, 0) AS failures_since_success
      FROM f LEFT JOIN s USING (connector) LEFT JOIN l USING (connector) LEFT JOIN x USING (connector) ORDER BY f.connector`);
  }

  /** The run id a connector's run lock currently names (the run in progress), if any. */
  async lockedRunId(connector: string): Promise<string | undefined> {
    return (await this.query<{ run_id: string }>('SELECT run_id FROM run_locks WHERE connector = $c', { c: connector }))[0]?.run_id;
  }

  // ---- alerts --------------------------------------------------------------------------------------------

  async openAlert(key: string): Promise<AlertRow | undefined> {
    return (await this.query<AlertRow>(`SELECT id::INTEGER AS id, * EXCLUDE (id, details, notify_result, resolved_notify_result), details::VARCHAR AS details,
      notify_result::VARCHAR AS notify_result, resolved_notify_result::VARCHAR AS resolved_notify_result FROM alerts WHERE key = $k AND resolved_at IS NULL`, { k: key }))[0];
  }

  /** Opens an alert for the problem, or refreshes the open one. Returns the alert and whether it is new. */
  async raiseAlert(a: { key: string; connector: string | null; kind: string; severity: 'warning' | 'critical'; message: string; details?: unknown }, now = new Date()): Promise<{ alert: AlertRow; created: boolean }> {
    const created = await this.tx(async () => {
      const [open] = await this.rows<{ id: number }>('SELECT id::INTEGER AS id FROM alerts WHERE key = $k AND resolved_at IS NULL', { k: a.key });
      const d = a.details === undefined ? null : JSON.stringify(a.details);
      if (open) {
        await run(this.conn, 'UPDATE alerts SET last_seen_at = $now, message = $m, details = $d, severity = $s WHERE id = $id', { id: open.id, now: ts(now), m: a.message, d, s: a.severity });
        return false;
      }
      await run(this.conn, `INSERT INTO alerts (key, connector, kind, severity, message, details, first_seen_at, last_seen_at)
        VALUES ($k, $c, $kind, $s, $m, $d, $now, $now)`, { k: a.key, c: a.connector, kind: a.kind, s: a.severity, m: a.message, d, now: ts(now) });
      return true;
    });
    return { alert: (await this.openAlert(a.key))!, created };
  }

  async resolveAlert(key: string, by: string, now = new Date()): Promise<AlertRow | undefined> {
    const open = await this.openAlert(key);
    if (!open) return undefined;
    await this.exec('UPDATE alerts SET resolved_at = $now, resolved_by = $by WHERE id = $id', { id: open.id, now: ts(now), by });
    return { ...open, resolved_at: now.toISOString(), resolved_by: by };
  }

  async setAlertNotified(id: number, field: 'notify_result' | 'resolved_notify_result', result: unknown, now = new Date()): Promise<void> {
    await this.exec(`UPDATE alerts SET ${field} = $r${field === 'notify_result' ? ', notified_at = $now' : ''} WHERE id = $id`,
      field === 'notify_result' ? { id, r: JSON.stringify(result), now: ts(now) } : { id, r: JSON.stringify(result) });
  }

  async listAlerts(f: { open?: boolean; connector?: string; limit?: number } = {}): Promise<AlertRow[]> {
    const where: string[] = [];
    const p: Record<string, string | number> = { lim: Math.min(Math.max(f.limit ?? 200, 1), 1000) };
    if (f.open === true) where.push('resolved_at IS NULL');
    if (f.open === false) where.push('resolved_at IS NOT NULL');
    if (f.connector) { where.push('connector = $c'); p.c = f.connector; }
    return this.query<AlertRow>(`SELECT id::INTEGER AS id, * EXCLUDE (id, details, notify_result, resolved_notify_result), details::VARCHAR AS details,
      notify_result::VARCHAR AS notify_result, resolved_notify_result::VARCHAR AS resolved_notify_result FROM alerts
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $lim`, p);
  }

  // ---- alert channels ---------------------------------------------------------------------------------------

  async insertChannel(c: Omit<AlertChannel, 'created_at' | 'enabled'>, now = new Date()): Promise<void> {
    await this.exec('INSERT INTO alert_channels VALUES ($id, $k, $t, true, $now, $by)', { id: c.id, k: c.kind, t: c.target, now: ts(now), by: c.created_by });
  }

  async listChannels(): Promise<AlertChannel[]> {
    return this.query<AlertChannel>('SELECT * FROM alert_channels ORDER BY created_at');
  }

  async setChannelEnabled(id: string, enabled: boolean): Promise<void> {
    await this.exec('UPDATE alert_channels SET enabled = $e WHERE id = $id', { id, e: enabled });
  }

  async deleteChannel(id: string): Promise<void> {
    await this.exec('DELETE FROM alert_channels WHERE id = $id', { id });
  }

  // ---- self-test results -------------------------------------------------------------------------------------

  async insertHealthCheck(h: Omit<HealthCheckRow, 'checked_at'>, now = new Date()): Promise<void> {
    await this.exec('INSERT INTO health_checks VALUES ($c, $k, $now, $ok, $sk, $ms, $d)', {
      c: h.connector, k: h.kind, now: ts(now), ok: h.ok, sk: h.skipped, ms: h.duration_ms, d: h.details === undefined ? null : JSON.stringify(h.details),
    });
  }

  /** The latest result of each (connector, kind). */
  async latestHealthChecks(): Promise<HealthCheckRow[]> {
    return this.query<HealthCheckRow>(`SELECT connector, kind, checked_at, ok, skipped, duration_ms, details::VARCHAR AS details FROM health_checks
      QUALIFY row_number() OVER (PARTITION BY connector, kind ORDER BY checked_at DESC) = 1 ORDER BY connector, kind`);
  }
}
