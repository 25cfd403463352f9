// Limits on the shape of a GraphQL document, checked before GraphQL's own validation and before anything runs:
// validation itself is the cost an attacker aims at (a fragment spread twice by each of 40 fragments is 2^40
// fields; thousands of same-named fields make field merging quadratic; hundreds of aliases multiply resolver
// calls past the cost limit's "cost 1 per field"). Everything here is linear in the document's size: fragments
// are measured once and their measure reused wherever they are spread. Field depth is Mercurius' queryDepth (it
// runs on both paths); the source's nesting is bounded here, before the recursive parser sees it.
import {
  GraphQLError, Kind, parse, specifiedRules, validate,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode, type ValidationRule,
} from 'graphql';

export interface DocumentLimits {
  /** Aliased fields in the operation, fragments counted as often as they are spread. */
  maxAliases: number;
  /** Field selections in the operation, fragments expanded. */
  maxFields: number;
  /** Operations and fragments in one document (only one operation runs; the rest would only be validated). */
  maxDefinitions: number;
  /** Lexical tokens: bounds the parser's work (and its recursion) whatever the document's size. */
  maxTokens: number;
  /** Characters of the document. */
  maxLength: number;
  /** Nesting of braces, parentheses and brackets in the source, checked before the (recursive) parser runs. */
  maxNesting: number;
  /** Characters of one string literal (a search, a filter value): a larger value is an attack, not a query. */
  maxStringLength: number;
}

export const DEFAULT_DOCUMENT_LIMITS: Omit<DocumentLimits, 'maxLength'> = {
  maxAliases: 30, maxFields: 1000, maxDefinitions: 20, maxTokens: 5000, maxNesting: 64, maxStringLength: 1000,
};

/** An error in the request itself: reported with HTTP 400 and never executed. */
export class GraphQLRequestError extends GraphQLError {
  readonly statusCode = 400;
  constructor(message: string) { super(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }); }
}

interface Measure { aliases: number; fields: number }

/** The first limit the document breaks, as a sentence for the client, or undefined. */
export function documentProblem(doc: DocumentNode, limits: DocumentLimits): string | undefined {
  const defs = doc.definitions;
  if (defs.length > limits.maxDefinitions) return `the document has ${defs.length} definitions; at most ${limits.maxDefinitions} are accepted`;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of defs) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, Measure>();
  const visiting = new Set<string>();

  const measure = (set: SelectionSetNode): Measure => {
    const m: Measure = { aliases: 0, fields: 0 };
    for (const sel of set.selections) {
      let inner: Measure;
      if (sel.kind === Kind.FIELD) {
        inner = sel.selectionSet ? measure(sel.selectionSet) : { aliases: 0, fields: 0 };
        m.fields += 1 + inner.fields;
        m.aliases += (sel.alias ? 1 : 0) + inner.aliases;
        continue;
      }
      if (sel.kind === Kind.INLINE_FRAGMENT) inner = measure(sel.selectionSet);
      else inner = fragment(sel.name.value);
      m.fields += inner.fields;
      m.aliases += inner.aliases;
    }
    return m;
  };
  const fragment = (name: string): Measure => {
    const known = memo.get(name);
    if (known) return known;
    const def = fragments.get(name);
    // Unknown fragments and cycles are GraphQL validation errors, reported by its own rules.
    if (!def || visiting.has(name)) return { aliases: 0, fields: 0 };
    visiting.add(name);
    const m = measure(def.selectionSet);
    visiting.delete(name);
    memo.set(name, m);
    return m;
  };

  for (const d of defs) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const m = measure(d.selectionSet);
    const op = d.name ? `operation ${d.name.value}` : 'the operation';
    if (m.aliases > limits.maxAliases) return `${op} uses ${fmt(m.aliases)} aliases; at most ${limits.maxAliases} are accepted`;
    if (m.fields > limits.maxFields) return `${op} selects ${fmt(m.fields)} fields; at most ${limits.maxFields} are accepted`;
  }
  return undefined;
}

const fmt = (n: number) => (n > 1e9 ? 'more than a billion' : String(n));

/**
 * Parses and fully validates a document the way the HTTP path does (size, tokens, shape, GraphQL's rules and
 * ours). The websocket path of Mercurius parses subscriptions without token limits and executes them without
 * validation; this runs first there.
 */
export function vetDocument(schema: GraphQLSchema, source: string, limits: DocumentLimits, rules: readonly ValidationRule[]): DocumentNode {
  const doc = parseSource(source, limits);
  const problem = documentProblem(doc, limits);
  if (problem) throw new GraphQLRequestError(problem);
  const errors = validate(schema, doc, [...specifiedRules, ...rules], { maxErrors: 10 });
  if (errors.length) throw new GraphQLRequestError(errors.map((e) => e.message).join('; '));
  return doc;
}

/** A source the parser may see: within the size limit and not a JSON-encoded AST (Mercurius would accept one). */
export function checkSource(source: string, limits: Pick<DocumentLimits, 'maxLength' | 'maxNesting' | 'maxStringLength'>): void {
  if (source.length > limits.maxLength) throw new GraphQLRequestError(`the document is ${source.length} characters long; at most ${limits.maxLength} are accepted`);
  // No GraphQL document starts with `[` or with `{"`; Mercurius would take such a source as a pre-parsed AST and
  // hand it, unchecked, to validation and execution.
  if (/^\s*(\[|\{\s*")/.test(source)) throw new GraphQLRequestError('the query must be a GraphQL document');
  const { nesting, longestString } = scan(source);
  if (nesting > limits.maxNesting) throw new GraphQLRequestError(`the document is nested ${nesting} levels deep; at most ${limits.maxNesting} are accepted`);
  if (longestString > limits.maxStringLength) throw new GraphQLRequestError(`a string in the document is ${longestString} characters long; at most ${limits.maxStringLength} are accepted`);
}

/** Deepest nesting of { ( [ outside strings and comments, and the longest string: one linear pass, no recursion. */
export function scan(source: string): { nesting: number; longestString: number } {
  let depth = 0;
  let nesting = 0;
  let longestString = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      const start = i;
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        i = end < 0 ? source.length : end + 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== '\n'; i++) if (source[i] === '\\') i++;
      }
      longestString = Math.max(longestString, i - start - 1);
    } else if (c === '{' || c === '(' || c === '[') {
      if (++depth > nesting) nesting = depth;
    } else if (c === '}' || c === ')' || c === ']') {
      depth--;
    }
  }
  return { nesting, longestString };
}

function parseSource(source: string, limits: DocumentLimits): DocumentNode {
  checkSource(source, limits);
  try {
    return parse(source, { maxTokens: limits.maxTokens, noLocation: true });
  } catch (e) {
    throw new GraphQLRequestError((e as Error).message);
  }
}
