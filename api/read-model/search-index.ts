// An in-memory full-text index over the public offers, kept in step with the serving store's change events.
// Why our own: a million offers must answer in milliseconds on one core, with updates arriving all the time;
// general-purpose libraries either keep tens of millions of small objects (GC pauses, gigabytes) or cannot
// update in place. This one is an inverted index of packed numbers:
//  - one posting per (offer, term): slot, a generation and a quantized BM25F impact packed into one double,
//    so postings are plain number arrays with no per-posting objects;
//  - an update bumps the offer's generation: its old postings become stale (skipped, then compacted away per
//    term once half a list is stale), its new postings are appended; nothing is ever rebuilt wholesale;
//  - ranking: how many query words matched first (like Typesense/Meilisearch), then the sum of idf × impact ×
//    match quality (exact 1, prefix 0.8, one typo 0.6, two typos 0.4); an expansion never weighs more than the
//    exact word would (a rare word that merely starts like the query must not outrank the word itself);
//  - typo tolerance: query words absent or rare in the dictionary are expanded to dictionary terms within
//    Damerau–Levenshtein distance 1 (4+ letters) or 2 (8+ letters), looked up in buckets by first letter and
//    length; the last query word also matches as a prefix (search as you type).
import { boundedDistance, tokenize } from './tokenizer.ts';

export interface SearchDoc {
  title: string;
  description?: string;
  merchant?: string;
  brand?: string;
  categories?: string[];
  tags?: string[];
  coupon_code?: string;
}

// Field weight and typical length (BM25F length normalization against a fixed average keeps impacts stable
// as the feed changes, so a stored impact never needs recomputing).
const FIELDS: Array<{ get: (d: SearchDoc) => string | string[] | undefined; weight: number; avg: number }> = [
  { get: (d) => d.title, weight: 3, avg: 8 },
  { get: (d) => d.merchant, weight: 2, avg: 2 },
  { get: (d) => d.brand, weight: 2, avg: 2 },
  { get: (d) => d.categories, weight: 1.5, avg: 4 },
  { get: (d) => d.tags, weight: 1.5, avg: 3 },
  { get: (d) => d.coupon_code, weight: 1, avg: 1 },
  { get: (d) => d.description?.slice(0, 4000), weight: 1, avg: 60 },
];
const K1 = 1.2;
const B = 0.75;
const MAX_QUERY_TERMS = 12;
const MAX_EXPANSIONS = 16;
const FUZZY_BELOW_DF = 25;
/** Words in more documents than this are ranked by reading impact-ordered postings from the top and stopping early. */
const EARLY_DF = 2000;
/** Impact maps kept (each 2 bytes per offer slot). */
const IMPACT_MAPS = 64;

// Posting = impact · 2^37 + slot · 2^10 + generation, one double (53 bits): impact is quantized to 16 bits
// (BM25 saturates below K1 + 1 < 8, scaled by 2^13), slots go up to 2^27, generations wrap at 1024. Impact in the
// high bits makes a numeric sort an impact order, which the early-terminating path for very common words uses.
const IMPACT_MUL = 2 ** 37;
const SLOT_MUL = 1024;
const INV_IMPACT = 2 ** -37;
const INV_SLOT = 2 ** -10;
const GEN_MASK = 1023;
const IMPACT_SCALE = 8192;

export interface Ranked { slot: number; matched: number; score: number }
export interface SearchCursor { matched: number; score: number; id: string }

export interface SearchOptions {
  /** Visibility, filters, consent: only accepted slots are ranked. */
  accept: (slot: number) => boolean;
  /** Results wanted (the page size + 1 to know whether there is more). */
  want: number;
  after?: SearchCursor;
  idOf: (slot: number) => string;
  /** Other members of the slot's duplicate group, when it has any: only the best-ranked member is returned. */
  groupOf?: (slot: number) => number[] | undefined;
  /** The document a slot holds (to rank a group's members against each other). */
  docOf?: (slot: number) => SearchDoc | undefined;
  /** Rank by accumulating every posting, never stopping early (the reference the early paths are tested against). */
  exhaustive?: boolean;
  /** Slots the filter can match (a bitset from its facets): others are skipped before anything else is checked. */
  prefilter?: Uint32Array;
}

