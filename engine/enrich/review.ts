// The review queue: machine translations and low-confidence AI copy wait here until a person approves, edits or
// rejects them. Approving publishes the machine text (still marked machine-written, with the reviewer); editing
// publishes the person's text (no longer machine-written); rejecting leaves the rule copy and no translation.
import { EnrichmentStore, ReviewError, type ReviewFilter, type ReviewItem } from '../store/enrichment-store.ts';
import type { OfferCopy } from './types.ts';

export interface CopyEdit { summary: string; urgency_line?: string | null; cta: string }
export interface TranslationEdit { title: string; summary?: string | null }

const text = (v: unknown, field: string, max: number, optional = false): string | null => {
  if (optional && (v === undefined || v === null || v === '')) return null;
  if (typeof v !== 'string' || !v.trim()) throw new ReviewError(`${field} must be a non-empty string`, 400);
  if (v.length > max) throw new ReviewError(`${field} is longer than ${max} characters`, 400);
  return v.trim();
};

export class ReviewQueue {
  constructor(private readonly store: EnrichmentStore) {}

  list(filter: ReviewFilter = { status: 'pending' }): Promise<ReviewItem[]> {
    return this.store.listReviews(filter);
  }

  get(id: number): Promise<ReviewItem | undefined> {
    return this.store.getReview(id);
  }

  /** Counts by "status:kind", e.g. { "pending:translation": 12 }. */
  counts(): Promise<Record<string, number>> {
    return this.store.reviewCounts();
  }

  async approve(id: number, by: string, note?: string): Promise<ReviewItem> {
    const item = await this.require(id);
    if (item.kind === 'copy') {
      const copy = { ...(item.proposed as unknown as OfferCopy), machine_generated: true, reviewed_by: by };
      return this.store.decideReview(id, { status: 'approved', by, note, final: copy as unknown as Record<string, unknown>, publishCopy: copy });
    }
    const p = item.proposed as { title: string; summary?: string | null };
    return this.store.decideReview(id, { status: 'approved', by, note, final: { title: p.title, summary: p.summary ?? null }, publishTranslation: { title: p.title, summary: p.summary ?? null, machine_generated: true, source: 'ai' } });
  }

  async edit(id: number, by: string, value: CopyEdit | TranslationEdit, note?: string): Promise<ReviewItem> {
    const item = await this.require(id);
    if (item.kind === 'copy') {
      const v = value as CopyEdit;
      const copy: OfferCopy = {
        summary: text(v.summary, 'summary', 400)!, urgency_line: text(v.urgency_line, 'urgency_line', 160, true), cta: text(v.cta, 'cta', 40)!,
        language: item.lang, source: 'human', machine_generated: false, reviewed_by: by,
      };
      return this.store.decideReview(id, { status: 'edited', by, note, final: copy as unknown as Record<string, unknown>, publishCopy: copy });
    }
    const v = value as TranslationEdit;
    const tr = { title: text(v.title, 'title', 400)!, summary: text(v.summary, 'summary', 500, true) };
    return this.store.decideReview(id, { status: 'edited', by, note, final: tr, publishTranslation: { ...tr, machine_generated: false, source: 'human' } });
  }

  async reject(id: number, by: string, note?: string): Promise<ReviewItem> {
    await this.require(id);
    return this.store.decideReview(id, { status: 'rejected', by, note });
  }

  private async require(id: number): Promise<ReviewItem> {
    const item = await this.store.getReview(id);
    if (!item) throw new ReviewError(`no review item ${id}`, 404);
    if (item.status !== 'pending') throw new ReviewError(`review item ${id} is already ${item.status}`, 409);
    return item;
  }
}

export { ReviewError };
