// The serving store (DuckDB): current offers, runs, API calls, quarantine, incremental state, history outbox.
// The only module that writes SQL against these tables. A run stages its offers, then `commitRun` merges them
// in one transaction (insert new, update changed, touch unchanged, deactivate missing, expire past-due) and
// writes the history events into the outbox in that same transaction: a crash leaves all of it or none.
import { hostname } from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import { blobValue, type DuckDBConnection, type DuckDBInstance } from '@duckdb/node-api';
import type { Offer } from '../types/offer.generated.ts';
import type { ApiCall } from '../http/runtime.ts';
import type { QuarantineItem } from '../map/mapper.ts';
import type { RunResult } from '../run/runner.ts';
import type { ErrorPayload } from '../run/error-payload.ts';
import { all, openDuckDB, run, transaction } from './duckdb.ts';
import { canonicalOfferJson, groupKey, hashText, offerId, stableStringify } from './offer-identity.ts';

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

/** The same typed columns from one parse of the JSON (from_json into this struct), with the same casts. */
const OFFER_STRUCT = JSON.stringify({
  kind: 'VARCHAR', title: 'VARCHAR', description: 'VARCHAR', url: 'VARCHAR', landing_url: 'VARCHAR', image_url: 'VARCHAR',
  merchant_id: 'VARCHAR', merchant_name: 'VARCHAR', price: 'VARCHAR', sale_price: 'VARCHAR', currency: 'VARCHAR', coupon_code: 'VARCHAR',
  categories: ['VARCHAR'], countries: ['VARCHAR'], languages: ['VARCHAR'], tags: ['VARCHAR'], payout: 'JSON', starts_at: 'VARCHAR', expires_at: 'VARCHAR',
});
const typedColumns = (j: string) => `
  ${j}.kind AS kind, ${j}.title AS title, ${j}.description AS description, ${j}.url AS url, ${j}.landing_url AS landing_url,
  ${j}.image_url AS image_url, ${j}.merchant_id AS merchant_id, ${j}.merchant_name AS merchant_name, TRY_CAST(${j}.price AS DOUBLE) AS price,
  TRY_CAST(${j}.sale_price AS DOUBLE) AS sale_price, ${j}.currency AS currency, ${j}.coupon_code AS coupon_code, ${j}.categories AS categories,
  ${j}.countries AS countries, ${j}.languages AS languages, ${j}.tags AS tags, ${j}.payout AS payout,
  TRY_CAST(${j}.starts_at AS TIMESTAMP) AS starts_at, TRY_CAST(${j}.expires_at AS TIMESTAMP) AS expires_at`;

const SEPARATOR = /[\t\n]/;

/**
 * A batch of stage rows as one UTF-8 text, `seq \t network \t external_id \t group_key \t data \t content_hash` per
 * line. Each row is encoded to UTF-8 once, straight into the buffer DuckDB receives, and its content hash is taken
 * over those bytes (the same SHA-1 as over the string): no per-row string for the line, no second encoding.
 */
class StageText {
  private buf = Buffer.allocUnsafe(1 << 20);
  private length = 0;
  rows = 0;

  add(seq: number, network: string, externalId: string, group: string, data: string): void {
    const head = `${seq}\t${network}\t${externalId}\t${group}\t`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the tail is a tab, 40 hex digits and a line break.
    this.reserve(3 * (head.length + data.length) + 42);
    this.length += this.buf.write(head, this.length);
    const start = this.length;
    this.length += this.buf.write(data, this.length);
    const hash = hashText(this.buf.subarray(start, this.length));
    this.length += this.buf.write(`\t${hash}\n`, this.length, 'latin1');
    this.rows++;
  }

  /** The text without its last line break. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, Math.max(0, this.length - 1));
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

const stageName = (runId: string) => `temp.offer_stage_${createHash('sha1').update(runId).digest('hex').slice(0, 16)}`;

export class ServingStore {
  /** Stage tables this connection created (one per run in progress). */
  private readonly stages = new Set<string>();

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

