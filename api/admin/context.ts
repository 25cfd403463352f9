// What the admin routes work with: the feed host (scheduler, health, auth, secrets, enrichment, optimizer) and the
// dashboard's read queries. Present as `app.services.admin` when the process runs the feed (`offerfeed serve`,
// `offerfeed up`); without it the admin API is not mounted.
import type { ClickHouseClient } from '@clickhouse/client';
import type { FeedHost } from '../../engine/host/feed-host.ts';
import type { AdminQueries } from '../../engine/store/admin-queries.ts';
import type { NetworkPolicy } from '../../engine/wizard/ssrf.ts';
import type { SampleCache } from './samples.ts';

export interface AdminContext {
  host: FeedHost;
  queries: AdminQueries;
  samples: SampleCache;
  /** History store: admin changes (rollback) are flushed to it at once. */
  clickhouse?: ClickHouseClient;
  /** The wizard's outbound policy (default: OFFERFEED_WIZARD_ALLOW_HOSTS / _CIDRS). */
  wizardPolicy?: NetworkPolicy;
  /** Session cookie flags: Secure unless the admin is served over plain HTTP on purpose. */
  secureCookie: boolean;
}

/** An error the admin API answers with its own status and code (the app's error handler reads these fields). */
export class AdminApiError extends Error {
  constructor(readonly statusCode: number, message: string, readonly publicCode?: string, readonly publicDetails?: Record<string, unknown>) {
    super(message);
    this.name = 'AdminApiError';
  }
}
