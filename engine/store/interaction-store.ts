// Visitor interactions in the serving store (migrations/duckdb/005_interactions.sql): clicks, conversion
// postbacks, consents and pending erasures. The only module writing SQL against those tables. Rows are copied to
// ClickHouse by the interaction exporter (`exported` flags what was copied); DuckDB keeps what must be exact
// and immediate: click → conversion linking, replay detection, and a user's export and erasure. Updates run in
// transactions retried on a write conflict with another connection (the sync, enrichment, the optimizer).
// An erasure is tracked in erasure_requests by keys of the erased ids (migrations/duckdb/008_erasure_requests.sql).
import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, run } from './duckdb.ts';
import { SerialConnection } from './serial-connection.ts';
import { eraseQuarantineMentions } from './serving-store.ts';
import { retryingTransaction, sqlTs } from './side-connection.ts';

export interface ClickRecord {
  click_id: string;
  offer_id: string;
  network: string;
  user_id: string | null;
  consent: string[];
  referrer: string | null;
  country: string | null;
  clicked_at: string;
}

export interface ConversionRecord {
  network: string;
  transaction_id: string;
  click_id: string | null;
  offer_id: string | null;
  user_id: string | null;
  amount: number | null;
  commission: number | null;
  currency: string | null;
  status: string;
  converted_at: string;
  received_at: string;
}

export interface ConversionInput {
  network: string;
  transaction_id: string;
  click_id?: string;
  amount?: number;
  commission?: number;
  currency?: string;
  status: string;
  converted_at: Date;
  /** Hash of the postback's meaningful fields: the same hash again is a replay. */
  payload_hash: string;
}

export type ConversionOutcome = 'recorded' | 'updated' | 'duplicate';

export interface ConsentRecord { purposes: string[]; source: string; recorded_at: string }

export interface UserData { clicks: ClickRecord[]; conversions: ConversionRecord[]; consents: ConsentRecord[] }

/** What an erasure removed from DuckDB, and the key its ClickHouse part is tracked by. */
export interface DuckErasure { key: string; clicks: number; conversions: number; consents: number; quarantine: number }

/**
 * Versions of the mutations that erased a user, per ClickHouse table, then per `host|partition` (host '' on a single
 * server; partition '' when one version covers the whole table, as on a non-replicated MergeTree). A part whose
 * data version is below its version was written before the erasure and may hold the erased rows.
 */
export type ErasureVersions = Record<string, Record<string, number>>;

export interface ErasureRequest {
  user_key: string;
  click_keys: string[];
  /** ClickHouse's rows are rewritten; what remains is the removal of the parts that held them. */
  rewritten: boolean;
  versions?: ErasureVersions;
  attempts: number;
  last_error: string | null;
}

const CLICK_COLS = `click_id, offer_id, network, user_id, consent, referrer, country, strftime(clicked_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS clicked_at`;
const CONVERSION_COLS = `network, transaction_id, click_id, offer_id, user_id, amount, commission, currency, status,
  strftime(converted_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS converted_at, strftime(received_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS received_at`;

export class InteractionStore {
  private constructor(private readonly db: SerialConnection) {}

  static async open(path: string): Promise<InteractionStore> {
    return new InteractionStore(await SerialConnection.open(path));
  }

  close(): Promise<void> { return this.db.close(); }

  async recordClick(c: ClickRecord): Promise<void> {
    await this.db.use((conn) => run(conn, `INSERT INTO clicks (click_id, offer_id, network, user_id, consent, referrer, country, clicked_at)
      VALUES ($id, $offer, $net, $user, $consent::VARCHAR[], $ref, $country, $at::TIMESTAMP)`, {
      id: c.click_id, offer: c.offer_id, net: c.network, user: c.user_id, consent: JSON.stringify(c.consent), ref: c.referrer, country: c.country, at: sqlTs(new Date(c.clicked_at)),
    }));
  }

