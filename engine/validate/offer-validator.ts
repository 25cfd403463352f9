// Checks a normalized offer against schema/offer.schema.json; a failure lists each reason as field, value, rule.
import { readFileSync } from 'node:fs';
import type { Offer } from '../types/offer.generated.ts';
import { createAjv, pathLabel, pointerToPath } from './ajv.ts';

export const offerSchema = JSON.parse(readFileSync(new URL('../../schema/offer.schema.json', import.meta.url), 'utf8'));
const validate = createAjv().compile<Offer>(offerSchema);

export interface Reason { field: string; value?: unknown; rule: string; message: string }

export function validateOffer(offer: Record<string, unknown>): Reason[] | undefined {
  if (validate(offer)) return undefined;
  return (validate.errors ?? []).map((e) => {
    const path = pointerToPath(e.instancePath);
    let field = pathLabel(path);
    let value: unknown = path.reduce<any>((cur, seg) => cur?.[seg], offer);
    if (e.keyword === 'required') { field = (e.params as { missingProperty: string }).missingProperty; value = undefined; }
    if (e.keyword === 'additionalProperties') { field = (e.params as { additionalProperty: string }).additionalProperty; value = offer[field]; }
    const message = e.keyword === 'additionalProperties' ? `unknown field "${field}" (not in the canonical offer)` : `${field} ${e.message}`;
    return { field, value, rule: e.keyword, message };
  });
}
