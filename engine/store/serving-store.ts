// The serving store (DuckDB): current offers, runs, API calls, quarantine, incremental state, history outbox.
// The only module that writes SQL against these tables. A run stages its offers, then `commitRun` merges them
// in one transaction (insert new, update changed, touch unchanged, deactivate missing, expire past-due) and
// writes the history events into the outbox in that same transaction: a crash leaves all of it or none.
import { hostname } from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Offer } from '../types/offer.generated.ts';
import type { ApiCall } from '../http/runtime.ts';
import type { QuarantineItem } from '../map/mapper.ts';
import type { RunResult } from '../run/runner.ts';
import { all, openDuckDB, run, transaction } from './duckdb.ts';
import { contentHash, groupKey, offerId } from './offer-identity.ts';

export class RunInProgressError extends Error {
  constructor(connector: string, runId: string, pid: number) {
    super(`a sync of ${connector} is already running (run ${runId}, pid ${pid}); two runs of one connector never overlap`);
    this.name = 'RunInProgressError';
  }
}

export interface CommitCounts {
  new: number; updated: number; unchanged: number; deactivated: number; expired: number; reactivated: number;
  quarantined: number; api_calls: number; pages: number; records: number;
}

export interface CommitOptions {
  /** Missed complete runs after which an absent offer becomes inactive. */
  missedRunsToDeactivate: number;
  now?: Date;
}

const OFFER_COLUMNS = `kind, title, description, url, landing_url, image_url, merchant_id, merchant_name, price, sale_price,
  currency, coupon_code, categories, countries, languages, tags, payout, starts_at, expires_at`;

/** Typed columns from a canonical offer stored as JSON. */
const extract = (j: string) => `
  ${j}->>'$.kind' AS kind, ${j}->>'$.title' AS title, ${j}->>'$.description' AS description, ${j}->>'$.url' AS url,
  ${j}->>'$.landing_url' AS landing_url, ${j}->>'$.image_url' AS image_url, ${j}->>'$.merchant_id' AS merchant_id,
  ${j}->>'$.merchant_name' AS merchant_name, TRY_CAST(${j}->>'$.price' AS DOUBLE) AS price,
  TRY_CAST(${j}->>'$.sale_price' AS DOUBLE) AS sale_price, ${j}->>'$.currency' AS currency,
  ${j}->>'$.coupon_code' AS coupon_code, CAST(${j}->'$.categories' AS VARCHAR[]) AS categories,
  CAST(${j}->'$.countries' AS VARCHAR[]) AS countries, CAST(${j}->'$.languages' AS VARCHAR[]) AS languages,
  CAST(${j}->'$.tags' AS VARCHAR[]) AS tags, ${j}->'$.payout' AS payout,
  TRY_CAST(${j}->>'$.starts_at' AS TIMESTAMP) AS starts_at, TRY_CAST(${j}->>'$.expires_at' AS TIMESTAMP) AS expires_at`;