const inBits = (bits: Uint32Array, s: number) => (s >>> 5) < bits.length && (bits[s >>> 5] & (1 << (s & 31))) !== 0;

export interface SearchResult {
  hits: Ranked[];
  /** Dictionary terms that matched, for highlighting. */
  matchedTerms: string[];
}

interface Expansion { id: number; quality: number; w: number; df: number }
interface Word { bit: number; exps: Expansion[]; df: number }

export class SearchIndex {
  private readonly termIds = new Map<string, number>();
  private readonly terms: string[] = [];
  private readonly postings: number[][] = [];
  private readonly stale: number[] = [];
  private readonly version: number[] = [];
  private readonly buckets = new Map<string, number[]>();
  /** Impact maps of common terms, least recently used first (see addFromMap). */
  private readonly impactMaps = new Map<number, { version: number; impacts: Uint16Array; max: number }>();
  /** Per term: the list version it was last sorted at (impact order, highest first; -1: never). */
  private readonly sortedAt: number[] = [];
  private gen = new Uint16Array(1024);
  private indexed = new Uint8Array(1024);
  private acc = new Float64Array(1024);
  private mask = new Uint16Array(1024);
  private touched = new Int32Array(1024);
  private sorted: string[] = [];
  private sortedDirty = true;
  private readonly fuzzyCache = new Map<string, Array<[number, number]>>();
  private docs = 0;
  private maxSlot = 0;

  get size(): number { return this.docs; }
  get vocabulary(): number { return this.terms.length; }

  /**
   * Indexes (or re-indexes) a slot. `previous` is the document it held before, if it was indexed. `tiebreak`
   * (0 ≤ t < 1, derived from the offer id by the caller) scales impacts by up to 1%: documents of identical
   * shape would otherwise tie by the thousand on a common word, and a page boundary inside a tie means
   * comparing ids across the whole tie.
   */
  set(slot: number, doc: SearchDoc, previous?: SearchDoc, tiebreak = 0): void {
    this.ensure(slot);
    if (this.indexed[slot]) {
      if (previous) this.delete(slot, previous);
      else { this.indexed[slot] = 0; this.gen[slot] = (this.gen[slot] + 1) & GEN_MASK; this.docs--; }
    }
    const g = this.gen[slot];
    if (slot > this.maxSlot) this.maxSlot = slot;
    for (const [term, impact] of impactsOf(doc, tiebreak)) {
      const id = this.termId(term);
      this.postings[id].push(quantize(impact) * IMPACT_MUL + slot * SLOT_MUL + g);
      this.version[id]++;
    }
    this.indexed[slot] = 1;
    this.docs++;
  }

  /** Removes a slot; `doc` is what it was indexed with (its terms' lists learn they hold a stale posting). */
  delete(slot: number, doc: SearchDoc): void {
    if (!this.indexed[slot]) return;
    this.indexed[slot] = 0;
    this.gen[slot] = (this.gen[slot] + 1) & GEN_MASK;
    this.docs--;
    for (const term of impactsOf(doc).keys()) {
      const id = this.termIds.get(term);
      if (id === undefined) continue;
      const s = ++this.stale[id];
      if (s > 32 && s * 2 > this.postings[id].length) this.compact(id);
    }
  }

  search(query: string, o: SearchOptions): SearchResult {
    const words = this.plan(query);
    const matchedTerms = new Set<string>();
    if (!words.length) return { hits: [], matchedTerms: [] };
    for (let want = o.want; ; want *= 4) {
      const { hits, exhausted } = this.collect(words, o, want, matchedTerms);
      const ranked = this.rankGroups(hits, words, o);
      if (ranked.length >= o.want || exhausted) return { hits: ranked.slice(0, o.want), matchedTerms: [...matchedTerms] };
    }
  }