  async findClick(clickId: string): Promise<ClickRecord | undefined> {
    const [row] = await this.db.use((c) => all<ClickRecord>(c, `SELECT ${CLICK_COLS} FROM clicks WHERE click_id = $id`, { id: clickId }));
    return row;
  }

  /**
   * Records a postback idempotently on (network, transaction id): a replay (same payload) changes nothing; a
   * later postback with other values (pending → approved) updates the row and queues it for ClickHouse again.
   * A new conversion is linked to its click (offer and user) when the click id comes back and is known.
   */
  async recordConversion(x: ConversionInput, now = new Date()): Promise<{ outcome: ConversionOutcome; conversion: ConversionRecord }> {
    return this.db.use((c) => retryingTransaction(c, async () => {
      const [existing] = await all<{ payload_hash: string }>(c, 'SELECT payload_hash FROM conversions WHERE network = $n AND transaction_id = $t', { n: x.network, t: x.transaction_id });
      let outcome: ConversionOutcome;
      if (!existing) {
        const [click] = x.click_id ? await all<{ offer_id: string; user_id: string | null }>(c, 'SELECT offer_id, user_id FROM clicks WHERE click_id = $id', { id: x.click_id }) : [];
        await run(c, `INSERT INTO conversions (network, transaction_id, click_id, offer_id, user_id, amount, commission, currency, status, converted_at, received_at, payload_hash)
          VALUES ($n, $t, $click, $offer, $user, $amount, $commission, $currency, $status, $conv::TIMESTAMP, $now::TIMESTAMP, $hash)`, {
          n: x.network, t: x.transaction_id, click: click ? x.click_id! : null, offer: click?.offer_id ?? null, user: click?.user_id ?? null,
          amount: x.amount ?? null, commission: x.commission ?? null, currency: x.currency ?? null, status: x.status,
          conv: sqlTs(x.converted_at), now: sqlTs(now), hash: x.payload_hash,
        });
        outcome = 'recorded';
      } else if (existing.payload_hash === x.payload_hash) {
        outcome = 'duplicate';
      } else {
        await run(c, `UPDATE conversions SET amount = $amount, commission = $commission, currency = $currency, status = $status,
            converted_at = $conv::TIMESTAMP, received_at = $now::TIMESTAMP, payload_hash = $hash, exported = false
          WHERE network = $n AND transaction_id = $t`, {
          n: x.network, t: x.transaction_id, amount: x.amount ?? null, commission: x.commission ?? null, currency: x.currency ?? null,
          status: x.status, conv: sqlTs(x.converted_at), now: sqlTs(now), hash: x.payload_hash,
        });
        outcome = 'updated';
      }
      const [conversion] = await all<ConversionRecord>(c, `SELECT ${CONVERSION_COLS} FROM conversions WHERE network = $n AND transaction_id = $t`, { n: x.network, t: x.transaction_id });
      return { outcome, conversion };
    }));
  }

  async recordConsent(userId: string, purposes: string[], source: string, now = new Date()): Promise<void> {
    await this.db.use((c) => run(c, 'INSERT INTO consents VALUES ($u, $p::VARCHAR[], $s, $now::TIMESTAMP)', { u: userId, p: JSON.stringify(purposes), s: source, now: sqlTs(now) }));
  }

  // ---- export to ClickHouse ------------------------------------------------------------------------------

  async unexportedClicks(limit: number): Promise<Array<ClickRecord & { seq: number }>> {
    return this.db.use((c) => all(c, `SELECT seq::DOUBLE AS seq, ${CLICK_COLS} FROM clicks WHERE NOT exported ORDER BY seq LIMIT $n`, { n: limit }));
  }

  async unexportedConversions(limit: number): Promise<Array<ConversionRecord & { seq: number }>> {
    return this.db.use((c) => all(c, `SELECT seq::DOUBLE AS seq, ${CONVERSION_COLS} FROM conversions WHERE NOT exported ORDER BY seq LIMIT $n`, { n: limit }));
  }

