// Reads the admin dashboard needs from the serving store: offer counts per network and status, offers over time,
// run durations, one run's API-call log and quarantined records, and a searchable list of every offer (any status)
// with its change history. Read-only, on its own connection; filters are bound parameters and sorting comes from a
// fixed list, so nothing a client sends becomes SQL text.
import { all, type Params } from './duckdb.ts';
import { RUN_COLUMNS, toRun, type SyncRunRow } from './offer-queries.ts';
import { SerialConnection } from './serial-connection.ts';
import { isoTs, sqlTs } from './side-connection.ts';

export const OFFER_STATUSES = ['active', 'inactive', 'expired', 'hidden'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];
export type StatusCounts = Record<OfferStatus, number>;

export const OFFER_SORTS = {
  last_changed: 'last_changed_at DESC, id',
  first_seen: 'first_seen_at DESC, id',
  title: 'title, id',
  price: 'coalesce(sale_price, price) NULLS LAST, id',
  network: 'network, external_id',
} as const;
export type OfferSort = keyof typeof OFFER_SORTS;

export interface OfferFilter {
  q?: string;
  network?: string;
  status?: OfferStatus;
  kind?: string;
  sort?: OfferSort;
  limit: number;
  offset: number;
}

export interface AdminOfferRow {
  key: string;
  network: string;
  external_id: string;
  kind: string;
  title: string;
  merchant_name: string | null;
  price: number | null;
  sale_price: number | null;
  currency: string | null;
  url: string;
  status: string;
  status_reason: string | null;
  first_seen: string;
  last_seen: string;
  last_changed: string;
  version: number;
  tags: string[];
  languages: string[];
}

export interface OfferHistoryEntry {
  run_id: string;
  op: string;
  at: string;
  /** The run's connector and mode, or 'admin'/'rollback' for changes made outside a sync. */
  run_mode: string | null;
  prev_status: string | null;
  prev_version: number | null;
  /** Fields whose value differs from the next state (the version after this change's predecessor). */
  changed_fields: string[];
  before: Record<string, unknown> | null;
}

export interface ApiCallRow {
  at: string; stream: string | null; partition: string | null; purpose: string; method: string; url: string;
  status: number | null; bytes: number; duration_ms: number; attempt: number; outcome: string; error: string | null;
}

export interface QuarantineRow {
  stream: string; partition: string | null; page: number | null; external_id: string | null;
  reasons: unknown; record: unknown; at: string;
}

const emptyCounts = (): StatusCounts => ({ active: 0, inactive: 0, expired: 0, hidden: 0 });
const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v ?? null);
const TS = (col: string) => `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%g')`;

export class AdminQueries {
  private constructor(private readonly conn: SerialConnection) {}

  static async open(path: string): Promise<AdminQueries> {
    return new AdminQueries(await SerialConnection.open(path));
  }

  close(): Promise<void> { return this.conn.close(); }

  private rows<T>(sql: string, params?: Params): Promise<T[]> {
    return this.conn.use((c) => all<T>(c, sql, params));
  }

  /** Offer counts by status, per network and in total. */
  async statusCounts(): Promise<{ totals: StatusCounts; networks: Map<string, StatusCounts> }> {
    const rows = await this.rows<{ network: string; status: string; n: number }>('SELECT network, status, count(*)::INTEGER AS n FROM offers GROUP BY ALL');
    const totals = emptyCounts();
    const networks = new Map<string, StatusCounts>();
    for (const r of rows) {
      const s = r.status as OfferStatus;
      if (!(s in totals)) continue;
      totals[s] += Number(r.n);
      const c = networks.get(r.network) ?? emptyCounts();
      c[s] += Number(r.n);
      networks.set(r.network, c);
    }
    return { totals, networks };
  }