  /** Query words with their dictionary expansions (exact, prefix for the last word, typos), idf-weighted. */
  private plan(query: string): Word[] {
    const words = [...new Set(tokenize(query))].slice(0, MAX_QUERY_TERMS);
    this.refreshSorted();
    const n = Math.max(1, this.docs);
    const idfOf = (df: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));
    return words.map((word, qi) => {
      const exact = this.termIds.get(word);
      const exactDf = exact === undefined ? 0 : this.postings[exact].length - this.stale[exact];
      const cap = exactDf > 0 ? idfOf(exactDf) : Infinity;
      const exps = this.expand(word, qi === words.length - 1).map(([id, quality]) => {
        const df = Math.max(0, this.postings[id].length - this.stale[id]);
        const idf = id === exact ? idfOf(df) : Math.min(idfOf(df), cap);
        return { id, quality, df, w: (idf * quality) / IMPACT_SCALE };
      }).filter((e) => e.df > 0);
      return { bit: 1 << qi, exps, df: exps.reduce((a, e) => a + e.df, 0) };
    });
  }

  /**
   * Candidates ranked, up to `want` after the cursor. Words rarer than COMMON generate candidates; very common
   * words only add to those (their long lists are scanned with a cheap check), unless that leaves fewer
   * candidates than wanted, then they are accumulated in full. A query of one very common word reads its
   * impact-sorted list from the top and stops once the page is full. A candidate is checked against the
   * filters only if it would make the page, so a broad query costs little more than its postings.
   */
  private collect(words: Word[], o: SearchOptions, want: number, matchedTerms: Set<string>): { hits: Ranked[]; exhausted: boolean } {
    const common = Math.max(20_000, this.docs >> 5);
    const live = words.filter((w) => w.exps.length);
    if (!live.length) return { hits: [], exhausted: true };
    if (!o.exhaustive && live.length === 1 && live[0].df > EARLY_DF) return this.topOfCommonWord(live[0], o, want, matchedTerms);
    const byDf = [...live].sort((a, b) => a.df - b.df);
    let generators = o.exhaustive ? byDf : byDf.filter((w) => w.df <= common);
    if (!generators.length) generators = [byDf[0]];
    const others = byDf.filter((w) => !generators.includes(w));
    let count = 0;
    for (const w of generators) count = this.accumulate(w, count, false, matchedTerms);
    for (const w of others) count = w.exps.length === 1 && w.df > count * 3 ? this.addFromMap(w, count, matchedTerms) : this.accumulate(w, count, true, matchedTerms);
    let best = this.drain(count, o, want);
    if (best.size < want && others.length) {
      // The rare words found too little: rank with every word in full.
      count = 0;
      for (const w of live) count = this.accumulate(w, count, false, matchedTerms);
      best = this.drain(count, o, want);
    }
    return { hits: best.sorted(), exhausted: !best.overflowed };
  }

  private accumulate(word: Word, count: number, onlyTouched: boolean, matchedTerms: Set<string>): number {
    // The hot loop of search: arrays in locals, the packed posting decoded with multiplications by powers of two
    // (exact) and integer truncation (every part fits 31 bits).
    const bit = word.bit;
    const mask = this.mask;
    const acc = this.acc;
    const indexed = this.indexed;
    const gens = this.gen;
    let touched = this.touched;
    for (const e of word.exps) {
      const list = this.postings[e.id];
      const w = e.w;
      let hit = false;
      for (let i = 0, n = list.length; i < n; i++) {
        const p = list[i];
        const wq = (p * INV_IMPACT) | 0;
        const rest = p - wq * IMPACT_MUL;
        const slot = (rest * INV_SLOT) | 0;
        const m = mask[slot];
        if ((m & bit) !== 0 || (onlyTouched && m === 0)) continue;
        if (indexed[slot] === 0 || gens[slot] !== rest - slot * SLOT_MUL) continue;
        hit = true;
        if (m === 0) {
          if (count === touched.length) this.touched = touched = grow(touched, count * 2);
          touched[count++] = slot;
        }
        mask[slot] = m | bit;
        acc[slot] += wq * w;
      }
      if (hit) matchedTerms.add(this.terms[e.id]);
    }
    return count;
  }

  /**
   * A very common word added to the candidates the rarer words found by looking each candidate up in the word's
   * impact map, instead of scanning its whole (much longer) list. Same sums as accumulate(…, onlyTouched).
   */
  private addFromMap(word: Word, count: number, matchedTerms: Set<string>): number {
    const e = word.exps[0];
    const map = this.impactMap(e.id).impacts;
    const bit = word.bit;
    const mask = this.mask;
    const acc = this.acc;
    const touched = this.touched;
    let hit = false;
    for (let i = 0; i < count; i++) {
      const slot = touched[i];
      const v = map[slot];
      if (v === 0) continue;
      hit = true;
      mask[slot] |= bit;
      acc[slot] += (v - 1) * e.w;
    }
    if (hit) matchedTerms.add(this.terms[e.id]);
    return count;
  }

  /** The best `want` accepted candidates after the cursor; resets the accumulators. */
  private drain(count: number, o: SearchOptions, want: number): Best {
    const best = new Best(want, o.idOf);
    const mask = this.mask;
    const acc = this.acc;
    const touched = this.touched;
    const after = o.after;
    const pre = o.prefilter;
    for (let i = 0; i < count; i++) {
      const slot = touched[i];
      const m = mask[slot];
      const raw = acc[slot];
      acc[slot] = 0;
      mask[slot] = 0;
      if (pre && !inBits(pre, slot)) continue;
      const matched = popcount(m);
      // Cheap rejection before rounding: only a candidate at least as good as the page's worst can enter.
      if (best.full && (matched < best.worstMatched || (matched === best.worstMatched && raw < best.worstScore - 1e-6))) { best.overflowed = true; continue; }
      const score = round6(raw);
      if (after && !afterCursor(slot, matched, score, after, o.idOf)) continue;
      if (best.competes(slot, matched, score) && o.accept(slot)) best.add(slot, matched, score);
    }
    return best;
  }

  /** One very common word: its postings in impact order, stopping once `want` results (and their ties) are in. */
  private topOfCommonWord(word: Word, o: SearchOptions, want: number, matchedTerms: Set<string>): { hits: Ranked[]; exhausted: boolean } {
    const best = new Best(want, o.idOf);
    let seen = 0;
    let exhausted = true;
    for (const e of word.exps) {
      const list = this.sortedList(e.id);
      for (let i = 0; i < list.length; i++) {
        const p = list[i];
        const wq = Math.floor(p / IMPACT_MUL);
        const score = round6(wq * e.w);
        if (best.full && score < best.worstScore) { exhausted = false; break; }
        const rest = p - wq * IMPACT_MUL;
        const slot = Math.floor(rest / SLOT_MUL);
        if (!this.indexed[slot] || this.gen[slot] !== rest - slot * SLOT_MUL || this.mask[slot]) continue;
        if (o.prefilter && !inBits(o.prefilter, slot)) continue;
        // Marked as seen (another expansion may list it too); cleared below.
        this.mask[slot] = 1;
        if (seen === this.touched.length) this.touched = grow(this.touched, seen * 2);
        this.touched[seen++] = slot;
        if (o.after && !afterCursor(slot, 1, score, o.after, o.idOf)) continue;
        if (best.competes(slot, 1, score) && o.accept(slot)) { best.add(slot, 1, score); matchedTerms.add(this.terms[e.id]); }
      }
    }
    for (let i = 0; i < seen; i++) this.mask[this.touched[i]] = 0;
    return { hits: best.sorted(), exhausted: exhausted && !best.overflowed };
  }

  /** A common term's impact per slot (quantized impact + 1; 0: absent), rebuilt after its list changed. */
  private impactMap(id: number): { impacts: Uint16Array; max: number } {
    const cached = this.impactMaps.get(id);
    if (cached && cached.version === this.version[id] && cached.impacts.length > this.maxSlot) {
      this.impactMaps.delete(id);
      this.impactMaps.set(id, cached);
      return cached;
    }
    // Sized to the highest slot in use (not the grown capacity): 2 bytes per offer.
    const impacts = new Uint16Array(this.maxSlot + 1);
    let max = 0;
    for (const p of this.postings[id]) {
      const wq = Math.floor(p / IMPACT_MUL);
      const rest = p - wq * IMPACT_MUL;
      const slot = Math.floor(rest / SLOT_MUL);
      if (!this.indexed[slot] || this.gen[slot] !== rest - slot * SLOT_MUL) continue;
      impacts[slot] = wq + 1;
      if (wq > max) max = wq;
    }
    if (this.impactMaps.size >= IMPACT_MAPS) this.impactMaps.delete(this.impactMaps.keys().next().value!);
    const entry = { version: this.version[id], impacts, max };
    this.impactMaps.set(id, entry);
    return entry;
  }

  /** Ranked hits with every duplicate group reduced to its best-ranked accepted member. */
  private rankGroups(hits: Ranked[], words: Word[], o: SearchOptions): Ranked[] {
    if (!o.groupOf || !o.docOf) return hits;
    return hits.filter((h) => {
      const members = o.groupOf!(h.slot);
      if (!members) return true;
      for (const m of members) {
        if (m === h.slot || !o.accept(m)) continue;
        const doc = o.docOf!(m);
        if (doc && rankCmp(this.scoreDoc(m, doc, words, tiebreakOf(o.idOf(m))), h, o.idOf) < 0) return false;
      }
      return true;
    });
  }

  /** The rank a document gets for the planned query, computed from the document itself (same arithmetic). */
  private scoreDoc(slot: number, doc: SearchDoc, words: Word[], tiebreak: number): Ranked {
    const impacts = impactsOf(doc, tiebreak);
    let acc = 0;
    let matched = 0;
    for (const w of words) {
      for (const e of w.exps) {
        const impact = impacts.get(this.terms[e.id]);
        if (impact === undefined) continue;
        acc += quantize(impact) * e.w;
        matched++;
        break;
      }
    }
    return { slot, matched, score: round6(acc) };
  }

  /**
   * The term's postings in impact order, highest first. Sorted in place (ordering means nothing to the other
   * paths), again only after the list changed: between syncs a common word's list is sorted once.
   */
  private sortedList(id: number): number[] {
    const list = this.postings[id];
    if (this.sortedAt[id] !== this.version[id]) {
      const sorted = Float64Array.from(list).sort();
      for (let i = 0, j = sorted.length - 1; j >= 0; i++, j--) list[i] = sorted[j];
      this.sortedAt[id] = this.version[id];
    }
    return list;
  }

  /** Dictionary terms a query word stands for, with their match quality. */
  private expand(word: string, isLast: boolean): Array<[number, number]> {
    const out = new Map<number, number>();
    const exact = this.termIds.get(word);
    const exactDf = exact === undefined ? 0 : this.postings[exact].length - this.stale[exact];
    if (exact !== undefined) out.set(exact, 1);
    if (isLast && word.length >= 2) for (const id of this.prefixTerms(word)) if (!out.has(id)) out.set(id, 0.8);
    if (exactDf < FUZZY_BELOW_DF && word.length >= 4) for (const [id, q] of this.fuzzyTerms(word)) if (!out.has(id)) out.set(id, q);
    return [...out].sort((a, b) => b[1] - a[1]);
  }

  private prefixTerms(prefix: string): number[] {
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] < prefix) lo = mid + 1; else hi = mid;
    }
    const found: Array<[number, number]> = [];
    for (let i = lo; i < s.length && found.length < 256 && s[i].startsWith(prefix); i++) {
      if (s[i] === prefix) continue;
      const id = this.termIds.get(s[i])!;
      const df = this.postings[id].length - this.stale[id];
      if (df > 0) found.push([id, df]);
    }
    return found.sort((a, b) => b[1] - a[1]).slice(0, MAX_EXPANSIONS).map(([id]) => id);
  }

  private fuzzyTerms(word: string): Array<[number, number]> {
    const cached = this.fuzzyCache.get(word);
    if (cached) return cached;
    const max = word.length >= 8 ? 2 : 1;
    const found: Array<[number, number, number]> = [];
    for (let len = word.length - max; len <= word.length + max; len++) {
      for (const id of this.buckets.get(`${word[0]}\u0000${len}`) ?? []) {
        const d = boundedDistance(word, this.terms[id], max);
        if (d === 0 || d > max) continue;
        const df = this.postings[id].length - this.stale[id];
        if (df > 0) found.push([id, d, df]);
      }
    }
    const out = found.sort((a, b) => a[1] - b[1] || b[2] - a[2]).slice(0, MAX_EXPANSIONS).map(([id, d]): [number, number] => [id, d === 1 ? 0.6 : 0.4]);
    if (this.fuzzyCache.size > 20_000) this.fuzzyCache.clear();
    this.fuzzyCache.set(word, out);
    return out;
  }

  private termId(term: string): number {
    let id = this.termIds.get(term);
    if (id !== undefined) return id;
    id = this.terms.length;
    this.termIds.set(term, id);
    this.terms.push(term);
    this.postings.push([]);
    this.stale.push(0);
    this.version.push(0);
    this.sortedAt.push(-1);
    const key = `${term[0]}\u0000${term.length}`;
    const bucket = this.buckets.get(key);
    if (bucket) bucket.push(id); else this.buckets.set(key, [id]);
    this.sortedDirty = true;
    // A new term can be a closer match for a cached misspelling.
    if (this.fuzzyCache.size) this.fuzzyCache.clear();
    return id;
  }

  /** The sorted dictionary for prefix lookups, rebuilt lazily after new terms arrived. */
  refreshSorted(): void {
    if (!this.sortedDirty) return;
    this.sorted = [...this.terms].sort();
    this.sortedDirty = false;
  }

  private compact(id: number): void {
    const wasSorted = this.sortedAt[id] === this.version[id];
    this.postings[id] = this.postings[id].filter((p) => {
      const rest = p - Math.floor(p / IMPACT_MUL) * IMPACT_MUL;
      const slot = Math.floor(rest / SLOT_MUL);
      return this.indexed[slot] === 1 && this.gen[slot] === rest - slot * SLOT_MUL;
    });
    this.stale[id] = 0;
    this.version[id]++;
    // Filtering keeps the order: a sorted list stays sorted.
    if (wasSorted) this.sortedAt[id] = this.version[id];
  }

  private ensure(slot: number): void {
    if (slot < this.gen.length) return;
    const size = Math.max(slot + 1, this.gen.length * 2);
    this.gen = grow(this.gen, size);
    this.indexed = grow(this.indexed, size);
    this.acc = grow(this.acc, size);
    this.mask = grow(this.mask, size);
  }
}

