// ClickHouse for tests: scripts/run-tests.mjs starts one local server per test run and exports
// CLICKHOUSE_URL; a run against an existing server or cluster sets CLICKHOUSE_URL itself.
import type { TestContext } from 'node:test';
import { chdbPackageName } from '../../engine/history/clickhouse/local-server.ts';

export const CLICKHOUSE_UNAVAILABLE = `ClickHouse not available: set CLICKHOUSE_URL or install ${chdbPackageName()}`;

export function clickhouseUrl(): string | undefined {
  return process.env.CLICKHOUSE_URL || undefined;
}

/**
 * Skips the test when no ClickHouse is configured and returns undefined; `t.skip` does not stop the
 * test function, so callers write `const url = requireClickHouse(t); if (!url) return;`.
 * For a whole suite: `describe(name, { skip: clickhouseUrl() ? false : CLICKHOUSE_UNAVAILABLE }, …)`.
 */
export function requireClickHouse(t: TestContext): string | undefined {
  const url = clickhouseUrl();
  if (!url) t.skip(CLICKHOUSE_UNAVAILABLE);
  return url;
}
