/* Generated from schema/connector.schema.json by scripts/gen-types.ts; do not edit. Run `npm run gen:types`. */

/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Auth".
 */
export type Auth = AuthNone | AuthApiKey | AuthBasic | AuthBearer | AuthOAuth2 | AuthSigV4 | AuthSignature;
/**
 * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Template".
 */
export type Template = string;
/**
 * Milliseconds as a number, or a string such as '500ms', '30s', '5m', '1h', '2d', or ISO 8601 (PT1H).
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Duration".
 */
export type Duration = number | string;
/**
 * A JSONata expression.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Expression".
 */
export type Expression = string;

/**
 * An OfferFeed connector: one network described declaratively (DSL version 1). Strings may contain {{ JSONata }} templates; fields typed as Expression are plain JSONata.
 */
export interface ConnectorSpec {
  /**
   * DSL version this spec is written in.
   */
  dsl: 1;
  /**
   * Connector id, equal to its folder name.
   */
  id: string;
  name: string;
  docs_url?: string;
  kind: 'affiliate-network' | 'marketplace' | 'retailer' | 'feed';
  /**
   * Lifecycle of the platform. A retired or deprecated connector still runs where a host speaks its API, and warns with `notice`.
   */
  status?: 'active' | 'beta' | 'deprecated' | 'retired';
  /**
   * Connector id that replaces this one (for retired platforms).
   */
  successor?: string;
  /**
   * Message shown to users and logged as a warning on every run (closure, migration path).
   */
  notice?: string;
  description?: string;
  config?: ConfigSchema;
  /**
   * Scheme and host (and optional path prefix) of the API; templated from config.
   */
  base_url: string;
  auth?: Auth;
  headers?: TemplateMap3;
  rate_limit?: RateLimit;
  retry?: Retry;
  timeouts?: Timeouts;
  response_rules?: ResponseRule[];
  schedule?: {
    cron?: string;
    interval?: Duration;
  };
  /**
   * @minItems 1
   */
  streams: [Stream, ...Stream[]];
  /**
   * IANA time zone (e.g. America/Chicago) of dates the API sends without a zone; default UTC.
   */
  timezone?: string;
  /**
   * When a run's data is too broken to trust: above these limits the run fails and the previous serving data stays live.
   */
  quality?: {
    /**
     * Largest share of records that may be quarantined.
     */
    max_quarantine_rate?: number;
    /**
     * The rate is only judged from this many records on (small samples vary too much).
     */
    min_records?: number;
  };
}
/**
 * JSON Schema of the connector's credentials and settings. Secret properties carry x-secret: true.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "ConfigSchema".
 */
