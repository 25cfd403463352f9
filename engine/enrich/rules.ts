// The enrichment rules file (rules.yaml, or the file OFFERFEED_ENRICH_RULES names) and the shipped taxonomy:
// loaded, checked against a schema (a typo is an error with its path, not a silently dead rule) and compiled to
// matchers once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import { compileKeywords, type KeywordMatcher } from './text.ts';

export const DEFAULT_RULES_PATH = fileURLToPath(new URL('./rules.yaml', import.meta.url));
export const TAXONOMY_PATH = fileURLToPath(new URL('./taxonomy.yaml', import.meta.url));

export const EMOTIONS = ['urgency', 'exclusivity', 'trust', 'value'] as const;
export type Emotion = (typeof EMOTIONS)[number];
export const COPY_LANGUAGES = ['en', 'de', 'fr', 'es'] as const;

type Keywords = Record<string, string[]>;

interface TagRuleFile {
  tag: string;
  keywords?: Keywords;
  availability?: string[];
  field_exclusive?: boolean;
  rating?: { min: number; min_reviews?: number };
  merchant?: { min_days: number; min_offers: number };
}

export interface CopyTemplates {
  summary: string; summary_no_merchant: string; summary_discount: string; summary_coupon: string;
  urgency_ends: string; urgency_today: string; urgency_stock: string; urgency_limited: string;
  cta: Record<'product' | 'coupon' | 'deal' | 'program', string>;
}

interface RulesFile {
  version: number;
  language: { min_chars: number; min_confidence: number };
  countries: {
    generic_tlds: string[];
    tld_countries: Record<string, string>;
    currency_countries: Record<string, string[]>;
    currency_language_countries: Record<string, Record<string, string[]>>;
  };
  tags: {
    urgency: { ending_soon_hours: number; rules: TagRuleFile[] };
    exclusivity: { rules: TagRuleFile[] };
    trust: { rules: TagRuleFile[] };
    value: { discount: Array<{ min_percent: number; tag: string }>; rules: TagRuleFile[] };
  };
  categories: { min_score: number; rules: Array<{ id: string; keywords: Keywords }> };
  copy: Record<string, CopyTemplates>;
}