  /** Failed runs, and API calls that failed for good (retried and throttled attempts are not errors), since `since`. */
  async errorsSince(since: Date): Promise<{ failed_runs: number; failed_calls: number }> {
    const [r] = await this.rows<{ runs: number; calls: number }>(`SELECT
      (SELECT count(*) FROM sync_runs WHERE status = 'failed' AND started_at >= $s::TIMESTAMP)::INTEGER AS runs,
      (SELECT count(*) FROM api_calls WHERE outcome IN ('fail', 'error') AND started_at >= $s::TIMESTAMP)::INTEGER AS calls`, { s: sqlTs(since) });
    return { failed_runs: Number(r.runs), failed_calls: Number(r.calls) };
  }

  /** Per connector over the last `since`: runs, failed runs, and upstream throttling (HTTP 429 answers). */
  async runStats(since: Date): Promise<Map<string, { runs: number; failed: number; throttled: number }>> {
    const runs = await this.rows<{ connector: string; runs: number; failed: number }>(`SELECT connector, count(*)::INTEGER AS runs,
      count(*) FILTER (WHERE status = 'failed')::INTEGER AS failed FROM sync_runs WHERE started_at >= $s::TIMESTAMP GROUP BY connector`, { s: sqlTs(since) });
    const throttled = await this.rows<{ connector: string; n: number }>(`SELECT connector, count(*)::INTEGER AS n FROM api_calls
      WHERE status = 429 AND started_at >= $s::TIMESTAMP GROUP BY connector`, { s: sqlTs(since) });
    const out = new Map<string, { runs: number; failed: number; throttled: number }>();
    for (const r of runs) out.set(r.connector, { runs: Number(r.runs), failed: Number(r.failed), throttled: 0 });
    for (const t of throttled) {
      const e = out.get(t.connector) ?? { runs: 0, failed: 0, throttled: 0 };
      e.throttled = Number(t.n);
      out.set(t.connector, e);
    }
    return out;
  }

  /**
   * Offers live per network at the end of each of the last `days` days: an offer counts on a day when it was first
   * seen by then and was still being seen (or is still active) that day.
   */
  async offersOverTime(days: number, now = new Date()): Promise<{ days: string[]; series: Array<{ network: string; live: number[] }> }> {
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const start = new Date(end.getTime() - (days - 1) * 86_400_000);
    const rows = await this.rows<{ day: string; network: string; n: number }>(`
      WITH d AS (SELECT unnest(generate_series($start::DATE, $end::DATE, INTERVAL 1 DAY))::DATE AS day)
      SELECT strftime(d.day, '%Y-%m-%d') AS day, o.network, count(*)::INTEGER AS n
      FROM d JOIN offers o ON o.first_seen_at < d.day + INTERVAL 1 DAY
        AND (o.status = 'active' OR o.last_seen_at >= d.day)
        AND (o.expires_at IS NULL OR o.expires_at >= d.day)
      GROUP BY ALL ORDER BY 1, 2`, { start: sqlTs(start).slice(0, 10), end: sqlTs(end).slice(0, 10) });
    const labels = Array.from({ length: days }, (_, i) => new Date(start.getTime() + i * 86_400_000).toISOString().slice(0, 10));
    const byNetwork = new Map<string, number[]>();
    for (const r of rows) {
      const series = byNetwork.get(r.network) ?? new Array<number>(days).fill(0);
      const i = labels.indexOf(r.day);
      if (i >= 0) series[i] = Number(r.n);
      byNetwork.set(r.network, series);
    }
    return { days: labels, series: [...byNetwork].sort(([a], [b]) => a.localeCompare(b)).map(([network, live]) => ({ network, live })) };
  }

  /** Runs started since `since`, oldest first (run-duration chart). */
  async runsSince(since: Date, limit = 2000): Promise<SyncRunRow[]> {
    const rows = await this.rows<Record<string, unknown>>(`SELECT * FROM (SELECT ${RUN_COLUMNS} FROM sync_runs WHERE started_at >= $s::TIMESTAMP
      ORDER BY started_at DESC LIMIT $n) ORDER BY started_at`, { s: sqlTs(since), n: limit });
    return rows.map(toRun);
  }

