// Pagination state machine: which parameters the next request carries, and whether there is a next page.
// Guards against loops (a cursor or URL seen before, the same page content twice in a row).
import { createHash } from 'node:crypto';
import type { Pagination } from '../types/connector.generated.ts';
import { compileExpression } from '../expr/jsonata.ts';
import { linkForRel } from '../http/link-header.ts';
import { emptyInjected, type Injected } from './request-builder.ts';

export interface PageState { index: number; number?: number; offset?: number; size?: number; cursor?: string; next_url?: string }

export interface PageResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  url: string;
  /** The decoded document, when the format has one (absent for row-streamed formats). */
  body?: unknown;
  recordCount: number;
  /** Stable fingerprint of the page's records, for the loop guard. */
  fingerprint?: string;
}

export class PaginationLoopError extends Error {
  constructor(message: string) { super(message); this.name = 'PaginationLoopError'; }
}

/** Pagination with its page size resolved to a number. */
export type ResolvedPagination = Omit<Pagination, 'page_size'> & { page_size?: number };

export class Paginator {
  private readonly p: ResolvedPagination;
  private readonly seen = new Set<string>();
  private lastFingerprint: string | undefined;
  private total = 0;
  /** True when pagination stopped because of a page cap rather than the data ending. */
  truncated = false;

  constructor(spec: Pagination | undefined, private readonly maxPages: number, private readonly bindings: Record<string, unknown> = {}) {
    if (typeof spec?.page_size === 'string') throw new Error('pagination.page_size must be resolved before paginating');
    this.p = (spec ?? { type: 'none' }) as ResolvedPagination;
  }

  first(): PageState {
    const size = this.p.page_size;
    switch (this.p.type) {
      case 'page_number': return { index: 0, number: this.p.start ?? 1, size };
      case 'offset': return { index: 0, offset: 0, size };
      default: return { index: 0, size };
    }
  }

  /** Parameters to inject into the request for this page. */
  inject(state: PageState): { injected: Injected; url?: string } {
    const injected = emptyInjected();
    const target = injected[this.p.inject === 'body' ? 'body' : this.p.inject === 'header' ? 'headers' : 'query'] as Record<string, unknown>;
    const put = (name: string | undefined, value: unknown) => { if (name && value !== undefined) target[name] = this.p.inject === 'body' ? value : String(value); };
    put(this.p.size_param, state.size);
    if (this.p.type === 'page_number') put(this.p.page_param, state.number);
    if (this.p.type === 'offset') put(this.p.offset_param, state.offset);
    if (this.p.type === 'cursor' && state.cursor !== undefined) put(this.p.cursor_param, state.cursor);
    return { injected, url: state.next_url };
  }

  /** The next page's state, or undefined when pagination ends. */
  async next(state: PageState, page: PageResult): Promise<PageState | undefined> {
    this.total += page.recordCount;
    if (this.p.type === 'none') return undefined;
    if (page.recordCount === 0) return undefined;
    if (page.fingerprint !== undefined) {
      if (page.fingerprint === this.lastFingerprint) {
        throw new PaginationLoopError(`pagination loop: page ${state.index + 1} returned exactly the same records as the page before (url ${page.url})`);
      }
      this.lastFingerprint = page.fingerprint;
    }
    const bindings = { ...this.bindings, body: page.body, headers: page.headers, status: page.status, page: state };
    const evalOn = (expr: string) => compileExpression(expr).evaluate(page.body ?? {}, bindings);
    const stop = this.p.stop;
    if (stop?.short_page && this.p.page_size && page.recordCount < this.p.page_size) return undefined;
    if (stop?.has_more !== undefined && !truthy(await evalOn(stop.has_more))) return undefined;
    if (stop?.when !== undefined && truthy(await evalOn(stop.when))) return undefined;
    if (stop?.total_count !== undefined) {
      const total = Number(await evalOn(stop.total_count));
      const fetched = this.p.type === 'offset' ? (state.offset ?? 0) + page.recordCount : this.total;
      if (Number.isFinite(total) && fetched >= total) return undefined;
    }
    if (stop?.total_pages !== undefined) {
      const pages = Number(await evalOn(stop.total_pages));
      const current = this.p.type === 'page_number' ? (state.number ?? 1) - (this.p.start ?? 1) + 1 : state.index + 1;
      if (Number.isFinite(pages) && current >= pages) return undefined;
    }
    let next: PageState;
    switch (this.p.type) {
      case 'page_number':
        next = { ...state, index: state.index + 1, number: (state.number ?? 1) + 1 };
        break;
      case 'offset':
        next = { ...state, index: state.index + 1, offset: (state.offset ?? 0) + (this.p.page_size ?? page.recordCount) };
        break;
      case 'cursor': {
        const cursor = await evalOn(this.p.cursor!);
        if (cursor === undefined || cursor === null || cursor === '') return undefined;
        next = { ...state, index: state.index + 1, cursor: String(cursor) };
        this.guard(`cursor ${String(cursor)}`, state);
        break;
      }
      case 'next_url': {
        const url = await evalOn(this.p.next_url!);
        if (url === undefined || url === null || url === '') return undefined;
        const abs = new URL(String(url), page.url).toString();
        next = { ...state, index: state.index + 1, next_url: abs };
        this.guard(`next URL ${abs}`, state);
        break;
      }
      case 'link_header': {
        const link = linkForRel(page.headers.link, this.p.link_rel ?? 'next');
        if (!link) return undefined;
        const abs = new URL(link, page.url).toString();
        next = { ...state, index: state.index + 1, next_url: abs };
        this.guard(`Link next ${abs}`, state);
        break;
      }
    }
    if (next.index >= Math.min(this.maxPages, this.p.max_pages ?? Infinity)) {
      this.truncated = true;
      return undefined;
    }
    return next;
  }

  private guard(key: string, state: PageState): void {
    if (this.seen.has(key)) throw new PaginationLoopError(`pagination loop: ${key} was already fetched (seen again after page ${state.index + 1})`);
    this.seen.add(key);
  }
}

export function fingerprint(records: unknown[]): string | undefined {
  if (records.length === 0) return undefined;
  return createHash('sha1').update(JSON.stringify(records)).digest('hex');
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || v === 'false' || (Array.isArray(v) && v.length === 0));
