// Shapes shared by the enrichment pipeline, its store and its readers (the API).
import type { Offer } from '../types/offer.generated.ts';

/** An offer as a job reads it from the serving store. */
export interface EnrichInput {
  id: string;
  content_hash: string;
  offer: Offer;
}

/** How long a merchant has been in the feed and how many offers it has there: its standing. */
export interface MerchantStanding { days: number; offers: number }

export interface TagEvidence {
  tag: string;
  by: 'keyword' | 'availability' | 'exclusive' | 'rating' | 'merchant' | 'discount' | 'expiry';
  /** The matched text or the value that met the rule. */
  match: string;
}

export type CopySource = 'rules' | 'ai' | 'human';

export interface OfferCopy {
  summary: string;
  urgency_line: string | null;
  cta: string;
  /** Language the copy is written in. */
  language: string;
  source: CopySource;
  /** True for anything no person wrote or approved word for word (rules, AI). */
  machine_generated: boolean;
  model?: string;
  confidence?: number;
  reviewed_by?: string;
}

export interface CategoryMatch { id: string; path: string; score: number }

export interface RuleEnrichment {
  languages: string[];
  language_detected?: string;
  language_confidence?: number;
  countries: string[];
  country_sources: Record<string, string[]>;
  /** Most specific first, then its ancestors. */
  categories: CategoryMatch[];
  tags: string[];
  evidence: TagEvidence[];
  discount_percent?: number;
  copy: OfferCopy;
}

/** What a reader (REST, GraphQL, admin) gets for one offer. */
export interface OfferEnrichmentView {
  offer_id: string;
  languages: string[];
  countries: string[];
  categories: Array<{ id: string; path: string }>;
  tags: string[];
  copy: OfferCopy;
  /** Published translations only (approved or written by a person). */
  translations: Record<string, { title: string; summary: string | null; machine_generated: boolean }>;
  enriched_at: string;
}