export class ServingStore {
  private constructor(readonly path: string, private readonly db: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(path: string): Promise<ServingStore> {
    const db = await openDuckDB(path);
    return new ServingStore(path, db, await db.connect());
  }

  close(): void {
    this.conn.closeSync();
  }

  // ---- runs -------------------------------------------------------------------------------------------

  /** Takes the connector's run lock (taking over a lock whose holder died) and records the run as running. */
  async beginRun(connector: string, mode: 'full' | 'incremental', now = new Date()): Promise<string> {
    const runId = `${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${connector}-${randomUUID().slice(0, 8)}`;
    await transaction(this.conn, async () => {
      const [held] = await all<{ run_id: string; pid: number; host: string }>(this.conn, 'SELECT run_id, pid, host FROM run_locks WHERE connector = $c', { c: connector });
      if (held && holderAlive(held.pid, held.host)) throw new RunInProgressError(connector, held.run_id, held.pid);
      if (held) {
        // The holder crashed: its run never committed, so it is marked failed and its staged rows dropped.
        await run(this.conn, `UPDATE sync_runs SET status = 'failed', finished_at = $now, error = 'the sync process died before committing' WHERE id = $r AND status = 'running'`, { r: held.run_id, now: ts(now) });
        await run(this.conn, 'DELETE FROM offer_stage WHERE run_id = $r', { r: held.run_id });
        await run(this.conn, 'DELETE FROM run_locks WHERE connector = $c', { c: connector });
      }
      await run(this.conn, 'INSERT INTO run_locks VALUES ($c, $r, $pid, $host, $now)', { c: connector, r: runId, pid: process.pid, host: hostname(), now: ts(now) });
      await run(this.conn, `INSERT INTO sync_runs (id, connector, mode, status, started_at, pid) VALUES ($r, $c, $m, 'running', $now, $pid)`, { r: runId, c: connector, m: mode, now: ts(now), pid: process.pid });
    });
    return runId;
  }

  /** Appends a batch of offers to the run's stage (fast path: DuckDB appender). */
  async stageOffers(runId: string, offers: Offer[], seqStart: number): Promise<void> {
    const appender = await this.conn.createAppender('offer_stage');
    let seq = seqStart;
    for (const o of offers) {
      appender.appendVarchar(runId);
      appender.appendBigInt(BigInt(seq++));
      appender.appendVarchar(o.network);
      appender.appendVarchar(o.external_id);
      appender.appendVarchar(contentHash(o));
      appender.appendVarchar(groupKey(o));
      appender.appendVarchar(JSON.stringify(o));
      appender.endRow();
    }
    appender.flushSync();
    appender.closeSync();
  }

  /** Merges the staged offers and records the run, its API calls, quarantine and history, all in one transaction. */
  async commitRun(runId: string, connector: string, result: RunResult, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, opts: CommitOptions): Promise<CommitCounts> {
    const now = ts(opts.now ?? new Date());
    const c = this.conn;
    return transaction(c, async () => {
      await run(c, 'DROP TABLE IF EXISTS temp.ch');
      // Classify first on ids and hashes alone; typed columns are extracted only for rows that change.
      await run(c, `CREATE TEMP TABLE ch AS
        WITH s AS (
          SELECT network, external_id, content_hash, group_key, data FROM offer_stage WHERE run_id = $r
          QUALIFY row_number() OVER (PARTITION BY external_id ORDER BY seq) = 1
        )
        SELECT s.network, s.external_id, s.content_hash, s.group_key, s.data,
          o.id AS oid, o.status AS prev_status, o.status_reason AS prev_reason, o.data AS prev_data,
          o.content_hash AS prev_hash, o.version AS prev_version, o.missed_runs AS prev_missed,
          CASE
            WHEN o.id IS NULL THEN 'insert'
            WHEN o.content_hash <> s.content_hash AND o.status IN ('inactive', 'expired') THEN 'reactivate'
            WHEN o.content_hash <> s.content_hash THEN 'update'
            WHEN o.status = 'inactive' THEN 'reactivate'
            ELSE 'touch'
          END AS op
        FROM s LEFT JOIN offers o ON o.network = s.network AND o.external_id = s.external_id`, { r: runId });
      const changed = (ops: string) => `(SELECT ch.*, ${extract('ch.data')} FROM ch WHERE ch.op IN (${ops}))`;
      // Statuses after the change: hidden stays hidden; a past expiry wins over active.
      const newStatus = (prev: string) => `CASE WHEN ${prev} = 'hidden' THEN 'hidden' WHEN x.expires_at IS NOT NULL AND x.expires_at < $now THEN 'expired' ELSE 'active' END`;
      await this.recordChanges(runId, now, `SELECT oid, op, prev_status, prev_reason, prev_data, prev_hash, prev_version, prev_missed FROM ch WHERE op IN ('update', 'reactivate')`);
      await run(c, `UPDATE offers SET last_seen_at = $now, last_verified_at = $now, missed_runs = 0, last_run_id = $r
        FROM ch WHERE ch.op = 'touch' AND offers.id = ch.oid`, { now, r: runId });
      await run(c, `UPDATE offers SET ${OFFER_COLUMNS.split(',').map((col) => `${col.trim()} = x.${col.trim()}`).join(', ')},
          data = x.data, group_key = x.group_key, content_hash = x.content_hash,
          version = CASE WHEN x.content_hash <> offers.content_hash THEN offers.version + 1 ELSE offers.version END,
          last_changed_at = CASE WHEN x.content_hash <> offers.content_hash THEN $now ELSE offers.last_changed_at END,
          status = ${newStatus('offers.status')}, status_reason = NULL,
          last_seen_at = $now, last_verified_at = $now, missed_runs = 0, last_run_id = $r
        FROM ${changed("'update', 'reactivate'")} x WHERE offers.id = x.oid`, { now, r: runId });
      await run(c, `INSERT INTO offers (id, network, external_id, ${OFFER_COLUMNS}, data, group_key, status, first_seen_at, last_seen_at,
          last_verified_at, last_changed_at, version, content_hash, missed_runs, last_run_id)
        SELECT offer_id(network, external_id), network, external_id, ${OFFER_COLUMNS}, data, group_key, ${newStatus("''")},
          $now, $now, $now, $now, 1, content_hash, 0, $r
        FROM ${changed("'insert'")} x`, { now, r: runId });
      await run(c, `INSERT INTO offer_changes (run_id, offer_id, op, changed_at) SELECT $r, offer_id(network, external_id), 'insert', $now FROM ch WHERE op = 'insert'`, { r: runId, now });
      await this.emitVersions(runId, now, `SELECT offer_id(network, external_id) AS id, op FROM ch WHERE op IN ('insert', 'update', 'reactivate')`);
      const counts = await all<{ op: string; n: number }>(c, 'SELECT op, count(*)::INTEGER AS n FROM ch GROUP BY op');
      const n = (op: string) => counts.find((x) => x.op === op)?.n ?? 0;

      let deactivated = 0;
      if (result.complete) {
        // Offers of this connector absent from a complete run: count the miss; past the threshold, inactive.
        await run(c, 'DROP TABLE IF EXISTS temp.missing');
        await run(c, `CREATE TEMP TABLE missing AS SELECT o.id, o.missed_runs + 1 AS missed FROM offers o
          WHERE o.network = $net AND o.status = 'active' AND NOT EXISTS (SELECT 1 FROM ch WHERE ch.external_id = o.external_id)`, { net: connector });
        await this.recordChanges(runId, now, `SELECT o.id, 'deactivate', o.status, o.status_reason, NULL, NULL, NULL, o.missed_runs FROM offers o JOIN missing m ON m.id = o.id WHERE m.missed >= ${Math.max(1, opts.missedRunsToDeactivate)}`);
        await run(c, `UPDATE offers SET missed_runs = m.missed,
            status = CASE WHEN m.missed >= ${Math.max(1, opts.missedRunsToDeactivate)} THEN 'inactive' ELSE status END,
            status_reason = CASE WHEN m.missed >= ${Math.max(1, opts.missedRunsToDeactivate)} THEN 'absent from ' || m.missed || ' complete runs' ELSE status_reason END
          FROM missing m WHERE offers.id = m.id`);
        await this.emitVersions(runId, now, `SELECT offer_id AS id, op FROM offer_changes WHERE run_id = $r AND op = 'deactivate'`);
        [{ n: deactivated }] = await all<{ n: number }>(c, `SELECT count(*)::INTEGER AS n FROM offer_changes WHERE run_id = $r AND op = 'deactivate'`, { r: runId });
      }
      const expired = await this.expire(runId, now, connector);
      const summary: CommitCounts = {
        new: n('insert'), updated: n('update'), unchanged: n('touch'), reactivated: n('reactivate'), deactivated, expired,
        quarantined: result.counts.quarantined, api_calls: extras.apiCalls.length, pages: result.counts.pages, records: result.counts.records,
      };
      for (const [stream, outcome] of Object.entries(result.streams)) {
        if (outcome.cursor === undefined) continue;
        await run(c, 'DELETE FROM connector_state WHERE connector = $c AND stream = $s', { c: connector, s: stream });
        await run(c, 'INSERT INTO connector_state VALUES ($c, $s, $v, $r, $now)', { c: connector, s: stream, v: String(outcome.cursor), r: runId, now });
      }
      await run(c, 'DELETE FROM offer_stage WHERE run_id = $r', { r: runId });
      await this.finishRun(runId, connector, 'succeeded', result, summary, extras, now);
      await run(c, 'DROP TABLE IF EXISTS temp.ch');
      await run(c, 'DROP TABLE IF EXISTS temp.missing');
      return summary;
    });
  }

  /** Ends a run that will not commit (failed, cancelled): nothing of its offers lands; its record and API calls do. */
  async abortRun(runId: string, connector: string, result: RunResult, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, now = new Date()): Promise<void> {
    await transaction(this.conn, async () => {
      await run(this.conn, 'DELETE FROM offer_stage WHERE run_id = $r', { r: runId });
      const counts: CommitCounts = { new: 0, updated: 0, unchanged: 0, deactivated: 0, expired: 0, reactivated: 0, quarantined: result.counts.quarantined, api_calls: extras.apiCalls.length, pages: result.counts.pages, records: result.counts.records };
      await this.finishRun(runId, connector, result.status === 'succeeded' ? 'failed' : result.status, result, counts, extras, ts(now));
    });
  }

  private async finishRun(runId: string, connector: string, status: string, result: RunResult, counts: CommitCounts, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, now: string): Promise<void> {
    const c = this.conn;
    await run(c, `UPDATE sync_runs SET status = $s, complete = $complete, finished_at = $now, counts = $counts, error = $err, warnings = $w WHERE id = $r`, {
      s: status, complete: status === 'succeeded' && result.complete, now, counts: JSON.stringify(counts), err: result.error ?? null, w: JSON.stringify(result.warnings), r: runId,
    });
    await run(c, 'DELETE FROM run_locks WHERE run_id = $r', { r: runId });
    if (extras.apiCalls.length) {
      const a = await c.createAppender('api_calls');
      for (const call of extras.apiCalls) {
        a.appendVarchar(runId); a.appendVarchar(connector); nullable(a, call.stream); nullable(a, call.partition);
        a.appendVarchar(call.purpose); a.appendVarchar(call.method); a.appendVarchar(call.url);
        if (call.status === undefined) a.appendNull(); else a.appendInteger(call.status);
        a.appendBigInt(BigInt(call.bytes)); a.appendInteger(call.duration_ms); a.appendInteger(call.attempt);
        a.appendVarchar(call.outcome); nullable(a, call.error); a.appendVarchar(ts(new Date(call.started_at)));
        a.endRow();
      }
      a.flushSync(); a.closeSync();
      await run(c, `INSERT INTO outbox (kind, payload, created_at)
        SELECT 'api_call', json_object('run_id', run_id, 'connector', connector, 'stream', stream, 'partition', "partition", 'purpose', purpose,
          'method', method, 'url', url, 'status', status, 'bytes', bytes, 'duration_ms', duration_ms, 'attempt', attempt,
          'outcome', outcome, 'error', error, 'started_at', strftime(started_at, '%Y-%m-%dT%H:%M:%S.%g')), $now
        FROM api_calls WHERE run_id = $r`, { r: runId, now });
    }
    for (const q of extras.quarantine) {
      await run(c, 'INSERT INTO quarantine VALUES ($r, $c, $s, $p, $page, $e, $reasons, $rec, $now)', {
        r: runId, c: connector, s: q.stream, p: q.partition === undefined ? null : JSON.stringify(q.partition), page: q.page ?? null,
        e: q.external_id ?? null, reasons: JSON.stringify(q.reasons), rec: JSON.stringify(q.record) ?? null, now,
      });
    }
    await run(c, `INSERT INTO outbox (kind, payload, created_at)
      SELECT 'sync_run', json_object('run_id', id, 'connector', connector, 'mode', mode, 'status', status, 'complete', complete,
        'started_at', strftime(started_at, '%Y-%m-%dT%H:%M:%S.%g'), 'finished_at', strftime(finished_at, '%Y-%m-%dT%H:%M:%S.%g'),
        'duration_ms', date_diff('millisecond', started_at, finished_at), 'counts', counts, 'error', error), $now
      FROM sync_runs WHERE id = $r`, { r: runId, now });
  }

  /** Past-due offers of a connector become expired. */
  private async expire(runId: string, now: string, connector: string): Promise<number> {
    const c = this.conn;
    const where = `network = $net AND status = 'active' AND expires_at IS NOT NULL AND expires_at < $now`;
    await this.recordChanges(runId, now, `SELECT id, 'expire', status, status_reason, NULL, NULL, NULL, missed_runs FROM offers WHERE ${where}`, { net: connector });
    await run(c, `UPDATE offers SET status = 'expired', status_reason = 'expires_at passed' WHERE ${where}`, { net: connector, now });
    await this.emitVersions(runId, now, `SELECT offer_id AS id, op FROM offer_changes WHERE run_id = $r AND op = 'expire'`);
    const [{ n }] = await all<{ n: number }>(c, `SELECT count(*)::INTEGER AS n FROM offer_changes WHERE run_id = $r AND op = 'expire'`, { r: runId });
    return n;
  }

  private async recordChanges(runId: string, now: string, select: string, params: Record<string, string> = {}): Promise<void> {
    await run(this.conn, `INSERT INTO offer_changes (run_id, offer_id, op, prev_status, prev_status_reason, prev_data, prev_content_hash, prev_version, prev_missed_runs, changed_at)
      SELECT $r, *, $now FROM (${select})`, { r: runId, now, ...params });
  }

  /** One offer_versions event per changed offer, carrying its full state after the change. */
  private async emitVersions(runId: string, now: string, select: string): Promise<void> {
    await run(this.conn, `INSERT INTO outbox (kind, payload, created_at)
      SELECT 'offer_version', json_object('event_time', strftime($now::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%g'), 'run_id', $r, 'op', x.op,
        'offer_id', o.id, 'network', o.network, 'external_id', o.external_id, 'version', o.version, 'status', o.status,
        'content_hash', o.content_hash, 'kind', o.kind, 'title', o.title, 'merchant_name', o.merchant_name, 'price', o.price,
        'sale_price', o.sale_price, 'currency', o.currency, 'expires_at', strftime(o.expires_at, '%Y-%m-%dT%H:%M:%S.%g'), 'offer', o.data), $now
      FROM (${select}) x JOIN offers o ON o.id = x.id`, { r: runId, now });
  }

  // ---- connectors and their spec versions -------------------------------------------------------------------

  /** Records the spec a run uses; a changed spec gets the next version number. Returns that version. */
  async recordSpec(spec: { id: string; name: string; status?: string }, text: string, now = new Date()): Promise<number> {
    const hash = createHash('sha256').update(text).digest('hex');
    return transaction(this.conn, async () => {
      const [latest] = await all<{ version: number; hash: string }>(this.conn, 'SELECT version, hash FROM connector_specs WHERE connector = $c ORDER BY version DESC LIMIT 1', { c: spec.id });
      const version = latest?.hash === hash ? latest.version : (latest?.version ?? 0) + 1;
      if (latest?.hash !== hash) await run(this.conn, 'INSERT INTO connector_specs VALUES ($c, $v, $h, $s, $now)', { c: spec.id, v: version, h: hash, s: text, now: ts(now) });
      const [exists] = await all<{ n: number }>(this.conn, 'SELECT count(*)::INTEGER AS n FROM connectors WHERE id = $c', { c: spec.id });
      if (exists.n) await run(this.conn, 'UPDATE connectors SET name = $n, status = $st, spec_version = $v, updated_at = $now WHERE id = $c', { c: spec.id, n: spec.name, st: spec.status ?? 'active', v: version, now: ts(now) });
      else await run(this.conn, 'INSERT INTO connectors VALUES ($c, $n, $st, false, $v, $now)', { c: spec.id, n: spec.name, st: spec.status ?? 'active', v: version, now: ts(now) });
      return version;
    });
  }

  // ---- state and reads used by the engine ----------------------------------------------------------------

  async incrementalCursor(connector: string, stream: string): Promise<string | undefined> {
    const [row] = await all<{ cursor: string }>(this.conn, 'SELECT cursor FROM connector_state WHERE connector = $c AND stream = $s', { c: connector, s: stream });
    return row?.cursor;
  }

  async getRun(runId: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await all(this.conn, 'SELECT * FROM sync_runs WHERE id = $r', { r: runId });
    return row;
  }

  async offerStatusCounts(connector?: string): Promise<Record<string, number>> {
    const rows = await all<{ status: string; n: number }>(this.conn, `SELECT status, count(*)::INTEGER AS n FROM offers ${connector ? 'WHERE network = $c' : ''} GROUP BY status`, connector ? { c: connector } : undefined);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async findOffer(network: string, externalId: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await all(this.conn, 'SELECT * FROM offers WHERE network = $n AND external_id = $e', { n: network, e: externalId });
    return row;
  }

  async setOfferStatus(network: string, externalId: string, status: 'hidden' | 'active', reason: string, now = new Date()): Promise<void> {
    const runId = `admin-${randomUUID().slice(0, 8)}`;
    await transaction(this.conn, async () => {
      const id = offerId(network, externalId);
      await this.recordChanges(runId, ts(now), `SELECT id, '${status === 'hidden' ? 'hide' : 'unhide'}', status, status_reason, NULL, NULL, NULL, missed_runs FROM offers WHERE id = '${id}'`);
      await run(this.conn, 'UPDATE offers SET status = $s, status_reason = $reason WHERE id = $id', { s: status, reason, id });
      await this.emitVersions(runId, ts(now), `SELECT offer_id AS id, op FROM offer_changes WHERE run_id = $r`);
    });
  }

  // ---- rollback ------------------------------------------------------------------------------------------

  /** Restores the offers a run changed to their state before it, as new history (only the connector's latest committed run). */
  async rollbackRun(runId: string, now = new Date()): Promise<{ restored: number }> {
    const target = await this.getRun(runId);
    if (!target) throw new Error(`no run ${runId}`);
    if (target.status !== 'succeeded') throw new Error(`run ${runId} is ${String(target.status)}; only a succeeded run can be rolled back`);
    const [later] = await all<{ id: string }>(this.conn, `SELECT id FROM sync_runs WHERE connector = $c AND status = 'succeeded' AND started_at > $t::TIMESTAMP ORDER BY started_at LIMIT 1`, { c: String(target.connector), t: String(target.started_at) });
    if (later) throw new Error(`run ${runId} is not the latest committed run of ${String(target.connector)}: roll back ${later.id} first`);
    const rb = `rollback-${runId}`;
    const t = ts(now);
    return transaction(this.conn, async () => {
      const changes = `SELECT * FROM offer_changes WHERE run_id = $r AND op <> 'touch'`;
      await this.recordChanges(rb, t, `SELECT o.id, 'rollback', o.status, o.status_reason, o.data, o.content_hash, o.version, o.missed_runs FROM offers o WHERE o.id IN (SELECT offer_id FROM offer_changes WHERE run_id = '${runId.replace(/'/g, "''")}')`);
      // Offers the run inserted did not exist before it: they leave the feed (inactive), history keeps them.
      await run(this.conn, `UPDATE offers SET status = 'inactive', status_reason = 'rolled back: ' || $r, last_changed_at = $now
        WHERE id IN (SELECT offer_id FROM offer_changes WHERE run_id = $r AND op = 'insert')`, { r: runId, now: t });
      await run(this.conn, `UPDATE offers SET status = ch.prev_status, status_reason = ch.prev_status_reason, missed_runs = coalesce(ch.prev_missed_runs, offers.missed_runs),
          data = coalesce(ch.prev_data, offers.data), content_hash = coalesce(ch.prev_content_hash, offers.content_hash),
          version = offers.version + 1, last_changed_at = $now
        FROM (${changes} AND op <> 'insert') ch WHERE offers.id = ch.offer_id`, { r: runId, now: t });
      // Typed columns follow the restored JSON.
      await run(this.conn, `UPDATE offers SET ${OFFER_COLUMNS.split(',').map((col) => `${col.trim()} = x.${col.trim()}`).join(', ')}
        FROM (SELECT o.id, ${extract('o.data')} FROM offers o WHERE o.id IN (SELECT offer_id FROM offer_changes WHERE run_id = $r AND op IN ('update', 'reactivate'))) x
        WHERE offers.id = x.id`, { r: runId });
      await this.emitVersions(rb, t, `SELECT offer_id AS id, 'rollback' AS op FROM offer_changes WHERE run_id = $r`);
      await run(this.conn, `UPDATE sync_runs SET status = 'rolled_back' WHERE id = $r`, { r: runId });
      const [{ n }] = await all<{ n: number }>(this.conn, 'SELECT count(DISTINCT offer_id)::INTEGER AS n FROM offer_changes WHERE run_id = $r', { r: rb });
      return { restored: n };
    });
  }

  // ---- outbox -----------------------------------------------------------------------------------------

  /** The batch to send: the in-flight one when a previous send failed, else the next `limit` events (then recorded). */
  async outboxBatch(limit: number): Promise<{ first: number; last: number; events: Array<{ id: number; kind: string; payload: string }> }> {
    return transaction(this.conn, async () => {
      const [inflight] = await all<{ first_id: number; last_id: number }>(this.conn, 'SELECT first_id::BIGINT AS first_id, last_id::BIGINT AS last_id FROM outbox_inflight');
      if (inflight) {
        const events = await all<{ id: number; kind: string; payload: string }>(this.conn, 'SELECT id::BIGINT AS id, kind, payload::VARCHAR AS payload FROM outbox WHERE id BETWEEN $a AND $b ORDER BY id', { a: inflight.first_id, b: inflight.last_id });
        return { first: Number(inflight.first_id), last: Number(inflight.last_id), events };
      }
      const events = await all<{ id: number; kind: string; payload: string }>(this.conn, 'SELECT id::BIGINT AS id, kind, payload::VARCHAR AS payload FROM outbox ORDER BY id LIMIT $n', { n: limit });
      if (!events.length) return { first: 0, last: 0, events };
      const first = Number(events[0].id);
      const last = Number(events[events.length - 1].id);
      await run(this.conn, 'INSERT INTO outbox_inflight VALUES ($a, $b, now()::TIMESTAMP)', { a: first, b: last });
      return { first, last, events };
    });
  }

  /** ClickHouse acknowledged the batch: its events leave the outbox. */
  async outboxDone(last: number): Promise<void> {
    await transaction(this.conn, async () => {
      await run(this.conn, 'DELETE FROM outbox WHERE id <= $m', { m: last });
      await run(this.conn, 'DELETE FROM outbox_inflight');
    });
  }

  async outboxSize(): Promise<number> {
    const [{ n }] = await all<{ n: number }>(this.conn, 'SELECT count(*)::INTEGER AS n FROM outbox');
    return n;
  }
}

const ts = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

function nullable(a: { appendNull(): void; appendVarchar(v: string): void }, v: string | undefined): void {
  if (v === undefined || v === null) a.appendNull(); else a.appendVarchar(v);
}

function holderAlive(pid: number, host: string): boolean {
  if (host !== hostname()) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
