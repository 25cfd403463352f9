/* Generated from schema/offer.schema.json by scripts/gen-types.ts; do not edit. Run `npm run gen:types`. */

/**
 * The canonical offer every connector maps to. Core field names are a contract (DESIGN.md).
 */
export interface Offer {
  /**
   * Connector id.
   */
  network: string;
  /**
   * The network's own id of the offer.
   */
  external_id: string;
  kind: 'product' | 'coupon' | 'deal' | 'program';
  title: string;
  description?: string;
  /**
   * Affiliate/tracking URL when the API gives one, else the landing URL.
   */
  url: string;
  landing_url?: string;
  image_url?: string;
  merchant_id?: string;
  merchant_name?: string;
  brand?: string;
  /**
   * Regular price in major units.
   */
  price?: number;
  /**
   * Discounted price in major units.
   */
  sale_price?: number;
  /**
   * ISO 4217.
   */
  currency?: string;
  coupon_code?: string;
  /**
   * A discount stated by the offer itself (coupons and deals without prices).
   */
  discount?: {
    percent?: number;
    amount?: number;
    currency?: string;
  };
  categories?: string[];
  /**
   * ISO 3166-1 alpha-2.
   */
  countries?: string[];
  /**
   * BCP 47.
   */
  languages?: string[];
  tags?: string[];
  payout?: {
    type?: 'cps' | 'cpa' | 'cpl' | 'cpc' | 'cpi' | 'recurring' | 'flat' | 'hybrid' | 'other';
    amount?: number;
    currency?: string;
    percent?: number;
    description?: string;
  };
  starts_at?: string;
  expires_at?: string;
  /**
   * GTIN/EAN/UPC.
   */
  gtin?: string;
  mpn?: string;
  asin?: string;
  sku?: string;
  availability?: 'in_stock' | 'out_of_stock' | 'preorder' | 'backorder' | 'limited' | 'unknown';
  rating?: number;
  review_count?: number;
  condition?: 'new' | 'used' | 'refurbished';
  /**
   * Restrictions and conditions of a coupon or deal.
   */
  terms?: string;
  exclusive?: boolean;
  /**
   * Network-specific extras worth keeping (string, number or boolean values).
   */
  attributes?: {
    [k: string]: string | number | boolean;
  };
}