  /**
   * Appends a batch of offers to the run's stage: a temporary table of this connection, so staging writes no WAL
   * and a crashed run leaves nothing behind. Each offer is serialized once, to its canonical JSON (keys sorted),
   * which is both the stored document and the content hash's input; the batch goes to DuckDB as one text that
   * DuckDB splits and validates on its own threads, so the JavaScript thread does no per-value appends.
   */
  async stageOffers(runId: string, offers: Offer[], seqStart: number): Promise<void> {
    const table = await this.stageTable(runId);
    const text = new StageText();
    const odd: Array<[number, string, string, string, string, string]> = [];
    let seq = seqStart;
    for (const o of offers) {
      const canonical = canonicalOfferJson(o);
      const group = groupKey(o);
      // The text is split on tabs and line breaks: the JSON has none raw (JSON escapes them), the other fields
      // rarely do. Those rows, and offers JSON cannot carry as they are (hashed over stableStringify, stored as
      // JSON.stringify), go through the appender instead.
      if (canonical === undefined || SEPARATOR.test(o.network) || SEPARATOR.test(o.external_id) || SEPARATOR.test(group)) {
        odd.push([seq++, o.network, o.external_id, hashText(canonical ?? stableStringify(o)), group, canonical ?? JSON.stringify(o)]);
      } else {
        text.add(seq++, o.network, o.external_id, group, canonical);
      }
    }
    if (text.rows) {
      await run(this.conn, `INSERT INTO ${table} SELECT p[1]::BIGINT, p[2], p[3], p[6], p[4], p[5]
        FROM (SELECT string_split(line, chr(9)) AS p FROM (SELECT unnest(string_split(decode($b), chr(10))) AS line))`, { b: blobValue(text.bytes()) });
    }
    if (odd.length) {
      const a = await this.conn.createAppender(table.slice('temp.'.length), null, 'temp');
      for (const [sq, network, externalId, hash, group, data] of odd) {
        a.appendBigInt(BigInt(sq)); a.appendVarchar(network); a.appendVarchar(externalId); a.appendVarchar(hash); a.appendVarchar(group); a.appendVarchar(data);
        a.endRow();
      }
      a.flushSync(); a.closeSync();
    }
  }

  /** The run's stage table (created on first use): temporary, so only this connection sees it and a crash drops it. */
  private async stageTable(runId: string): Promise<string> {
    const name = stageName(runId);
    if (!this.stages.has(name)) {
      await run(this.conn, `CREATE TEMP TABLE IF NOT EXISTS ${name.slice('temp.'.length)} (seq BIGINT NOT NULL, network VARCHAR NOT NULL,
        external_id VARCHAR NOT NULL, content_hash VARCHAR NOT NULL, group_key VARCHAR NOT NULL, data JSON NOT NULL)`);
      this.stages.add(name);
    }
    return name;
  }

  private async dropStage(runId: string): Promise<void> {
    const name = stageName(runId);
    await run(this.conn, `DROP TABLE IF EXISTS ${name}`);
    this.stages.delete(name);
  }

  /** Merges the staged offers and records the run, its API calls, quarantine and history, all in one transaction. */
  async commitRun(runId: string, connector: string, result: RunResult, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, opts: CommitOptions): Promise<CommitCounts> {
    const now = ts(opts.now ?? new Date());
    const stage = await this.stageTable(runId);
    try {
      return await this.mergeRun(stage, runId, connector, result, extras, opts, now);
    } finally {
      await this.dropStage(runId).catch(() => undefined);
    }
  }

