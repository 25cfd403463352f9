// Where the API meets the offer optimizer (engine/optimize): what it served (impressions), what was clicked and
// converted, and the ranking of /api/offers/top. The API depends on this small interface only; without a ranker,
// /top ranks by freshness, discount and payout and nothing is reported.
import type { Optimizer } from '../engine/optimize/optimizer.ts';
import type { OfferFilter } from './read-model/offer-index.ts';

export interface ApiRanker {
  /** Offer ids best first for /top (the API keeps those public and visible to the caller), or undefined: fall back. */
  top(limit: number, filter: OfferFilter): Promise<Array<{ id: string; score: number }> | undefined>;
  /** Offers a response returned, by surface (latest, search, top, graphql). Must be cheap: called per request. */
  served(ids: string[], surface: string): void;
  clicked(offerId: string): Promise<void>;
  /** A new conversion (not a replay, not an update of one already counted). */
  converted(offerId: string, commission: number | undefined): Promise<void>;
}

/**
 * The optimizer as the API's ranker. Its ranking takes one value per filter: a filter with several networks,
 * countries, … falls back to the API's own ranking.
 */
export function optimizerRanker(optimizer: Optimizer): ApiRanker {
  const one = (xs: string[] | undefined): string | undefined | false => (!xs ? undefined : xs.length === 1 ? xs[0] : false);
  return {
    async top(limit, f) {
      const v = { network: one(f.network), kind: one(f.kind), merchant: one(f.merchant), country: one(f.country), lang: one(f.lang), vertical: one(f.vertical) };
      if (Object.values(v).some((x) => x === false)) return undefined;
      const ranked = await optimizer.rankForTop(limit, {
        network: v.network || undefined, kind: v.kind || undefined, merchant: v.merchant || undefined, country: v.country || undefined,
        lang: v.lang || undefined, vertical: v.vertical || undefined, minPrice: f.min_price, maxPrice: f.max_price, hasCoupon: f.has_coupon,
      });
      return ranked.map((r) => ({ id: r.offer_id, score: r.sampled_score ?? r.score }));
    },
    served: (ids, surface) => optimizer.recordImpressions(ids, { surface }),
    clicked: (offerId) => optimizer.recordClicks([offerId]),
    converted: (offerId, commission) => optimizer.recordConversions([{ offerId, commission }]),
  };
}
