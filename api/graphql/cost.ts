// Query cost limit: every field costs 1, times the page sizes (`first`) of the list fields above it, so
// `offers(first: 100) { edges { node { … } } }` costs about 100 × the fields per offer. A query over the limit
// is rejected before it runs. Depth is limited separately (Mercurius queryDepth).
import { GraphQLError, Kind, type ASTVisitor, type SelectionSetNode, type ValidationContext, type ValueNode } from 'graphql';

/** Page size assumed for list fields without `first` (their defaults, or unbounded lists such as networks). */
const DEFAULT_LIST = 20;
/** `first` given as a variable counts as the largest page the resolvers allow: the rule stays static, so
 * Mercurius can cache validated queries. */
export const MAX_PAGE = 100;
const LIST_FIELDS = new Set(['offers', 'topOffers', 'syncRuns', 'networks']);

export function costLimitRule(maxCost: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const cost = selectionCost(node.selectionSet, context, new Map(), new Set());
      if (cost > maxCost) {
        context.reportError(new GraphQLError(`query cost ${cost > 1e12 ? 'beyond a trillion' : cost} exceeds the limit of ${maxCost}: ask for fewer items (first) or fewer fields`, { nodes: [node] }));
      }
    },
  });
}

/**
 * The cost of a selection set at multiplier 1 (cost is linear in the multiplier, so a list field scales its
 * children's cost by its page size). Each fragment's cost is computed once and reused wherever it is spread:
 * without that, fragments that each spread the next one twice would take exponential time to price.
 */
function selectionCost(set: SelectionSetNode, ctx: ValidationContext, memo: Map<string, number>, visiting: Set<string>): number {
  let total = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      total += 1;
      if (!sel.selectionSet) continue;
      const firstArg = sel.arguments?.find((a) => a.name.value === 'first');
      const first = firstArg ? numberOf(firstArg.value) : undefined;
      const size = first ?? (LIST_FIELDS.has(sel.name.value) ? DEFAULT_LIST : 1);
      total += Math.max(1, size) * selectionCost(sel.selectionSet, ctx, memo, visiting);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      total += selectionCost(sel.selectionSet, ctx, memo, visiting);
    } else {
      const name = sel.name.value;
      const known = memo.get(name);
      if (known !== undefined) { total += known; continue; }
      const frag = ctx.getFragment(name);
      // A fragment spread twice costs twice; a cycle is reported by the standard rules, not looped on here.
      if (!frag || visiting.has(name)) continue;
      visiting.add(name);
      const cost = selectionCost(frag.selectionSet, ctx, memo, visiting);
      visiting.delete(name);
      memo.set(name, cost);
      total += cost;
    }
  }
  return total;
}

function numberOf(v: ValueNode): number | undefined {
  if (v.kind === Kind.INT) return Number(v.value);
  if (v.kind === Kind.VARIABLE) return MAX_PAGE;
  return undefined;
}
