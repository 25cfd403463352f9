// Turns a stream's request spec (templates over $config, $partition, $page, $incremental, $job) into an
// HTTP request, placing pagination parameters where the paginator says.
import type { Request } from '../types/connector.generated.ts';
import { renderStringMap, renderValue, type Bindings } from '../expr/jsonata.ts';
import type { HttpRequest } from '../http/runtime.ts';

export interface Injected { query: Record<string, string>; headers: Record<string, string>; body: Record<string, unknown> }

export const emptyInjected = (): Injected => ({ query: {}, headers: {}, body: {} });

export function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export async function buildRequest(
  spec: Request,
  baseUrl: string,
  bindings: Bindings,
  injected: Injected = emptyInjected(),
  commonHeaders: Record<string, unknown> = {},
): Promise<HttpRequest> {
  const target = spec.url ? String(await renderValue(spec.url, bindings)) : joinUrl(baseUrl, String(await renderValue(spec.path ?? '', bindings)));
  const url = new URL(target);
  for (const [k, v] of Object.entries(await renderStringMap(spec.query, bindings))) url.searchParams.set(k, v);
  for (const [k, v] of Object.entries(injected.query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = {
    'user-agent': 'OfferFeed/0.1 (+https://github.com/offerfeed)',
    ...lowerKeys(await renderStringMap(commonHeaders, bindings)),
    ...lowerKeys(await renderStringMap(spec.headers, bindings)),
    ...lowerKeys(injected.headers),
  };
  const method = spec.method ?? 'GET';
  let body: string | undefined;
  if (spec.body !== undefined || Object.keys(injected.body).length) {
    const rendered = spec.body === undefined ? {} : await renderValue(spec.body, bindings);
    const format = spec.body_format ?? 'json';
    if (typeof rendered === 'string') body = rendered;
    else {
      const merged = Array.isArray(rendered) ? rendered : deepMerge(rendered as Record<string, unknown>, injected.body);
      if (format === 'form') {
        body = new URLSearchParams(Object.entries(merged as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])).toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else {
        body = JSON.stringify(merged);
        headers['content-type'] ??= 'application/json';
      }
    }
  }
  return { method, url: url.toString(), headers, body };
}

const lowerKeys = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** Pagination parameters for a body may use dotted names ("paging.page") to reach nested objects. */
function deepMerge(target: Record<string, unknown>, dotted: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(target);
  for (const [key, value] of Object.entries(dotted)) {
    const parts = key.split('.');
    let cur: Record<string, unknown> = out;
    for (const p of parts.slice(0, -1)) {
      if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]] = value;
  }
  return out;
}