  async markExported(table: 'clicks' | 'conversions', seqs: number[]): Promise<void> {
    if (!seqs.length) return;
    await this.db.use((c) => retryingTransaction(c, () => run(c, `UPDATE ${table} SET exported = true WHERE seq IN (SELECT unnest($s::BIGINT[]))`, { s: JSON.stringify(seqs) })));
  }

  /** Clicks already in ClickHouse and older than the attribution window leave DuckDB. */
  async pruneExportedClicks(olderThan: Date): Promise<number> {
    return this.db.use((c) => retryingTransaction(c, async () => {
      const [{ n }] = await all<{ n: number }>(c, 'SELECT count(*)::INTEGER AS n FROM clicks WHERE exported AND clicked_at < $t::TIMESTAMP', { t: sqlTs(olderThan) });
      if (n) await run(c, 'DELETE FROM clicks WHERE exported AND clicked_at < $t::TIMESTAMP', { t: sqlTs(olderThan) });
      return n;
    }));
  }

  // ---- GDPR --------------------------------------------------------------------------------------------

  async userData(userId: string): Promise<UserData> {
    return this.db.use(async (c) => ({
      clicks: await all<ClickRecord>(c, `SELECT ${CLICK_COLS} FROM clicks WHERE user_id = $u ORDER BY clicked_at`, { u: userId }),
      conversions: await all<ConversionRecord>(c, `SELECT ${CONVERSION_COLS} FROM conversions WHERE user_id = $u ORDER BY converted_at`, { u: userId }),
      consents: await all<ConsentRecord>(c, `SELECT purposes, source, strftime(recorded_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS recorded_at FROM consents WHERE user_id = $u ORDER BY recorded_at`, { u: userId }),
    }));
  }

  /**
   * Erases a user from DuckDB in one transaction: their clicks and consents are deleted, their conversions stay as
   * anonymous business records (user and click id removed), quarantined records carrying one of their ids are
   * deleted. What ClickHouse still has to erase is recorded by key (erasureKey), so no table keeps the ids. Erasing
   * again is harmless: it finds nothing, and the request is re-opened so ClickHouse is checked again.
   */
  async eraseUser(userId: string, now = new Date()): Promise<DuckErasure> {
    return this.db.use((c) => retryingTransaction(c, async () => {
      const clickIds = (await all<{ click_id: string }>(c, 'SELECT click_id FROM clicks WHERE user_id = $u', { u: userId })).map((r) => r.click_id);
      const p = { u: userId, ids: JSON.stringify(clickIds) };
      const mine = 'user_id = $u OR click_id IN (SELECT unnest($ids::VARCHAR[]))';
      const count = async (sql: string, params: Record<string, string>) => (await all<{ n: number }>(c, sql, params))[0].n;
      const conversions = await count(`SELECT count(*)::INTEGER AS n FROM conversions WHERE ${mine}`, p);
      const consents = await count('SELECT count(*)::INTEGER AS n FROM consents WHERE user_id = $u', { u: userId });
      await run(c, 'DELETE FROM clicks WHERE user_id = $u', { u: userId });
      await run(c, `UPDATE conversions SET user_id = NULL, click_id = NULL WHERE ${mine}`, p);
      await run(c, 'DELETE FROM consents WHERE user_id = $u', { u: userId });
      const quarantine = await eraseQuarantineMentions(c, [userId, ...clickIds]);
      const key = erasureKey(userId);
      await run(c, `INSERT INTO erasure_requests (user_key, click_keys, requested_at) VALUES ($k, $ck::VARCHAR[], $now::TIMESTAMP)
        ON CONFLICT (user_key) DO UPDATE SET click_keys = list_distinct(list_concat(erasure_requests.click_keys, excluded.click_keys)),
          rewritten_at = NULL, last_error = NULL`, { k: key, ck: JSON.stringify(clickIds.map(erasureKey)), now: sqlTs(now) });
      return { key, clicks: clickIds.length, conversions, consents, quarantine };
    }));
  }

