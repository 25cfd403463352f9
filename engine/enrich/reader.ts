// Enrichment for serving (REST, GraphQL, admin): the stored enrichment of offers plus the tags that depend on
// the time of reading (an expiry getting near). Safe to call from request handlers: reads only.
import { EnrichmentStore } from '../store/enrichment-store.ts';
import { loadRules, type CompiledRules } from './rules.ts';
import { tagsAt } from './tags.ts';
import type { OfferEnrichmentView } from './types.ts';

export class EnrichmentReader {
  private constructor(private readonly store: EnrichmentStore, private readonly rules: Pick<CompiledRules, 'endingSoonHours'>) {}

  static async open(path: string, rules: Pick<CompiledRules, 'endingSoonHours'> = loadRules()): Promise<EnrichmentReader> {
    return new EnrichmentReader(await EnrichmentStore.open(path), rules);
  }

  /** Offer id → enrichment, for the offers that have one for their current content. */
  async get(offerIds: string[], now = new Date()): Promise<Map<string, OfferEnrichmentView>> {
    const rows = await this.store.getEnrichment(offerIds);
    const out = new Map<string, OfferEnrichmentView>();
    for (const [id, { expires_at, ...view }] of rows) out.set(id, { ...view, tags: tagsAt(view.tags, expires_at, this.rules, now) });
    return out;
  }

  close(): void {
    this.store.close();
  }
}
