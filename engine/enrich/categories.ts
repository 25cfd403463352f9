// Categories on the shipped taxonomy: a connector category that already names a taxonomy node (id or path,
// even a deeper Google path) maps directly; otherwise keyword rules score the connector's categories (×3), the
// title (×2) and the description (×1), and the best node above the threshold wins, the more specific on a tie.
import type { Offer } from '../types/offer.generated.ts';
import { lineage, type CompiledRules } from './rules.ts';
import { normalizeText, plainText } from './text.ts';
import type { CategoryMatch } from './types.ts';

function direct(offer: Offer, rules: CompiledRules): string | undefined {
  const byPath = new Map([...rules.taxonomy.values()].map((n) => [n.path.toLowerCase(), n.id]));
  let best: { id: string; depth: number } | undefined;
  for (const raw of offer.categories ?? []) {
    const c = raw.trim();
    if (rules.taxonomy.has(c)) return c;
    const parts = c.split(/\s*>\s*/);
    for (let i = parts.length; i > 0; i--) {
      const id = byPath.get(parts.slice(0, i).join(' > ').toLowerCase());
      if (id) {
        if (!best || i > best.depth) best = { id, depth: i };
        break;
      }
    }
  }
  // A bare top level ("Electronics") is too coarse to stop keyword matching from finding something deeper.
  return best && best.depth > 1 ? best.id : undefined;
}

export function offerCategories(offer: Offer, rules: CompiledRules): CategoryMatch[] {
  const found = direct(offer, rules);
  if (found) return lineage(rules.taxonomy, found).map((n) => ({ id: n.id, path: n.path, score: 10 }));
  const fields: Array<[string, number]> = [
    [normalizeText((offer.categories ?? []).join(' | ')), 3],
    [normalizeText(offer.title), 2],
    [normalizeText(plainText(offer.description)).slice(0, 2000), 1],
  ];
  const matched: Array<{ id: string; score: number; depth: number }> = [];
  for (const rule of rules.categoryRules) {
    let score = 0;
    for (const [text, weight] of fields) if (text && rule.keywords.match(text)) score += weight;
    if (score >= rules.categoryMinScore) matched.push({ id: rule.node.id, score, depth: rule.node.depth });
  }
  matched.sort((a, b) => b.score - a.score || b.depth - a.depth);
  let best = matched[0];
  if (!best) return [];
  // A matching descendant of the winner is the same answer, only more specific.
  const under = matched.filter((m) => m.depth > best.depth && lineage(rules.taxonomy, m.id).some((n) => n.id === best.id));
  if (under.length) best = under[0];
  return lineage(rules.taxonomy, best.id).map((n, i) => ({ id: n.id, path: n.path, score: i === 0 ? best!.score : 0 }));
}