  /** Erasures whose ClickHouse rows are not rewritten yet (their user keys, oldest first). */
  async pendingErasures(): Promise<string[]> {
    return (await this.openErasures()).filter((r) => !r.rewritten).map((r) => r.user_key);
  }

  /** Every erasure not finished: rows still to rewrite in ClickHouse, or old parts still to be removed. */
  async openErasures(key?: string): Promise<ErasureRequest[]> {
    const rows = await this.db.use((c) => all<{ user_key: string; click_keys: string[]; rewritten: boolean; versions: string | null; attempts: number; last_error: string | null }>(c,
      `SELECT user_key, click_keys, rewritten_at IS NOT NULL AS rewritten, versions::VARCHAR AS versions, attempts, last_error
       FROM erasure_requests WHERE $k IS NULL OR user_key = $k ORDER BY requested_at, user_key`, { k: key ?? null }));
    return rows.map((r) => ({ ...r, versions: r.versions ? JSON.parse(r.versions) as ErasureVersions : undefined }));
  }

  async erasureRequest(key: string): Promise<ErasureRequest | undefined> {
    return (await this.openErasures(key))[0];
  }

  /** ClickHouse rewrote the rows; the parts that held them (older than `versions`) are still to go. */
  async erasureRewritten(key: string, versions: ErasureVersions, now = new Date()): Promise<void> {
    await this.db.use((c) => retryingTransaction(c, () => run(c, 'UPDATE erasure_requests SET rewritten_at = $now::TIMESTAMP, versions = $v::JSON, last_error = NULL WHERE user_key = $k',
      { k: key, v: JSON.stringify(versions), now: sqlTs(now) })));
  }

  /** Still waiting (for ClickHouse to remove old parts): why, for whoever looks. */
  async erasureWaiting(key: string, note: string): Promise<void> {
    await this.db.use((c) => retryingTransaction(c, () => run(c, 'UPDATE erasure_requests SET last_error = $e WHERE user_key = $k', { k: key, e: note.slice(0, 500) })));
  }

  async erasureDone(key: string): Promise<void> {
    await this.db.use((c) => retryingTransaction(c, () => run(c, 'DELETE FROM erasure_requests WHERE user_key = $k', { k: key })));
  }

  async erasureFailed(key: string, error: string): Promise<void> {
    await this.db.use((c) => retryingTransaction(c, () => run(c, 'UPDATE erasure_requests SET attempts = attempts + 1, last_error = $e WHERE user_key = $k', { k: key, e: error.slice(0, 500) })));
  }

  /** Rows in any interaction table that mention the user or one of the given click ids (erasure checks). */
  async rowsMentioning(userId: string, clickIds: string[]): Promise<number> {
    return this.db.use(async (c: DuckDBConnection) => {
      const p = { u: userId, ids: JSON.stringify(clickIds), k: erasureKey(userId) };
      const [{ n }] = await all<{ n: number }>(c, `SELECT (
          (SELECT count(*) FROM clicks WHERE user_id = $u OR click_id IN (SELECT unnest($ids::VARCHAR[])))
        + (SELECT count(*) FROM conversions WHERE user_id = $u OR click_id IN (SELECT unnest($ids::VARCHAR[])))
        + (SELECT count(*) FROM consents WHERE user_id = $u)
        + (SELECT count(*) FROM erasure_requests WHERE user_key = $k))::INTEGER AS n`, p);
      return n;
    });
  }
}

/**
 * The key an erasure is tracked and applied by: SHA-256 (lower-case hex) of the id, which ClickHouse computes as
 * lower(hex(SHA256(id))). The ids are random UUIDs, so a key leads back to nobody without the id itself.
 */
export function erasureKey(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
