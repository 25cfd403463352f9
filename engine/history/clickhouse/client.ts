// The ClickHouse connection every part uses: CLICKHOUSE_URL (+ CLICKHOUSE_USER / CLICKHOUSE_PASSWORD) for any
// server or cluster, else the local server started by `offerfeed clickhouse start` for this data directory.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { localClickHouseStatus } from './local-server.ts';

export interface ClickHouseSettings { url: string; username?: string; password?: string; database: string; cluster?: string }

export async function clickhouseSettings(dataDir: string): Promise<ClickHouseSettings | undefined> {
  const database = process.env.CLICKHOUSE_DATABASE ?? 'offerfeed';
  const cluster = process.env.CLICKHOUSE_CLUSTER || undefined;
  if (process.env.CLICKHOUSE_URL) {
    return { url: process.env.CLICKHOUSE_URL, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD, database, cluster };
  }
  const local = await localClickHouseStatus(dataDir);
  return local.running && local.url ? { url: local.url, database, cluster } : undefined;
}

export function clickhouseClient(s: ClickHouseSettings, opts: { database?: boolean } = {}): ClickHouseClient {
  return createClient({
    url: s.url,
    username: s.username,
    password: s.password,
    database: opts.database === false ? undefined : s.database,
    request_timeout: 60_000,
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}
