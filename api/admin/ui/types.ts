// The admin API's shapes (the UI's side of the contract in ADMIN_API.md, as the API actually answers).

export type Role = 'admin' | 'viewer';
export interface Me { user: string; role: Role; via: 'session' | 'token' }

export interface Counts4 { live: number; expired: number; inactive: number; hidden: number }

export interface Alert {
  id?: number;
  key: string;
  connector: string | null;
  kind: string;
  severity: string;
  message: string;
  details?: unknown;
  first_seen_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  resolved_by?: string | null;
}

export interface LastRun {
  id: string;
  status: RunStatus;
  mode: RunMode;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error?: string | null;
}

export interface Overview {
  totals: Counts4;
  networks: Array<Counts4 & { network: string; name: string; last_run: LastRun | null }>;
  errors_24h: number;
  last_sync: { id: string; network: string; status: RunStatus; finished_at: string | null } | null;
  alerts: Alert[];
}

export interface OffersChart { days: string[]; series: Array<{ network: string; live: number[] }> }
export interface RunsChart { runs: Array<{ id: string; network: string; status: RunStatus; started_at: string; duration_ms: number | null }> }

export type NetworkState = 'scheduled' | 'queued' | 'running' | 'paused' | 'breaker_open' | 'unconfigured' | 'retired' | 'invalid' | 'needs_reauth';

export interface Progress { pages: number; records: number; offers: number; quarantined: number; filtered: number; api_calls: number }

export interface Job {
  jobId: string;
  trigger: string;
  full: boolean;
  state: 'queued' | 'running';
  runId?: string;
  started_at?: string;
  progress?: Progress;
}

