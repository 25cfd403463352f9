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
      const cost = selectionCost(node.selectionSet, 1, context, new Set());
      if (cost > maxCost) {
        context.reportError(new GraphQLError(`query cost ${cost} exceeds the limit of ${maxCost}: ask for fewer items (first) or fewer fields`, { nodes: [node] }));
      }
    },
  });
}

function selectionCost(set: SelectionSetNode, multiplier: number, ctx: ValidationContext, fragments: Set<string>): number {
  let total = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      total += multiplier;
      if (!sel.selectionSet) continue;
      const firstArg = sel.arguments?.find((a) => a.name.value === 'first');
      const first = firstArg ? numberOf(firstArg.value) : undefined;
      const size = first ?? (LIST_FIELDS.has(sel.name.value) ? DEFAULT_LIST : 1);
      total += selectionCost(sel.selectionSet, multiplier * Math.max(1, size), ctx, fragments);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      total += selectionCost(sel.selectionSet, multiplier, ctx, fragments);
    } else {
      const name = sel.name.value;
      const frag = ctx.getFragment(name);
      // A fragment spread twice costs twice; a cycle is reported by the standard rules, not looped on here.
      if (!frag || fragments.has(name)) continue;
      fragments.add(name);
      total += selectionCost(frag.selectionSet, multiplier, ctx, fragments);
      fragments.delete(name);
    }
  }
  return total;
}

function numberOf(v: ValueNode): number | undefined {
  if (v.kind === Kind.INT) return Number(v.value);
  if (v.kind === Kind.VARIABLE) return MAX_PAGE;
  return undefined;
}