const keywordsSchema = { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', minLength: 1 } } };
const tagRuleSchema = {
  type: 'object', required: ['tag'], additionalProperties: false,
  properties: {
    tag: { type: 'string', pattern: '^(urgency|exclusivity|trust|value):[a-z0-9-]+$' },
    keywords: keywordsSchema,
    availability: { type: 'array', items: { type: 'string' } },
    field_exclusive: { type: 'boolean' },
    rating: { type: 'object', required: ['min'], additionalProperties: false, properties: { min: { type: 'number' }, min_reviews: { type: 'integer', minimum: 0 } } },
    merchant: { type: 'object', required: ['min_days', 'min_offers'], additionalProperties: false, properties: { min_days: { type: 'number', minimum: 0 }, min_offers: { type: 'integer', minimum: 1 } } },
  },
};
const rulesList = { type: 'array', items: tagRuleSchema };
const copySchema = {
  type: 'object', additionalProperties: false,
  required: ['summary', 'summary_no_merchant', 'summary_discount', 'summary_coupon', 'urgency_ends', 'urgency_today', 'urgency_stock', 'urgency_limited', 'cta'],
  properties: {
    summary: { type: 'string' }, summary_no_merchant: { type: 'string' }, summary_discount: { type: 'string' }, summary_coupon: { type: 'string' },
    urgency_ends: { type: 'string' }, urgency_today: { type: 'string' }, urgency_stock: { type: 'string' }, urgency_limited: { type: 'string' },
    cta: { type: 'object', required: ['product', 'coupon', 'deal', 'program'], additionalProperties: false, properties: { product: { type: 'string' }, coupon: { type: 'string' }, deal: { type: 'string' }, program: { type: 'string' } } },
  },
};
const countryList = { type: 'array', items: { type: 'string', pattern: '^[A-Z]{2}$' } };
const RULES_SCHEMA = {
  type: 'object', additionalProperties: false, required: ['version', 'language', 'countries', 'tags', 'categories', 'copy'],
  properties: {
    version: { type: 'integer' },
    language: { type: 'object', additionalProperties: false, required: ['min_chars', 'min_confidence'], properties: { min_chars: { type: 'integer', minimum: 0 }, min_confidence: { type: 'number', minimum: 0, maximum: 1 } } },
    countries: {
      type: 'object', additionalProperties: false, required: ['generic_tlds', 'tld_countries', 'currency_countries', 'currency_language_countries'],
      properties: {
        generic_tlds: { type: 'array', items: { type: 'string' } },
        tld_countries: { type: 'object', additionalProperties: { type: 'string', pattern: '^[A-Z]{2}$' } },
        currency_countries: { type: 'object', propertyNames: { pattern: '^[A-Z]{3}$' }, additionalProperties: countryList },
        currency_language_countries: { type: 'object', propertyNames: { pattern: '^[A-Z]{3}$' }, additionalProperties: { type: 'object', additionalProperties: countryList } },
      },
    },
    tags: {
      type: 'object', additionalProperties: false, required: [...EMOTIONS],
      properties: {
        urgency: { type: 'object', additionalProperties: false, required: ['ending_soon_hours', 'rules'], properties: { ending_soon_hours: { type: 'number', minimum: 0 }, rules: rulesList } },
        exclusivity: { type: 'object', additionalProperties: false, required: ['rules'], properties: { rules: rulesList } },
        trust: { type: 'object', additionalProperties: false, required: ['rules'], properties: { rules: rulesList } },
        value: {
          type: 'object', additionalProperties: false, required: ['discount', 'rules'],
          properties: {
            discount: { type: 'array', items: { type: 'object', required: ['min_percent', 'tag'], additionalProperties: false, properties: { min_percent: { type: 'number' }, tag: { type: 'string', pattern: '^value:[a-z0-9-]+$' } } } },
            rules: rulesList,
          },
        },
      },
    },
    categories: {
      type: 'object', additionalProperties: false, required: ['min_score', 'rules'],
      properties: {
        min_score: { type: 'number', minimum: 0 },
        rules: { type: 'array', items: { type: 'object', required: ['id', 'keywords'], additionalProperties: false, properties: { id: { type: 'string' }, keywords: keywordsSchema } } },
      },
    },
    copy: { type: 'object', required: ['en'], additionalProperties: copySchema },
  },
};

export interface TaxonomyNode { id: string; path: string; name: string; parent?: string; depth: number }

export interface CompiledTagRule {
  emotion: Emotion;
  tag: string;
  keywords: KeywordMatcher;
  availability?: Set<string>;
  fieldExclusive?: boolean;
  rating?: { min: number; minReviews: number };
  merchant?: { minDays: number; minOffers: number };
}

export interface CompiledRules {
  /** sha256 of the rules and taxonomy files: part of the enrichment signature. */
  hash: string;
  path: string;
  language: RulesFile['language'];
  countries: { genericTlds: Set<string>; tldCountries: Record<string, string>; currencyCountries: Record<string, string[]>; currencyLanguageCountries: Record<string, Record<string, string[]>> };
  tagRules: CompiledTagRule[];
  discountSteps: Array<{ minPercent: number; tag: string }>;
  endingSoonHours: number;
  categoryRules: Array<{ node: TaxonomyNode; keywords: KeywordMatcher }>;
  categoryMinScore: number;
  taxonomy: Map<string, TaxonomyNode>;
  copy: Record<string, CopyTemplates>;
}

export class RulesError extends Error {
  constructor(message: string) { super(message); this.name = 'RulesError'; }
}

export function loadTaxonomy(text = readFileSync(TAXONOMY_PATH, 'utf8')): Map<string, TaxonomyNode> {
  const doc = parse(text) as { nodes?: Array<{ id: string; path: string }> };
  const byPath = new Map<string, string>();
  const out = new Map<string, TaxonomyNode>();
  for (const n of doc.nodes ?? []) {
    if (out.has(n.id)) throw new RulesError(`taxonomy: id ${n.id} appears twice`);
    const parts = n.path.split(' > ');
    out.set(n.id, { id: n.id, path: n.path, name: parts[parts.length - 1], depth: parts.length });
    byPath.set(n.path, n.id);
  }
  // A parent is the nearest listed ancestor path (the subset skips some intermediate Google levels).
  for (const node of out.values()) {
    const parts = node.path.split(' > ');
    for (let i = parts.length - 1; i > 0; i--) {
      const parent = byPath.get(parts.slice(0, i).join(' > '));
      if (parent) { node.parent = parent; break; }
    }
  }
  return out;
}

/** The node and its ancestors, most specific first. */
export function lineage(taxonomy: Map<string, TaxonomyNode>, id: string): TaxonomyNode[] {
  const out: TaxonomyNode[] = [];
  for (let n = taxonomy.get(id); n; n = n.parent ? taxonomy.get(n.parent) : undefined) out.push(n);
  return out;
}

const validate = new Ajv({ allErrors: true, strict: false }).compile(RULES_SCHEMA);

const allKeywords = (k?: Keywords) => Object.values(k ?? {}).flat();

export function compileRules(text: string, path = '<rules>', taxonomyText = readFileSync(TAXONOMY_PATH, 'utf8')): CompiledRules {
  let doc: unknown;
  try { doc = parse(text); } catch (e) { throw new RulesError(`${path}: not valid YAML: ${(e as Error).message}`); }
  if (!validate(doc)) {
    const errs = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new RulesError(`${path}: ${errs.join('; ')}`);
  }
  const r = doc as unknown as RulesFile;
  const taxonomy = loadTaxonomy(taxonomyText);
  const tagRules: CompiledTagRule[] = [];
  for (const emotion of EMOTIONS) {
    for (const rule of r.tags[emotion].rules) {
      if (!rule.tag.startsWith(`${emotion}:`)) throw new RulesError(`${path}: tags.${emotion} rule ${rule.tag} must be named ${emotion}:<name>`);
      tagRules.push({
        emotion, tag: rule.tag, keywords: compileKeywords(allKeywords(rule.keywords)),
        availability: rule.availability ? new Set(rule.availability) : undefined,
        fieldExclusive: rule.field_exclusive,
        rating: rule.rating ? { min: rule.rating.min, minReviews: rule.rating.min_reviews ?? 0 } : undefined,
        merchant: rule.merchant ? { minDays: rule.merchant.min_days, minOffers: rule.merchant.min_offers } : undefined,
      });
    }
  }
  const categoryRules = r.categories.rules.map((c) => {
    const node = taxonomy.get(c.id);
    if (!node) throw new RulesError(`${path}: categories rule ${c.id} names no node of the taxonomy`);
    return { node, keywords: compileKeywords(allKeywords(c.keywords)) };
  });
  return {
    hash: createHash('sha256').update(text).update('\0').update(taxonomyText).digest('hex').slice(0, 16),
    path,
    language: r.language,
    countries: {
      genericTlds: new Set(r.countries.generic_tlds.map((t) => t.toLowerCase())),
      tldCountries: r.countries.tld_countries,
      currencyCountries: r.countries.currency_countries,
      currencyLanguageCountries: r.countries.currency_language_countries,
    },
    tagRules,
    discountSteps: [...r.tags.value.discount].sort((a, b) => b.min_percent - a.min_percent).map((d) => ({ minPercent: d.min_percent, tag: d.tag })),
    endingSoonHours: r.tags.urgency.ending_soon_hours,
    categoryRules,
    categoryMinScore: r.categories.min_score,
    taxonomy,
    copy: r.copy,
  };
}

/** The rules in force: OFFERFEED_ENRICH_RULES, else the shipped rules.yaml. */
export function loadRules(path = process.env.OFFERFEED_ENRICH_RULES || DEFAULT_RULES_PATH): CompiledRules {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new RulesError(`cannot read the enrichment rules ${path}: ${(e as Error).message}`); }
  return compileRules(text, path);
}