  async run(id: string): Promise<(SyncRunRow & { error: string | null; warnings: unknown }) | undefined> {
    const [r] = await this.rows<Record<string, unknown>>(`SELECT ${RUN_COLUMNS}, error, warnings::VARCHAR AS warnings FROM sync_runs WHERE id = $id`, { id });
    return r ? { ...toRun(r), error: (r.error as string | null) ?? null, warnings: parse(r.warnings) } : undefined;
  }

  async runs(connector: string, limit: number): Promise<Array<SyncRunRow & { error: string | null }>> {
    const rows = await this.rows<Record<string, unknown>>(`SELECT ${RUN_COLUMNS}, error FROM sync_runs WHERE connector = $c
      ORDER BY started_at DESC, id DESC LIMIT $n`, { c: connector, n: limit });
    return rows.map((r) => ({ ...toRun(r), error: (r.error as string | null) ?? null }));
  }

  /** The newest run of a connector that committed changes (the only one a rollback may undo). */
  async latestCommittedRun(connector: string): Promise<string | undefined> {
    const [r] = await this.rows<{ id: string }>(`SELECT id FROM sync_runs WHERE connector = $c AND status = 'succeeded'
      ORDER BY finished_at DESC LIMIT 1`, { c: connector });
    return r?.id;
  }

  async apiCalls(runId: string, limit: number, offset: number): Promise<{ total: number; items: ApiCallRow[] }> {
    const [t] = await this.rows<{ n: number }>('SELECT count(*)::INTEGER AS n FROM api_calls WHERE run_id = $r', { r: runId });
    const items = await this.rows<ApiCallRow>(`SELECT ${TS('started_at')} AS at, stream, partition, purpose, method, url, status, bytes::DOUBLE AS bytes,
      duration_ms, attempt, outcome, error FROM api_calls WHERE run_id = $r ORDER BY started_at, attempt LIMIT $n OFFSET $o`, { r: runId, n: limit, o: offset });
    return { total: Number(t.n), items: items.map((i) => ({ ...i, at: isoTs(i.at)!, bytes: Number(i.bytes) })) };
  }

  async quarantine(runId: string, limit: number, offset: number): Promise<{ total: number; items: QuarantineRow[] }> {
    const [t] = await this.rows<{ n: number }>('SELECT count(*)::INTEGER AS n FROM quarantine WHERE run_id = $r', { r: runId });
    const items = await this.rows<Record<string, unknown>>(`SELECT stream, partition, page, external_id, reasons::VARCHAR AS reasons, record::VARCHAR AS record,
      ${TS('created_at')} AS at FROM quarantine WHERE run_id = $r ORDER BY page, external_id LIMIT $n OFFSET $o`, { r: runId, n: limit, o: offset });
    return {
      total: Number(t.n),
      items: items.map((i) => ({
        stream: String(i.stream), partition: (i.partition as string | null) ?? null, page: i.page === null ? null : Number(i.page),
        external_id: (i.external_id as string | null) ?? null, reasons: parse(i.reasons), record: parse(i.record), at: isoTs(i.at as string)!,
      })),
    };
  }