export interface ConfigSchema {
  type: 'object';
  required?: string[];
  properties: {
    [k: string]: ConfigProperty;
  };
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "ConfigProperty".
 */
export interface ConfigProperty {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  items?: {};
  examples?: unknown[];
  'x-secret'?: boolean;
  'x-docs-url'?: string;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthNone".
 */
export interface AuthNone {
  type: 'none';
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthApiKey".
 */
export interface AuthApiKey {
  type: 'api_key';
  in: 'header' | 'query';
  name: string;
  value: Template;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthBasic".
 */
export interface AuthBasic {
  type: 'basic';
  username: Template;
  password?: Template;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthBearer".
 */
export interface AuthBearer {
  type: 'bearer';
  token: Template;
  header?: string;
  prefix?: string;
}
/**
 * OAuth2 token grant (client credentials by default). The token is cached until it expires and refreshed once, shared by all requests, on 401 or a refresh_token response rule.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthOAuth2".
 */
export interface AuthOAuth2 {
  type: 'oauth2';
  token_url: Template;
  grant_type?: string;
  client_id?: Template;
  client_secret?: Template;
  scopes?: string[] | Template;
  /**
   * header: HTTP Basic with client_id:client_secret; body: client_id and client_secret form fields.
   */
  client_auth?: 'body' | 'header';
  /**
   * Token request body: form or json, or a template choosing one (e.g. by credential version).
   */
  body_format?: ('form' | 'json') | Template;
  params?: TemplateMap;
  headers?: TemplateMap1;
  /**
   * A JSONata expression.
   */
  token_path?: string;
  /**
   * A JSONata expression.
   */
  expires_in_path?: string;
  /**
   * Seconds, when the token response has no lifetime.
   */
  default_expires_in?: number;
  header?: string;
  prefix?: string;
  /**
   * Renew this long before expiry (default 60s).
   */
  refresh_margin?: number | string;
  /**
   * JSONata over the token response giving an absolute expiry (epoch seconds or milliseconds, or an ISO date), for APIs that send one instead of expires_in.
   */
  expires_at_path?: string;
  /**
   * Where requests carry the token: a header (header + prefix) or a query parameter (token_param).
   */
  token_in?: 'header' | 'query';
  token_param?: string;
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  header_value?: string;
}
/**
 * Extra token request body fields (username, password, scope …).
 */
export interface TemplateMap {
  [k: string]: string | number | boolean | null;
}
/**
 * Extra token request headers.
 */
export interface TemplateMap1 {
  [k: string]: string | number | boolean | null;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthSigV4".
 */
export interface AuthSigV4 {
  type: 'aws_sigv4';
  access_key_id: Template;
  secret_access_key: Template;
  session_token?: Template;
  region: Template;
  service: Template;
  content_sha256_header?: boolean;
}
/**
 * Declarative request signature: a string-to-sign template over $sign (date, nonce), $request (method, path, query, body) and $config; hashed or HMAC'd and placed in headers and/or query parameters through templates using $sign.signature.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "AuthSignature".
 */
export interface AuthSignature {
  type: 'signature';
  algorithm: 'sha1' | 'sha256' | 'sha512' | 'md5' | 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha512' | 'hmac-md5';
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  key?: string;
  encoding?: 'hex' | 'HEX' | 'base64' | 'base64url';
  /**
   * Format of $sign.date.
   */
  date_format?: 'rfc1123' | 'iso8601' | 'iso8601_basic' | 'unix' | 'unix_ms';
  string_to_sign: Template;
  headers?: TemplateMap2;
  query?: TemplateMap2;
}
/**
 * Name → template. A template that evaluates to undefined or null omits the entry.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "TemplateMap".
 */
export interface TemplateMap2 {
  [k: string]: string | number | boolean | null;
}
/**
 * Name → template. A template that evaluates to undefined or null omits the entry.
 */
export interface TemplateMap3 {
  [k: string]: string | number | boolean | null;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "RateLimit".
 */
export interface RateLimit {
  /**
   * Requests allowed per interval (token bucket).
   */
  requests?: number;
  interval?: Duration;
  /**
   * Bucket size; defaults to `requests`.
   */
  burst?: number;
  /**
   * Requests in flight at once per connector and host.
   */
  concurrency?: number;
  scope?: 'connector' | 'host';
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Retry".
 */
export interface Retry {
  /**
   * Total attempts per request, including the first.
   */
  attempts?: number;
  /**
   * Milliseconds as a number, or a string such as '500ms', '30s', '5m', '1h', '2d', or ISO 8601 (PT1H).
   */
  backoff?: number | string;
  /**
   * Milliseconds as a number, or a string such as '500ms', '30s', '5m', '1h', '2d', or ISO 8601 (PT1H).
   */
  max_backoff?: number | string;
  /**
   * Statuses that retry (default 408, 425, 429, 500, 502, 503, 504).
   */
  statuses?: number[];
  /**
   * Circuit breaker per host: after `failures` consecutive failed attempts, requests to that host pause for `cooldown` before one probe is let through.
   */
  breaker?: {
    failures?: number;
    cooldown?: Duration;
  };
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Timeouts".
 */
export interface Timeouts {
  connect?: Duration;
  headers?: Duration;
  body?: Duration;
}
/**
 * Classifies a response. Rules are tried in order; the first whose `when` is true (evaluated with $status, $headers, $body) wins; then the built-in defaults apply.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "ResponseRule".
 */
export interface ResponseRule {
  when?: Expression;
  status?: number | number[];
  action: 'success' | 'retry' | 'rate_limited' | 'refresh_token' | 'ignore' | 'fail';
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  message?: string;
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  wait?: string;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Stream".
 */
export interface Stream {
  name: string;
  description?: string;
  /**
   * Default offer kind of mapped records.
   */
  kind?: 'product' | 'coupon' | 'deal' | 'program';
  /**
   * false: the stream only feeds partitions of other streams.
   */
  emit?: boolean;
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  enabled?: string;
  request?: Request;
  /**
   * File stream: download a feed file and stream its rows.
   */
  file?: {
    url: Template;
    headers?: TemplateMap2;
  };
  job?: Job;
  pagination?: Pagination;
  partitions?: Partitions;
  decoder?: Decoder;
  /**
   * A JSONata expression.
   */
  records?: string;
  /**
   * A JSONata expression.
   */
  filter?: string;
  /**
   * A JSONata expression.
   */
  map?: string;
  incremental?: Incremental;
  response_rules?: ResponseRule[];
  /**
   * Whether a full run of this stream returns every live offer (so absent ones may be deactivated).
   */
  complete?: boolean;
  /**
   * IANA time zone of this stream's zone-less dates; overrides the connector's.
   */
  timezone?: string;
  rate_limit?: RateLimit1;
  /**
   * false: send this stream's requests without the connector's auth (e.g. a feed file whose URL carries its own key).
   */
  authenticate?: boolean;
  /**
   * This stream's own auth, replacing the connector's (another token, another host's scheme).
   */
  auth?: AuthNone | AuthApiKey | AuthBasic | AuthBearer | AuthOAuth2 | AuthSigV4 | AuthSignature;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Request".
 */
export interface Request {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  url?: string;
  path?: Template;
  query?: TemplateMap2;
  headers?: TemplateMap2;
  /**
   * Object (each string value templated, serialized per body_format) or a template string.
   */
  body?: {} | string | unknown[];
  body_format?: 'json' | 'form' | 'raw';
}
/**
 * Report-style API: create a job, poll until done, then fetch its result (the stream's decoder and records apply to the download).
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Job".
 */
export interface Job {
  create: Request;
  /**
   * A JSONata expression.
   */
  job_id?: string;
  poll: Request;
  /**
   * A JSONata expression.
   */
  done?: string;
  /**
   * A JSONata expression.
   */
  failed?: string;
  /**
   * A JSONata expression.
   */
  download_url?: string;
  interval?: Duration;
  timeout?: Duration;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Pagination".
 */
export interface Pagination {
  type: 'none' | 'page_number' | 'offset' | 'cursor' | 'next_url' | 'link_header';
  /**
   * page_number: parameter carrying the page number (omit when the path template places $page.number itself, e.g. in matrix parameters).
   */
  page_param?: string;
  /**
   * page_number: first page (0 or 1).
   */
  start?: number;
  /**
   * offset: parameter carrying the offset.
   */
  offset_param?: string;
  /**
   * Parameter carrying the page size.
   */
  size_param?: string;
  /**
   * Records per page: a number, or a template (e.g. from config).
   */
  page_size?: number | Template;
  /**
   * cursor: parameter carrying the cursor.
   */
  cursor_param?: string;
  /**
   * A JSONata expression.
   */
  cursor?: string;
  /**
   * A JSONata expression.
   */
  next_url?: string;
  /**
   * link_header: relation to follow in the RFC 8288 Link header.
   */
  link_rel?: string;
  /**
   * Where page/offset/size/cursor parameters are placed.
   */
  inject?: 'query' | 'body' | 'header';
  stop?: StopConditions;
  /**
   * Hard cap per partition (the CLI's --max-pages can lower it).
   */
  max_pages?: number;
}
/**
 * Any condition that holds ends pagination. Empty page always stops.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "StopConditions".
 */
export interface StopConditions {
  /**
   * Stop when a page has fewer records than page_size.
   */
  short_page?: boolean;
  /**
   * A JSONata expression.
   */
  total_count?: string;
  /**
   * A JSONata expression.
   */
  total_pages?: string;
  /**
   * A JSONata expression.
   */
  has_more?: string;
  /**
   * A JSONata expression.
   */
  when?: string;
}
/**
 * Runs the stream once per partition value, bound as $partition.
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Partitions".
 */
export interface Partitions {
  name?: string;
  /**
   * A static list, or a template evaluating to a list (e.g. from config).
   */
  values?: unknown[] | Template;
  /**
   * Name of another stream; one partition per record it yields.
   */
  from_stream?: string;
  /**
   * A JSONata expression.
   */
  value?: string;
  concurrency?: number;
}
/**
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Decoder".
 */
export interface Decoder {
  format?: 'json' | 'ndjson' | 'xml' | 'csv' | 'tsv';
  compression?: 'auto' | 'none' | 'gzip' | 'zip';
  zip_entry?: string;
  encoding?: string;
  xml?: {
    arrays?: string[];
    record_tag?: string;
    attribute_prefix?: string;
    text_key?: string;
  };
  csv?: {
    delimiter?: string;
    header?: boolean;
    columns?: string[];
    quote?: string;
    skip_lines?: number;
    relax_column_count?: boolean;
  };
  max_bytes?: number;
  max_decompressed_bytes?: number;
}
/**
 * Incremental sync: the highest cursor value seen is kept per connector and stream and advanced only when a run commits. Requests read it as $incremental.start (with lookback applied) and $incremental.end (this machine's clock; the cursor itself comes from the records, so the network's clock sets it).
 *
 * This interface was referenced by `ConnectorSpec`'s JSON-Schema
 * via the `definition` "Incremental".
 */
export interface Incremental {
  /**
   * A JSONata expression.
   */
  cursor_field: string;
  type?: 'datetime' | 'number';
  /**
   * Milliseconds as a number, or a string such as '500ms', '30s', '5m', '1h', '2d', or ISO 8601 (PT1H).
   */
  lookback?: number | string;
  /**
   * A string; each {{ expr }} segment is a JSONata expression evaluated with the bindings $config, $partition, $page, $incremental, $job and $stream. A value that is exactly one {{ expr }} keeps the expression's type.
   */
  start?: string;
}
/**
 * This stream's own pacing (a stricter or looser endpoint limit), instead of the connector's.
 */
export interface RateLimit1 {
  /**
   * Requests allowed per interval (token bucket).
   */
  requests?: number;
  interval?: Duration;
  /**
   * Bucket size; defaults to `requests`.
   */
  burst?: number;
  /**
   * Requests in flight at once per connector and host.
   */
  concurrency?: number;
  scope?: 'connector' | 'host';
}
