// The public offer, derived from schema/offer.schema.json (the single source of truth) for both APIs: the REST
// response JSON Schema (Fastify serializes with it, OpenAPI documents it) and the GraphQL Offer type. A field
// added to the canonical schema appears in both without touching this file; api/offer-schema.test.ts proves it.
import { readFileSync } from 'node:fs';

type JsonSchema = Record<string, any>;

export const canonicalOfferSchema: JsonSchema = JSON.parse(readFileSync(new URL('../schema/offer.schema.json', import.meta.url), 'utf8'));

/** Fields the API adds to the canonical offer. */
export const API_FIELDS: JsonSchema = {
  id: { type: 'string', description: 'Stable public id of the offer (from network and external_id).' },
  status: { type: 'string', description: 'Always active in public responses; subscription events also carry inactive, expired and hidden.' },
  first_seen_at: { type: 'string', description: 'When the feed first saw the offer (ISO 8601 UTC).' },
  last_changed_at: { type: 'string', description: 'When the offer last changed (ISO 8601 UTC).' },
  click_url: { type: 'string', description: 'Link for visitors: records the click, then redirects to the offer URL.' },
  group_key: { type: 'string', description: 'Offers with the same group key are the same offer from several networks.' },
  duplicates: { type: 'integer', description: 'Public offers in the same duplicate group (1: none).' },
};
const API_REQUIRED = ['id', 'status', 'first_seen_at', 'last_changed_at', 'click_url', 'duplicates'];

// Keywords that only constrain input; a response schema needs the shape (and descriptions for the docs).
const SHAPE_KEYWORDS = new Set(['type', 'properties', 'items', 'required', 'enum', 'description', 'additionalProperties']);

function shape(s: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) {
    if (!SHAPE_KEYWORDS.has(k)) continue;
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as JsonSchema).map(([p, ps]) => [p, shape(ps as JsonSchema)]));
    else if (k === 'items') out.items = shape(v as JsonSchema);
    else if (k === 'additionalProperties') out.additionalProperties = typeof v === 'object' ? shape(v as JsonSchema) : v;
    else out[k] = v;
  }
  return out;
}

/** JSON Schema of an offer in API responses (shared schema id `Offer`). */
export function publicOfferJsonSchema(): JsonSchema {
  const base = shape(canonicalOfferSchema);
  return {
    $id: 'Offer',
    title: 'Offer',
    description: 'A public offer: the canonical offer (schema/offer.schema.json) plus API fields.',
    type: 'object',
    additionalProperties: false,
    required: [...API_REQUIRED, ...(canonicalOfferSchema.required as string[])],
    properties: { ...API_FIELDS, ...base.properties },
  };
}

// ------------------------------------------------------------------------------------------------- GraphQL

export interface GraphQLOfferTypes {
  /** SDL of Offer and the types and enums it needs. */
  sdl: string;
  /** GraphQL type (with ! for required) per canonical property, as generated: what the drift test compares. */
  fields: Record<string, string>;
}

const pascal = (s: string) => s.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());

/** The GraphQL Offer type generated from the canonical JSON Schema (snake_case field names, as in REST). */
export function graphqlOfferTypes(): GraphQLOfferTypes {
  const defs: string[] = [];
  const fields: Record<string, string> = {};
  const typeOf = (name: string, s: JsonSchema, owner: string): string => {
    const t = s.type;
    if (Array.isArray(t)) return 'JSON';
    if (s.enum && t === 'string') {
      const enumName = `${owner}${pascal(name)}`;
      defs.push(`enum ${enumName} {\n${(s.enum as string[]).map((v) => `  ${v}`).join('\n')}\n}`);
      return enumName;
    }
    switch (t) {
      case 'string': return 'String';
      case 'integer': return 'Int';
      case 'number': return 'Float';
      case 'boolean': return 'Boolean';
      case 'array': return `[${typeOf(name, s.items ?? {}, owner)}!]`;
      case 'object': {
        if (!s.properties || s.additionalProperties && typeof s.additionalProperties === 'object') return 'JSON';
        const typeName = `${owner}${pascal(name)}`;
        const req = new Set<string>(s.required ?? []);
        const lines = Object.entries(s.properties as JsonSchema).map(([p, ps]) => `${describe(ps)}  ${p}: ${typeOf(p, ps, typeName)}${req.has(p) ? '!' : ''}`);
        defs.push(`type ${typeName} {\n${lines.join('\n')}\n}`);
        return typeName;
      }
      default: return 'JSON';
    }
  };
  const required = new Set<string>(canonicalOfferSchema.required);
  const lines: string[] = [];
  for (const [p, ps] of Object.entries(canonicalOfferSchema.properties as JsonSchema)) {
    const t = `${typeOf(p, ps, 'Offer')}${required.has(p) ? '!' : ''}`;
    fields[p] = t;
    lines.push(`${describe(ps)}  ${p}: ${t}`);
  }
  const api = [
    '  id: ID!', '  status: String!', '  first_seen_at: String!', '  last_changed_at: String!', '  click_url: String!', '  group_key: String', '  duplicates: Int!',
  ];
  defs.push(`"""${canonicalOfferSchema.description}"""\ntype Offer {\n${api.join('\n')}\n${lines.join('\n')}\n}`);
  return { sdl: defs.join('\n\n'), fields };
}

function describe(s: JsonSchema): string {
  return typeof s.description === 'string' ? `  """${s.description.replace(/"""/g, '')}"""\n` : '';
}
