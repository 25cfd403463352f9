// The normalizer: turns a connector mapping's raw canonical offer into one that validates against
// schema/offer.schema.json. Building blocks are exported for mappings, decoders and tests.
export { normalizeOffer } from './offer.ts';
export type { NormalizeContext, OfferKind } from './offer.ts';
export { parsePrice, parsePercent } from './price.ts';
export type { PriceResult } from './price.ts';
export { normalizeCurrency, isCurrencyCode } from './currency.ts';
export { normalizeCountry } from './country.ts';
export { normalizeLanguage } from './language.ts';
export { toUtcIso } from './date.ts';
export { absoluteUrl } from './url.ts';
export { cleanText } from './text.ts';
export type { CleanTextOptions } from './text.ts';