/** A stable number in [0, 1) from an id (offer ids are hex digests; any string works). */
export function tiebreakOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

// 65534 at most: impact maps store impact + 1 in 16 bits.
const quantize = (impact: number): number => Math.min(65534, Math.round(impact * IMPACT_SCALE));
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Negative when a ranks before b: more matched words, higher score, then id. */
export function rankCmp(a: Ranked, b: Ranked, idOf: (slot: number) => string): number {
  if (a.matched !== b.matched) return b.matched - a.matched;
  if (a.score !== b.score) return b.score - a.score;
  const ai = idOf(a.slot);
  const bi = idOf(b.slot);
  return ai < bi ? -1 : ai > bi ? 1 : 0;
}

function afterCursor(slot: number, matched: number, score: number, c: SearchCursor, idOf: (slot: number) => string): boolean {
  if (matched !== c.matched) return matched < c.matched;
  if (score !== c.score) return score < c.score;
  return idOf(slot) > c.id;
}

/** The best n candidates seen so far: a max-heap on rank with the worst kept candidate at the root. */
class Best {
  private readonly heap: Ranked[] = [];
  /** A competing candidate was turned away or pushed out: there are more than n. */
  overflowed = false;
  constructor(private readonly n: number, private readonly idOf: (slot: number) => string) {}

