// Clicks and conversions in ClickHouse (offerfeed.clicks, offerfeed.conversions from migrations/clickhouse):
// the analytics copy written by the interaction exporter, read for a user's export, and erased for GDPR with
// mutations that rewrite the parts holding the user's rows (not a lightweight mask), waiting until done, then
// watched until the parts that held them are gone.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickRecord, ConversionRecord, ErasureVersions } from './interaction-store.ts';
import { readClickHouseApplied, type AppliedMigration } from './migrate.ts';

export interface ClickHouseTarget { database: string; cluster?: string }

const NAME = /^[A-Za-z_][\w-]*$/;
// A row of the user's: its user or click id hashes to one of the keys (erasureKey in interaction-store.ts).
const KEYED = `(lower(hex(SHA256(user_id))) IN {u:Array(String)} OR lower(hex(SHA256(click_id))) IN {c:Array(String)})`;
const CH_TIME = (col: string) => `formatDateTime(${col}, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')`;

export class InteractionHistory {
  private readonly db: string;
  private readonly onCluster: string;
  private readonly host: string;

  constructor(private readonly client: ClickHouseClient, private readonly target: ClickHouseTarget) {
    if (!NAME.test(target.database) || (target.cluster !== undefined && !NAME.test(target.cluster))) throw new Error('ClickHouse database and cluster names must be plain identifiers');
    this.db = `\`${target.database}\``;
    this.onCluster = target.cluster ? `ON CLUSTER \`${target.cluster}\`` : '';
    // On a cluster, parts and mutations are per replica: read every replica's.
    this.host = target.cluster ? 'hostName()' : "''";
  }

  private system(table: string): string {
    return this.target.cluster ? `clusterAllReplicas('${this.target.cluster}', system.${table})` : `system.${table}`;
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

  /** Rows of clicks and conversions whose user or click id hashes to one of the keys (see erasureKey). */
  async countKeys(userKey: string, clickKeys: string[]): Promise<number> {
    const rs = await this.client.query({
      query: `SELECT (SELECT count() FROM ${this.db}.clicks WHERE ${KEYED}) + (SELECT count() FROM ${this.db}.conversions WHERE ${KEYED}) AS n`,
      query_params: { u: [userKey], c: clickKeys }, format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string | number }>())[0]?.n ?? 0);
  }

  /**
   * Erases by key: clicks are deleted and conversions lose user and click id, by mutations that rewrite the parts
   * holding those rows (mutations_sync = 2: returns when every replica has finished). The predicate names keys, not
   * ids, because ClickHouse keeps a mutation's text (system.mutations, a file beside the table's parts). Returns
   * the mutations' versions: parts older than them held the rows until ClickHouse removes them (preErasureParts).
   */
  async eraseKeys(userKey: string, clickKeys: string[]): Promise<ErasureVersions> {
    const params = { u: [userKey], c: clickKeys };
    const settings = { mutations_sync: '2' } as const;
    await this.client.command({ query: `ALTER TABLE ${this.db}.clicks ${this.onCluster} DELETE WHERE ${KEYED}`, query_params: params, clickhouse_settings: settings });
    await this.client.command({
      query: `ALTER TABLE ${this.db}.conversions ${this.onCluster} UPDATE user_id = NULL, click_id = NULL WHERE ${KEYED}`,
      query_params: params, clickhouse_settings: settings,
    });
    const rs = await this.client.query({
      query: `SELECT ${this.host} AS host, table, block_numbers.partition_id AS partitions, block_numbers.number AS numbers
        FROM ${this.system('mutations')} WHERE database = {db:String} AND table IN ('clicks', 'conversions') AND is_done AND position(command, {k:String}) > 0`,
      query_params: { db: this.target.database, k: userKey }, format: 'JSONEachRow',
    });
    const versions: ErasureVersions = {};
    for (const m of await rs.json<{ host: string; table: string; partitions: string[]; numbers: Array<string | number> }>()) {
      const t = (versions[m.table] ??= {});
      m.partitions.forEach((p, i) => { t[`${m.host}|${p}`] = Math.max(t[`${m.host}|${p}`] ?? 0, Number(m.numbers[i])); });
    }
    for (const table of ['clicks', 'conversions']) {
      if (!versions[table]) throw new Error(`the erasure's mutation of ${this.target.database}.${table} is not in system.mutations`);
    }
    return versions;
  }

  /**
   * Every part of clicks and conversions, in any state, and every detached one: what preErasureParts judges. One
   * read serves all open erasures.
   */
  async parts(): Promise<PartsSnapshot> {
    const q = async <T>(query: string) => (await this.client.query({ query, query_params: { db: this.target.database }, format: 'JSONEachRow' })).json<T>();
    const [parts, detached] = await Promise.all([
      q<PartRow>(`SELECT ${this.host} AS host, table, name, partition_id, data_version, if(active, 'active', 'outdated') AS state
        FROM ${this.system('parts')} WHERE database = {db:String} AND table IN ('clicks', 'conversions')`),
      q<DetachedPart>(`SELECT ${this.host} AS host, table, name, partition_id, min_block_number, max_block_number, level
        FROM ${this.system('detached_parts')} WHERE database = {db:String} AND table IN ('clicks', 'conversions')`),
    ]);
    return { parts, detached };
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

interface PartRow { host: string; table: string; name: string; partition_id: string; data_version: string | number; state: string }

export interface PartsSnapshot { parts: PartRow[]; detached: DetachedPart[] }

/**
 * Parts written before an erasure's mutations (data version below theirs), in any state, and detached parts that
 * may be such: until none is left, the erased rows are still on disk. Outdated parts go when ClickHouse's cleanup
 * reaches them (old_parts_lifetime after they were replaced); detached ones only when an operator drops them.
 */
export function preErasureParts(snapshot: PartsSnapshot, versions: ErasureVersions): Array<{ table: string; name: string; state: string }> {
  const before = (host: string, table: string, partition: string | null, version: number | undefined) => {
    const t = versions[table];
    if (!t) return false;
    // A detached part whose name does not say its partition or version may be anything: counted as old.
    if (partition === null || version === undefined) return true;
    const v = t[`${host}|${partition}`] ?? t[`${host}|`];
    return v !== undefined && version < v;
  };
  return [
    ...snapshot.parts.filter((p) => before(p.host, p.table, p.partition_id, Number(p.data_version))).map((p) => ({ table: p.table, name: p.name, state: p.state })),
    ...snapshot.detached.filter((d) => before(d.host, d.table, d.partition_id, detachedVersion(d))).map((d) => ({ table: d.table, name: d.name, state: 'detached' })),
  ];
}

interface DetachedPart {
  host: string; table: string; name: string; partition_id: string | null;
  min_block_number: string | number | null; max_block_number: string | number | null; level: number | null;
}

/** The data version a detached part's name states (<prefix>_<partition>_<min>_<max>_<level>[_<mutation>]), if it does. */
function detachedVersion(d: DetachedPart): number | undefined {
  if (d.partition_id === null || d.min_block_number === null || d.max_block_number === null || d.level === null) return undefined;
  const base = `${d.partition_id}_${d.min_block_number}_${d.max_block_number}_${d.level}`;
  const i = d.name.lastIndexOf(base);
  if (i < 0) return undefined;
  const rest = d.name.slice(i + base.length);
  if (rest === '') return Number(d.min_block_number);
  const m = /^_(\d+)$/.exec(rest);
  return m ? Number(m[1]) : undefined;
}