  /** Every offer, any status, filtered and paged. `q` matches title, merchant and external id (case-insensitive substring). */
  async offers(f: OfferFilter): Promise<{ total: number; items: AdminOfferRow[] }> {
    const where: string[] = [];
    const p: Record<string, string | number> = {};
    if (f.network) { where.push('network = $network'); p.network = f.network; }
    if (f.status) { where.push('status = $status'); p.status = f.status; }
    if (f.kind) { where.push('kind = $kind'); p.kind = f.kind; }
    if (f.q) {
      where.push(`(title ILIKE $q ESCAPE '\\' OR merchant_name ILIKE $q ESCAPE '\\' OR external_id ILIKE $q ESCAPE '\\')`);
      p.q = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [t] = await this.rows<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM offers ${clause}`, p);
    const rows = await this.rows<Record<string, unknown>>(`SELECT id AS key, network, external_id, kind, title, merchant_name, price, sale_price, currency, url,
      status, status_reason, ${TS('first_seen_at')} AS first_seen, ${TS('last_seen_at')} AS last_seen, ${TS('last_changed_at')} AS last_changed, version,
      to_json(coalesce(tags, [])::VARCHAR[])::VARCHAR AS tags, to_json(coalesce(languages, [])::VARCHAR[])::VARCHAR AS languages
      FROM offers ${clause} ORDER BY ${OFFER_SORTS[f.sort ?? 'last_changed']} LIMIT $limit OFFSET $offset`, { ...p, limit: f.limit, offset: f.offset });
    return { total: Number(t.n), items: rows.map(toOfferRow) };
  }

  /** One offer with its canonical data and every recorded change, newest first. */
  async offer(key: string): Promise<{ offer: AdminOfferRow & { data: Record<string, unknown>; group_key: string; last_run_id: string }; history: OfferHistoryEntry[] } | undefined> {
    const [r] = await this.rows<Record<string, unknown>>(`SELECT id AS key, network, external_id, kind, title, merchant_name, price, sale_price, currency, url,
      status, status_reason, ${TS('first_seen_at')} AS first_seen, ${TS('last_seen_at')} AS last_seen, ${TS('last_changed_at')} AS last_changed, version,
      to_json(coalesce(tags, [])::VARCHAR[])::VARCHAR AS tags, to_json(coalesce(languages, [])::VARCHAR[])::VARCHAR AS languages,
      data::VARCHAR AS data, group_key, last_run_id FROM offers WHERE id = $k`, { k: key });
    if (!r) return undefined;
    const changes = await this.rows<Record<string, unknown>>(`SELECT c.run_id, c.op, ${TS('c.changed_at')} AS at, s.mode AS run_mode, c.prev_status,
      c.prev_version, c.prev_data::VARCHAR AS prev_data FROM offer_changes c LEFT JOIN sync_runs s ON s.id = c.run_id
      WHERE c.offer_id = $k ORDER BY c.changed_at DESC, c.prev_version DESC NULLS LAST LIMIT 200`, { k: key });
    const current = parse(r.data) as Record<string, unknown>;
    // Walking from the newest change back: each change turned its prev_data into the state after it.
    let after: Record<string, unknown> | null = current;
    const history = changes.map((c): OfferHistoryEntry => {
      const before = c.prev_data === null ? null : (parse(c.prev_data) as Record<string, unknown>);
      const entry: OfferHistoryEntry = {
        run_id: String(c.run_id), op: String(c.op), at: isoTs(c.at as string)!, run_mode: (c.run_mode as string | null) ?? null,
        prev_status: (c.prev_status as string | null) ?? null, prev_version: c.prev_version === null ? null : Number(c.prev_version),
        changed_fields: diffFields(before, after), before,
      };
      if (before) after = before;
      return entry;
    });
    return { offer: { ...toOfferRow(r), data: current, group_key: String(r.group_key), last_run_id: String(r.last_run_id) }, history };
  }
}

function toOfferRow(r: Record<string, unknown>): AdminOfferRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    key: String(r.key), network: String(r.network), external_id: String(r.external_id), kind: String(r.kind), title: String(r.title),
    merchant_name: (r.merchant_name as string | null) ?? null, price: num(r.price), sale_price: num(r.sale_price), currency: (r.currency as string | null) ?? null,
    url: String(r.url), status: String(r.status), status_reason: (r.status_reason as string | null) ?? null,
    first_seen: isoTs(r.first_seen as string)!, last_seen: isoTs(r.last_seen as string)!, last_changed: isoTs(r.last_changed as string)!,
    version: Number(r.version), tags: parse(r.tags) as string[], languages: parse(r.languages) as string[],
  };
}

function diffFields(before: Record<string, unknown> | null, after: Record<string, unknown> | null): string[] {
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}
