// Countries an offer is for: the connector's (which carries the partition it came from) when it says, else
// the landing domain's country code, else the currency, else the currency narrowed by the language.
import countries from 'i18n-iso-countries';
import type { Offer } from '../types/offer.generated.ts';
import type { CompiledRules } from './rules.ts';

export interface CountryResult { countries: string[]; sources: Record<string, string[]> }

export function tldCountry(url: string | undefined, rules: Pick<CompiledRules, 'countries'>): string | undefined {
  if (!url) return undefined;
  let host: string;
  try { host = new URL(url).hostname.toLowerCase(); } catch { return undefined; }
  const tld = host.split('.').pop() ?? '';
  if (tld.length !== 2 || rules.countries.genericTlds.has(tld)) return undefined;
  const code = rules.countries.tldCountries[tld] ?? tld.toUpperCase();
  return countries.isValid(code) ? code : undefined;
}

export function offerCountries(offer: Offer, language: string | undefined, rules: Pick<CompiledRules, 'countries'>): CountryResult {
  const sources: Record<string, string[]> = {};
  const add = (cc: string, source: string) => { (sources[cc] ??= []).includes(source) || sources[cc].push(source); };
  const connector = (offer.countries ?? []).map((c) => c.toUpperCase()).filter((c) => countries.isValid(c));
  for (const c of connector) add(c, 'connector');
  const tld = tldCountry(offer.landing_url ?? offer.url, rules);
  const currency = offer.currency?.toUpperCase();
  const byCurrency = currency ? rules.countries.currencyCountries[currency] ?? [] : [];
  const byCurrencyLanguage = currency && language ? rules.countries.currencyLanguageCountries[currency]?.[language] ?? [] : [];
  if (connector.length) {
    // Corroborating signals are recorded for the connector's countries only: they never widen its list.
    if (tld && connector.includes(tld)) add(tld, 'domain');
    for (const c of byCurrency) if (connector.includes(c)) add(c, 'currency');
    return { countries: connector, sources };
  }
  if (tld) {
    add(tld, 'domain');
    if (byCurrency.includes(tld)) add(tld, 'currency');
    if (byCurrencyLanguage.includes(tld)) add(tld, 'currency+language');
    return { countries: [tld], sources };
  }
  const inferred = byCurrency.length ? byCurrency : byCurrencyLanguage;
  for (const c of inferred) add(c, byCurrency.length ? 'currency' : 'currency+language');
  return { countries: [...inferred], sources };
}