  private async mergeRun(stage: string, runId: string, connector: string, result: RunResult, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, opts: CommitOptions, now: string): Promise<CommitCounts> {
    const c = this.conn;
    return transaction(c, async () => {
      await run(c, 'DROP TABLE IF EXISTS temp.ch');
      // An offer staged twice (duplicates across pages) counts once, its first copy; most runs have no duplicates,
      // so the window that picks first copies runs only when there are some.
      const [{ dup }] = await all<{ dup: number }>(c, `SELECT (count(*) - count(DISTINCT external_id))::INTEGER AS dup FROM ${stage}`);
      const staged = dup
        ? `(SELECT seq, network, external_id, content_hash FROM ${stage} QUALIFY row_number() OVER (PARTITION BY external_id ORDER BY seq) = 1)`
        : stage;
      // Classify on ids and hashes alone (seq, id and op are all it keeps): the offers' JSON is read only for the
      // rows that change.
      await run(c, `CREATE TEMP TABLE ch AS
        SELECT s.seq, coalesce(o.id, offer_id(s.network, s.external_id)) AS id,
          CASE
            WHEN o.id IS NULL THEN 'insert'
            WHEN o.content_hash <> s.content_hash AND o.status IN ('inactive', 'expired') THEN 'reactivate'
            WHEN o.content_hash <> s.content_hash THEN 'update'
            WHEN o.status = 'inactive' THEN 'reactivate'
            ELSE 'touch'
          END AS op
        FROM ${staged} s LEFT JOIN offers o ON o.network = s.network AND o.external_id = s.external_id`);
      const counts = await all<{ op: string; n: number }>(c, 'SELECT op, count(*)::INTEGER AS n FROM ch GROUP BY op');
      const n = (op: string) => counts.find((x) => x.op === op)?.n ?? 0;
      // The new state of changed rows: staged JSON parsed once into the typed columns. (A plain subquery: as a
      // LATERAL join, DuckDB would decorrelate it into a join on the JSON text.)
      const changed = (ops: string) => `(SELECT id, network, external_id, content_hash, group_key, data, ${typedColumns('j')} FROM (
        SELECT ch.id, st.network, st.external_id, st.content_hash, st.group_key, st.data, from_json(st.data, '${OFFER_STRUCT}') AS j
        FROM ch JOIN ${stage} st ON st.seq = ch.seq WHERE ch.op IN (${ops})))`;
      // Statuses after the change: hidden stays hidden; a past expiry wins over active.
      const newStatus = (prev: string) => `CASE WHEN ${prev} = 'hidden' THEN 'hidden' WHEN x.expires_at IS NOT NULL AND x.expires_at < $now THEN 'expired' ELSE 'active' END`;
      if (n('update') + n('reactivate')) {
        await this.recordChanges(runId, now, `SELECT o.id, ch.op, o.status, o.status_reason, o.data, o.content_hash, o.version, o.missed_runs
          FROM ch JOIN offers o ON o.id = ch.id WHERE ch.op IN ('update', 'reactivate')`);
      }
      if (n('touch')) {
        await run(c, `UPDATE offers SET last_seen_at = $now, last_verified_at = $now, missed_runs = 0, last_run_id = $r
          FROM ch WHERE ch.op = 'touch' AND offers.id = ch.id`, { now, r: runId });
      }
      if (n('update') + n('reactivate')) {
        await run(c, `UPDATE offers SET ${OFFER_COLUMNS.split(',').map((col) => `${col.trim()} = x.${col.trim()}`).join(', ')},
            data = x.data, group_key = x.group_key, content_hash = x.content_hash,
            version = CASE WHEN x.content_hash <> offers.content_hash THEN offers.version + 1 ELSE offers.version END,
            last_changed_at = CASE WHEN x.content_hash <> offers.content_hash THEN $now ELSE offers.last_changed_at END,
            status = ${newStatus('offers.status')}, status_reason = NULL,
            last_seen_at = $now, last_verified_at = $now, missed_runs = 0, last_run_id = $r
          FROM ${changed("'update', 'reactivate'")} x WHERE offers.id = x.id`, { now, r: runId });
      }
      if (n('insert')) {
        await run(c, `INSERT INTO offers (id, network, external_id, ${OFFER_COLUMNS}, data, group_key, status, first_seen_at, last_seen_at,
            last_verified_at, last_changed_at, version, content_hash, missed_runs, last_run_id)
          SELECT id, network, external_id, ${OFFER_COLUMNS}, data, group_key, ${newStatus("''")},
            $now, $now, $now, $now, 1, content_hash, 0, $r
          FROM ${changed("'insert'")} x`, { now, r: runId });
        await run(c, `INSERT INTO offer_changes (run_id, offer_id, op, changed_at) SELECT $r, id, 'insert', $now FROM ch WHERE op = 'insert'`, { r: runId, now });
      }
      if (n('insert') + n('update') + n('reactivate')) {
        await this.emitVersions(runId, now, `SELECT id, op FROM ch WHERE op IN ('insert', 'update', 'reactivate')`);
      }

      let deactivated = 0;
      if (result.complete) {
        // Offers of this connector absent from a complete run: count the miss; past the threshold, inactive. Every
        // offer the run saw now carries its run id (touched, updated or inserted above), so "absent" needs no join.
        await run(c, 'DROP TABLE IF EXISTS temp.missing');
        await run(c, `CREATE TEMP TABLE missing AS SELECT o.id, o.missed_runs + 1 AS missed FROM offers o
          WHERE o.network = $net AND o.status = 'active' AND o.last_run_id <> $r`, { net: connector, r: runId });
        const threshold = Math.max(1, opts.missedRunsToDeactivate);
        const [miss] = await all<{ n: number; out: number }>(c, `SELECT count(*)::INTEGER AS n, (count(*) FILTER (WHERE missed >= ${threshold}))::INTEGER AS out FROM missing`);
        deactivated = miss.out;
        if (deactivated) await this.recordChanges(runId, now, `SELECT o.id, 'deactivate', o.status, o.status_reason, NULL, NULL, NULL, o.missed_runs FROM offers o JOIN missing m ON m.id = o.id WHERE m.missed >= ${threshold}`);
        if (miss.n) {
          await run(c, `UPDATE offers SET missed_runs = m.missed,
              status = CASE WHEN m.missed >= ${threshold} THEN 'inactive' ELSE status END,
              status_reason = CASE WHEN m.missed >= ${threshold} THEN 'absent from ' || m.missed || ' complete runs' ELSE status_reason END
            FROM missing m WHERE offers.id = m.id`);
        }
        if (deactivated) await this.emitVersions(runId, now, `SELECT id, 'deactivate' AS op FROM missing WHERE missed >= ${threshold}`);
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
      await this.finishRun(runId, connector, 'succeeded', result, summary, extras, now);
      await run(c, 'DROP TABLE IF EXISTS temp.ch');
      await run(c, 'DROP TABLE IF EXISTS temp.missing');
      return summary;
    });
  }

  /** Ends a run that will not commit (failed, cancelled): nothing of its offers lands; its record and API calls do. */
  async abortRun(runId: string, connector: string, result: RunResult, extras: { apiCalls: ApiCall[]; quarantine: QuarantineItem[] }, now = new Date()): Promise<void> {
    try {
      await transaction(this.conn, async () => {
        const counts: CommitCounts = { new: 0, updated: 0, unchanged: 0, deactivated: 0, expired: 0, reactivated: 0, quarantined: result.counts.quarantined, api_calls: extras.apiCalls.length, pages: result.counts.pages, records: result.counts.records };
        await this.finishRun(runId, connector, result.status === 'succeeded' ? 'failed' : result.status, result, counts, extras, ts(now));
      });
    } finally {
      await this.dropStage(runId).catch(() => undefined);
    }
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
    const [due] = await all<{ n: number }>(c, `SELECT count(*)::INTEGER AS n FROM offers WHERE ${where}`, { net: connector, now });
    if (!due.n) return 0;
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
      const [{ lo }] = await all<{ lo: number | null }>(this.conn, 'SELECT min(id)::BIGINT AS lo FROM outbox');
      if (lo === null) return { first: 0, last: 0, events: [] };
      // The ids from the lowest on: a range that the scan narrows to through each row group's min/max, where
      // ORDER BY id LIMIT n reads every row of a large outbox for every batch. Ids skipped by rolled-back
      // transactions can leave the range short; then the next `limit` events in id order are taken as before.
      const select = 'SELECT id::BIGINT AS id, kind, payload::VARCHAR AS payload FROM outbox';
      let events = await all<{ id: number; kind: string; payload: string }>(this.conn, `${select} WHERE id BETWEEN $a AND $b ORDER BY id`, { a: Number(lo), b: Number(lo) + limit - 1 });
      if (events.length < limit) events = await all<{ id: number; kind: string; payload: string }>(this.conn, `${select} WHERE id >= $a ORDER BY id LIMIT $n`, { a: Number(lo), n: limit });
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

  // ---- failure diagnostics: error payloads and re-authentication (migration 007) --------------------------

  /** Keeps the (already redacted, capped) bodies of a failed run's broken pages; older runs' payloads are pruned. */
  async recordErrorPayloads(runId: string, connector: string, payloads: ErrorPayload[], opts: { keepRuns?: number; now?: Date } = {}): Promise<void> {
    if (!payloads.length) return;
    const now = ts(opts.now ?? new Date());
    await transaction(this.conn, async () => {
      for (const p of payloads) {
        await run(this.conn, `INSERT INTO error_payloads VALUES ($r, $c, $s, $part, $page, $url, $attempt, $status, $ct, $err, $bytes, $kept, $trunc, $enc, $dec, $payload, $at)`, {
          r: runId, c: connector, s: p.stream ?? null, part: p.partition ?? null, page: p.page ?? null, url: p.url, attempt: p.attempt,
          status: p.status ?? null, ct: p.content_type ?? null, err: p.error, bytes: p.bytes, kept: p.kept_bytes, trunc: p.truncated,
          enc: p.encoding, dec: p.decompressed, payload: p.payload, at: now,
        });
      }
      // Diagnostics of the connector's latest failed runs only: the table stays small whatever the failure rate.
      await run(this.conn, `DELETE FROM error_payloads WHERE connector = $c AND run_id NOT IN (
          SELECT run_id FROM error_payloads WHERE connector = $c GROUP BY run_id ORDER BY max(created_at) DESC, run_id DESC LIMIT $keep)`,
      { c: connector, keep: opts.keepRuns ?? 20 });
    });
  }

  async errorPayloads(runId: string): Promise<Array<ErrorPayload & { run_id: string; connector: string; created_at: string }>> {
    return all(this.conn, `SELECT run_id, connector, stream, "partition", page, url, attempt, status, content_type, error, bytes::BIGINT AS bytes,
        kept_bytes, truncated, encoding, decompressed, payload, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS created_at
      FROM error_payloads WHERE run_id = $r ORDER BY created_at, attempt`, { r: runId });
  }

  /** Ends a run whose commit or abort could not be written (disk full): failed, its stage dropped, its lock freed. */
  async releaseRun(runId: string, error: string, now = new Date()): Promise<void> {
    await transaction(this.conn, async () => {
      await run(this.conn, `UPDATE sync_runs SET status = 'failed', finished_at = $now, error = $e WHERE id = $r AND status = 'running'`, { r: runId, e: error, now: ts(now) });
      await run(this.conn, 'DELETE FROM offer_stage WHERE run_id = $r', { r: runId });
      await run(this.conn, 'DELETE FROM run_locks WHERE run_id = $r', { r: runId });
    });
  }

  /** The connector's credentials were refused for good: the scheduler leaves it alone until they change. */
  async markNeedsReauth(connector: string, m: { reason: string; runId?: string; fingerprint?: string }, now = new Date()): Promise<void> {
    await transaction(this.conn, async () => {
      await run(this.conn, 'DELETE FROM connector_reauth WHERE connector = $c', { c: connector });
      await run(this.conn, 'INSERT INTO connector_reauth VALUES ($c, $reason, $r, $f, $now)', { c: connector, reason: m.reason, r: m.runId ?? null, f: m.fingerprint ?? null, now: ts(now) });
    });
  }

  async needsReauth(connector: string): Promise<{ connector: string; reason: string; run_id: string | null; fingerprint: string | null; since: string } | undefined> {
    const [row] = await all<{ connector: string; reason: string; run_id: string | null; fingerprint: string | null; since: string }>(this.conn,
      `SELECT connector, reason, run_id, fingerprint, strftime(since, '%Y-%m-%dT%H:%M:%S.%gZ') AS since FROM connector_reauth WHERE connector = $c`, { c: connector });
    return row;
  }

  /** New credentials (or a run that authenticated): the connector runs again. True when a mark was removed. */
  async clearNeedsReauth(connector: string): Promise<boolean> {
    const [{ n }] = await all<{ n: number }>(this.conn, 'SELECT count(*)::INTEGER AS n FROM connector_reauth WHERE connector = $c', { c: connector });
    if (n) await run(this.conn, 'DELETE FROM connector_reauth WHERE connector = $c', { c: connector });
    return n > 0;
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

/**
 * GDPR erasure in the quarantine: a network can send back what it was given, and a record quarantined with a
 * visitor's click id (the sub id /go puts into tracking URLs) is that visitor's data. Deletes the quarantine rows
 * whose network-supplied columns contain one of the values; returns how many. Runs on the caller's connection, so
 * it is part of the caller's erasure transaction.
 */
export async function eraseQuarantineMentions(conn: DuckDBConnection, values: string[]): Promise<number> {
  // An empty or very short value would match nearly every row.
  const v = JSON.stringify(values.filter((x) => x.length >= 8));
  if (v === '[]') return 0;
  const where = `rowid IN (SELECT q.rowid FROM quarantine q, unnest($v::VARCHAR[]) AS u(x)
    WHERE contains(concat_ws(' ', q.partition, q.external_id, q.reasons::VARCHAR, q.record::VARCHAR), u.x))`;
  const [{ n }] = await all<{ n: number }>(conn, `SELECT count(*)::INTEGER AS n FROM quarantine WHERE ${where}`, { v });
  if (n) await run(conn, `DELETE FROM quarantine WHERE ${where}`, { v });
  return n;
}