  get size(): number { return this.heap.length; }
  get full(): boolean { return this.heap.length >= this.n; }
  get worstScore(): number { return this.heap[0]?.score ?? -Infinity; }
  get worstMatched(): number { return this.heap[0]?.matched ?? 0; }

  /** Whether a candidate would make it in (cheap: numbers first, the id only on a tie). */
  competes(slot: number, matched: number, score: number): boolean {
    if (this.heap.length < this.n) return true;
    this.overflowed = true;
    const w = this.heap[0];
    if (matched !== w.matched) return matched > w.matched;
    if (score !== w.score) return score > w.score;
    return this.idOf(slot) < this.idOf(w.slot);
  }

  private worse(a: Ranked, b: Ranked): boolean { return rankCmp(a, b, this.idOf) > 0; }

  add(slot: number, matched: number, score: number): void {
    const h = this.heap;
    const x: Ranked = { slot, matched, score };
    if (h.length < this.n) {
      h.push(x);
      let i = h.length - 1;
      while (i > 0) { const p = (i - 1) >> 1; if (!this.worse(h[i], h[p])) break; [h[i], h[p]] = [h[p], h[i]]; i = p; }
      return;
    }
    h[0] = x;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.worse(h[l], h[m])) m = l;
      if (r < h.length && this.worse(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }

  sorted(): Ranked[] { return this.heap.slice().sort((a, b) => rankCmp(a, b, this.idOf)); }
}

/** The k first items under cmp, sorted, without sorting everything (a bounded binary heap). */
export function topK<T>(items: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (items.length <= k || items.length < 64) return items.slice().sort(cmp).slice(0, k);
  // Max-heap on cmp: the worst kept item at the root.
  const heap: T[] = [];
  const up = (i: number) => { while (i > 0) { const p = (i - 1) >> 1; if (cmp(heap[i], heap[p]) <= 0) break; [heap[i], heap[p]] = [heap[p], heap[i]]; i = p; } };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && cmp(heap[l], heap[m]) > 0) m = l;
      if (r < heap.length && cmp(heap[r], heap[m]) > 0) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (const x of items) {
    if (heap.length < k) { heap.push(x); up(heap.length - 1); } else if (cmp(x, heap[0]) < 0) { heap[0] = x; down(0); }
  }
  return heap.sort(cmp);
}

/** Per distinct term of a document: its BM25F impact (field-weighted, length-normalized, saturated). */
export function impactsOf(doc: SearchDoc, tiebreak = 0): Map<string, number> {
  const tfw = new Map<string, number>();
  for (const f of FIELDS) {
    const v = f.get(doc);
    if (!v) continue;
    const tokens: string[] = [];
    if (Array.isArray(v)) for (const x of v) tokenize(x, tokens); else tokenize(v, tokens);
    if (!tokens.length) continue;
    const norm = f.weight / (1 - B + (B * tokens.length) / f.avg);
    for (const t of tokens) tfw.set(t, (tfw.get(t) ?? 0) + norm);
  }
  const jitter = 1 + tiebreak / 100;
  for (const [t, w] of tfw) tfw.set(t, ((w * (K1 + 1)) / (w + K1)) * jitter);
  return tfw;
}

function popcount(x: number): number {
  let c = 0;
  while (x) { x &= x - 1; c++; }
  return c;
}

function grow<T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
