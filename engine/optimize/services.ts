// Enrichment and the optimizer as one set of background services for a process that syncs and serves (the
// DuckDB file has one writer process): pass `onCommitted` to every syncConnector call, use `optimizer` and
// `reader` in request handlers, `reviews` and the runner's store in the admin API, and `close()` on shutdown.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../log/logger.ts';
import type { CommitCounts } from '../store/serving-store.ts';
import type { EnrichmentConfig } from '../enrich/config.ts';
import type { ChatProvider } from '../enrich/provider.ts';
import { EnrichmentReader } from '../enrich/reader.ts';
import { ReviewQueue } from '../enrich/review.ts';
import { loadRules, type CompiledRules } from '../enrich/rules.ts';
import { EnrichmentRunner } from '../enrich/runner.ts';
import type { OptimizerSettings } from './config.ts';
import { Optimizer } from './optimizer.ts';

export interface EngineServicesOptions {
  /** The serving store's DuckDB file. */
  path: string;
  /** ClickHouse client with the database set (analytics); optional. */
  clickhouse?: ClickHouseClient;
  logger?: Logger;
  rules?: CompiledRules;
  enrichment?: EnrichmentConfig;
  /** Overrides the provider from the enrichment config; null for none. */
  provider?: ChatProvider | null;
  optimizer?: OptimizerSettings;
  /** Start the optimizer's timers (impression flush, periodic pass). Default true. */
  timers?: boolean;
}

export interface EngineServices {
  runner: EnrichmentRunner;
  reader: EnrichmentReader;
  reviews: ReviewQueue;
  optimizer: Optimizer;
  /** For SyncOptions.onCommitted: queues enrichment and a debounced optimizer pass; returns at once, never throws. */
  onCommitted: (runId: string, counts: CommitCounts) => void;
  close(): Promise<void>;
}

export async function startEngineServices(o: EngineServicesOptions): Promise<EngineServices> {
  const rules = o.rules ?? loadRules();
  const runner = await EnrichmentRunner.open({ path: o.path, rules, config: o.enrichment, provider: o.provider, logger: o.logger });
  const reader = await EnrichmentReader.open(o.path, rules);
  const optimizer = await Optimizer.open({ path: o.path, config: o.optimizer, clickhouse: o.clickhouse, logger: o.logger });
  // Jobs a previous process left unfinished run again (their unchanged offers are skipped).
  void runner.resume().catch((e: Error) => o.logger?.warn({ err: e.message }, 'unfinished enrichment jobs not resumed'));
  if (o.timers !== false) optimizer.start();
  const onCommitted = (runId: string, counts: CommitCounts): void => {
    for (const hook of [runner.onCommitted, optimizer.onCommitted]) {
      try { hook(runId, counts); } catch (e) { o.logger?.error({ run_id: runId, err: (e as Error).message }, 'post-commit hook failed'); }
    }
  };
  return {
    runner, reader, reviews: new ReviewQueue(runner.enrichmentStore), optimizer, onCommitted,
    async close() {
      await optimizer.close();
      await runner.close();
      reader.close();
    },
  };
}