export interface NetworkStatus {
  network: string;
  name: string;
  state: NetworkState;
  problem: string | null;
  schedule: { cron?: string; intervalMs?: number; text?: string; source: 'override' | 'spec' | 'default' | string } | null;
  next_run_at: string | null;
  next_reason?: 'schedule' | 'backoff' | 'breaker_trial' | null;
  paused: boolean;
  paused_reason: string | null;
  job: Job | null;
  breaker: { state: 'closed' | 'open' | 'half_open'; consecutive_failures: number; retry_at: string | null; openings?: number };
  last_success_at: string | null;
  last_status?: string | null;
  last_error?: string | null;
  staleness_s: number | null;
  runs_24h: number;
  failed_24h: number;
  error_rate_24h: number;
  throttled_24h: number;
  offers: Counts4;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'rolled_back' | 'skipped';
export type RunMode = 'full' | 'incremental' | 'partial';

export interface Run {
  id: string;
  /** Runs in a network's list carry `connector`; a single run carries both. */
  connector: string;
  network?: string;
  mode: RunMode;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  counts: Record<string, number>;
  complete?: boolean;
  warnings?: string[];
  /** Only on GET /runs/:id: whether this is the connector's latest committed run. */
  can_rollback?: boolean;
}

export interface NetworkDetail { status: NetworkStatus; runs: Run[]; alerts: Alert[] }

export interface Page<T> { total: number; items: T[] }

export interface ApiCall {
  at: string;
  stream?: string | null;
  partition?: string | null;
  purpose?: string;
  outcome?: string;
  method: string;
  url: string;
  status: number | null;
  duration_ms: number | null;
  bytes: number | null;
  attempt: number;
  error: string | null;
}

export interface Reason { field: string; rule: string; message: string; value?: unknown }
export interface QuarantineItem { external_id: string | null; stream: string; partition?: string | null; page?: number | null; reasons: Reason[]; record: unknown; at?: string }
/** The start of a response body that broke a failed run (secrets removed by the engine). */
export interface ErrorPayload {
  url: string; stream: string | null; page: number | null; attempt: number; status: number | null; content_type: string | null; error: string;
  bytes: number; kept_bytes: number; truncated: boolean; encoding: 'text' | 'base64'; decompressed: boolean; payload: string;
}

export interface AuditEntry {
  id: string | number;
  occurred_at: string;
  actor: string;
  actor_kind: string;
  role: string;
  action: string;
  target: string | null;
  result: string;
  details: unknown;
}

export type OfferStatus = 'active' | 'inactive' | 'expired' | 'hidden';
export type OfferKind = 'product' | 'coupon' | 'deal' | 'program';

export interface OfferRow {
  key: string;
  network: string;
  external_id: string;
  kind: OfferKind;
  title: string;
  merchant_name: string | null;
  price: number | null;
  sale_price: number | null;
  currency: string | null;
  url: string | null;
  status: OfferStatus;
  status_reason?: string | null;
  pinned: boolean;
  first_seen: string;
  last_seen: string;
  last_changed: string;
  version: number;
  tags: string[] | null;
  languages: string[] | null;
}

export interface OfferHistoryEntry {
  run_id: string | null;
  /** insert, update, deactivate, expire, reactivate, rollback, hide, … */
  op: string;
  at: string;
  run_mode: string | null;
  prev_status: string | null;
  prev_version: number | null;
  changed_fields: string[];
  /** The offer's canonical data before this change (null for the first version). */
  before: Record<string, unknown> | null;
}

export interface Decision { id: number; offer_id: string; network: string; action: string; reason: string; actor: string; details: Record<string, unknown> | null; decided_at: string }

export interface OfferEnrichment {
  languages?: string[];
  countries?: string[];
  categories?: Array<{ id: string; path: string }>;
  tags?: string[];
  copy?: { summary?: string; urgency_line?: string | null; cta?: string; language?: string; source?: string; machine_generated?: boolean } | null;
  translations?: Record<string, { title?: string; summary?: string | null }>;
  enriched_at?: string;
}

export interface OfferDetail {
  offer: OfferRow & {
    /** The canonical offer as the connector mapped it. */
    data: Record<string, unknown>;
    promoted?: boolean;
    group_key?: string | null;
    last_run_id?: string | null;
  };
  history: OfferHistoryEntry[];
  decisions: Decision[];
  enrichment: OfferEnrichment | null;
}

export interface EnrichmentJob {
  id: string; run_id: string | null; source: string; status: string;
  offers: number; enriched: number; cached: number; failed: number;
  ai_requests: number; tokens_in: number; tokens_out: number; cost: number; cost_currency: string | null;
  reviews_queued: number; error: string | null; queued_at: string; started_at?: string | null; finished_at?: string | null; duration_ms: number | null;
}

export interface EnrichmentStatus {
  status: { queued: number; running: string[]; finished: number; failed: number };
  provider: { model: string } | null;
  reviews: Record<string, number>;
  recent: EnrichmentJob[];
}

export type ReviewStatus = 'pending' | 'approved' | 'edited' | 'rejected' | 'superseded';

export interface ReviewItem {
  id: number;
  offer_id: string;
  kind: 'copy' | 'translation';
  lang: string;
  /** copy: { summary, urgency_line, cta, … }; translation: { title, summary }. */
  proposed: Record<string, unknown>;
  final?: Record<string, unknown> | null;
  confidence?: number | null;
  reason?: string;
  model?: string | null;
  status: ReviewStatus;
  decided_by?: string | null;
  decided_at?: string | null;
  note?: string | null;
  created_at: string;
  offer_title?: string | null;
}

export interface ReviewList { counts: Record<string, number>; items: ReviewItem[] }

// ---- wizard ----

export type WizardAuth =
  | { type: 'none' }
  | { type: 'api_key'; in: 'header' | 'query'; name: string; value: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'oauth2'; token_url: string; client_id: string; client_secret: string; scopes?: string[] };

export type PaginationType = 'none' | 'page_number' | 'offset' | 'cursor' | 'next_url' | 'link_header';

export interface Pagination {
  type: PaginationType;
  page_param?: string;
  start?: number;
  offset_param?: string;
  size_param?: string;
  page_size?: number;
  cursor_param?: string;
  cursor?: string;
  next_url?: string;
  link_rel?: string;
  max_pages?: number;
}

export interface WizardDraft {
  id: string;
  name: string;
  base_url: string;
  auth: WizardAuth;
  request: { method?: 'GET' | 'POST'; path: string; query?: Record<string, string>; headers?: Record<string, string> };
  pagination?: Pagination;
  decoder?: Record<string, unknown>;
  records?: string;
  map?: string;
  stream?: { kind?: OfferKind };
  schedule?: { interval?: string };
}

export interface SampleField { path: string; types?: string[]; type?: string; presence?: number; unique?: boolean; examples: unknown[] }

export interface SampleResult {
  sample_id: string;
  status: number | null;
  url: string | null;
  headers: Record<string, string | string[]>;
  bytes: number;
  text: string;
  ok?: boolean;
  redirects?: string[];
  detection: {
    format: string; decoder: Record<string, unknown>; records: string | null; count: number; fields: SampleField[];
    alternatives?: Array<{ records: string; count: number }>;
  } | null;
  detection_error?: string | null;
  proposal: {
    map: string;
    kind?: OfferKind;
    fields: Array<{ target?: string; field?: string; expr: string; source: string; confidence: 'high' | 'medium' | 'low' | number; reason?: string }>;
    unmapped?: string[];
    missing?: string[];
  } | null;
}

export interface PreviewResult {
  records: number;
  offers: Array<Record<string, unknown>>;
  offers_total: number;
  errors: Array<{ index: number; external_id?: string | null; reasons: Reason[]; record?: unknown }>;
  errors_total?: number;
  filtered: number;
  duplicates: string[];
  truncated: boolean;
}

export interface SaveResult {
  id: string;
  files: string[];
  yaml: string;
  offers: number;
  quarantined: number;
  secrets: string[];
  contract?: { ok: boolean; passes: Array<{ name: string; offers: number; problems: string[] }> } | null;
  job: { jobId: string } | null;
}

// ---- live events ----

export interface SyncEvent {
  connector: string;
  jobId: string;
  runId?: string;
  trigger?: string;
  full?: boolean;
  actor?: string;
  progress?: Progress;
  status?: RunStatus;
  counts?: Record<string, number>;
  error?: string | null;
  duration_ms?: number;
}
