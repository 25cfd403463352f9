// Clicks and conversions in ClickHouse (offerfeed.clicks, offerfeed.conversions from migrations/clickhouse):
// the analytics copy written by the interaction exporter, read for a user's export, and erased for GDPR with
// mutations that rewrite the parts holding the user's rows (not a lightweight mask), waiting until done.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickRecord, ConversionRecord } from './interaction-store.ts';
import { readClickHouseApplied, type AppliedMigration } from './migrate.ts';

export interface ClickHouseTarget { database: string; cluster?: string }

const NAME = /^[A-Za-z_][\w-]*$/;
const CH_TIME = (col: string) => `formatDateTime(${col}, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')`;

export class InteractionHistory {
  private readonly db: string;
  private readonly onCluster: string;

  constructor(private readonly client: ClickHouseClient, private readonly target: ClickHouseTarget) {
    if (!NAME.test(target.database) || (target.cluster !== undefined && !NAME.test(target.cluster))) throw new Error('ClickHouse database and cluster names must be plain identifiers');
    this.db = `\`${target.database}\``;
    this.onCluster = target.cluster ? `ON CLUSTER \`${target.cluster}\`` : '';
  }

  /** Inserts with a deduplication token: a batch retried after a lost acknowledgement is stored once. */
  async insertClicks(rows: ClickRecord[], token: string): Promise<void> {
    if (!rows.length) return;
    await this.client.insert({
      table: `${this.db}.clicks`, format: 'JSONEachRow',
      values: rows.map((r) => ({ click_id: r.click_id, offer_id: r.offer_id, network: r.network, user_id: r.user_id ?? '', consent: r.consent, referrer: r.referrer, country: r.country, clicked_at: r.clicked_at })),
      clickhouse_settings: { insert_deduplication_token: token, insert_deduplicate: 1, async_insert: 0 },
    });
  }

  async insertConversions(rows: ConversionRecord[], token: string): Promise<void> {
    if (!rows.length) return;
    await this.client.insert({
      table: `${this.db}.conversions`, format: 'JSONEachRow', values: rows,
      clickhouse_settings: { insert_deduplication_token: token, insert_deduplicate: 1, async_insert: 0 },
    });
  }

  async userData(userId: string): Promise<{ clicks: ClickRecord[]; conversions: ConversionRecord[] }> {
    const q = async <T>(query: string) => (await this.client.query({ query, query_params: { u: userId }, format: 'JSONEachRow' })).json<T>();
    const clicks = await q<ClickRecord>(`SELECT click_id, offer_id, network, user_id, consent, referrer, country, ${CH_TIME('clicked_at')} AS clicked_at
      FROM ${this.db}.clicks WHERE user_id = {u:String} ORDER BY clicked_at`);
    // FINAL: a conversion updated by a later postback is one row, its latest.
    const conversions = await q<ConversionRecord>(`SELECT network, transaction_id, click_id, offer_id, user_id, amount, commission, currency, status,
        ${CH_TIME('converted_at')} AS converted_at, ${CH_TIME('received_at')} AS received_at
      FROM ${this.db}.conversions FINAL WHERE user_id = {u:String} ORDER BY converted_at`);
    return { clicks, conversions };
  }

  /**
   * Erases a user: their clicks are deleted and their conversions lose user and click id, by mutations that
   * rewrite the affected parts; mutations_sync = 2 returns only when every replica has finished.
   */
  async eraseUser(userId: string, clickIds: string[]): Promise<void> {
    const settings = { mutations_sync: '2' } as const;
    await this.client.command({ query: `ALTER TABLE ${this.db}.clicks ${this.onCluster} DELETE WHERE user_id = {u:String}`, query_params: { u: userId }, clickhouse_settings: settings });
    await this.client.command({
      query: `ALTER TABLE ${this.db}.conversions ${this.onCluster} UPDATE user_id = NULL, click_id = NULL WHERE user_id = {u:String} OR has({ids:Array(String)}, click_id)`,
      query_params: { u: userId, ids: clickIds }, clickhouse_settings: settings,
    });
  }

  /** Rows in ClickHouse that still mention the user or one of the click ids (erasure checks). */
  async rowsMentioning(userId: string, clickIds: string[]): Promise<number> {
    const rs = await this.client.query({
      query: `SELECT (SELECT count() FROM ${this.db}.clicks WHERE user_id = {u:String} OR has({ids:Array(String)}, click_id))
        + (SELECT count() FROM ${this.db}.conversions WHERE user_id = {u:String} OR has({ids:Array(String)}, click_id)) AS n`,
      query_params: { u: userId, ids: clickIds }, format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: string | number }>();
    return Number(row?.n ?? 0);
  }

  async clickCount(clickId: string): Promise<number> {
    const rs = await this.client.query({ query: `SELECT count() AS n FROM ${this.db}.clicks WHERE click_id = {c:String}`, query_params: { c: clickId }, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  }

  /** Conversions of a network and transaction as ClickHouse counts them (FINAL: one per transaction). */
  async conversionCount(network: string, transactionId: string): Promise<number> {
    const rs = await this.client.query({
      query: `SELECT count() AS n FROM ${this.db}.conversions FINAL WHERE network = {n:String} AND transaction_id = {t:String}`,
      query_params: { n: network, t: transactionId }, format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
  }

  async ping(): Promise<boolean> {
    return (await this.client.ping()).success;
  }

  async appliedMigrations(): Promise<AppliedMigration[]> {
    return readClickHouseApplied(this.client, this.target);
  }
}
