// The API's read model: every public offer (status active) of the serving store, in memory, with the orders,
// facets and full-text index the public routes need, so a request costs microseconds instead of a scan of a
// million rows in DuckDB. It is a replica, never a source of truth: loaded from the store at start and kept in
// step by applying the store's current state of every offer a run changed (see change-feed.ts), so applying the
// same change twice is harmless. Each API node holds its own; the store stays the only writer.
//
// Layout: an offer lives in a slot; its canonical JSON stays a string (one heap object per offer keeps GC calm)
// and what filters and ordering need sits in typed arrays indexed by slot. Facets (network, kind, country,
// language, vertical, coupon) are bitsets per value with counts, so a filter is planned: rank the few offers a
// selective facet allows, or walk an order. Orders are slot arrays sorted by (first_seen, id) and
// (last_changed, id), globally and per network; entries of offers that left or moved are skipped and compacted
// away in bulk.
import type { Offer } from '../../engine/types/offer.generated.ts';
import { SearchIndex, tiebreakOf, topK, type Ranked, type SearchDoc } from './search-index.ts';

export interface StoredOffer {
  id: string;
  network: string;
  status: string;
  /** Canonical offer JSON. */
  data: string;
  group_key: string;
  first_seen_ms: number;
  changed_ms: number;
}

export type Sort = 'newest' | 'changed';
export type ConsentView = 'all' | 'no-tracking' | 'landing';

export interface OfferFilter {
  network?: string[];
  kind?: string[];
  merchant?: string[];
  country?: string[];
  lang?: string[];
  vertical?: string[];
  min_price?: number;
  max_price?: number;
  has_coupon?: boolean;
}

export interface PageCursor { k: number; i: string; m?: number }

export interface QueryOptions {
  filter: OfferFilter;
  consent: ConsentView;
  limit: number;
  /** One offer per duplicate group (default true). */
  group?: boolean;
  now?: number;
}

export interface Page { slots: number[]; next?: PageCursor; scores?: Ranked[] }

export interface AppliedChange { id: string; slot: number; wasPublic: boolean; isPublic: boolean }

const PUBLIC = 1;
const COUPON = 2;
const TRACKING = 4;
const LANDING = 8;
const KINDS = ['product', 'coupon', 'deal', 'program'];
/** Merchants with fewer offers than this are served from their own slot list instead of walking the order. */
const MERCHANT_LIST_MAX = 50_000;
/** Filters narrowing the offers to at most this many are served by ranking those, not by walking the order. */
const EXTRACT_MAX = 4000;
/** Steps a walk takes before it checks whether the filter's facets together are selective. */
const WALK_BUDGET = 4000;

interface FacetDim { kind: string; sets: Uint32Array[]; count: number }

class Interner {
  readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(v: string): number {
    let id = this.ids.get(v);
    if (id === undefined) { id = this.values.length; this.ids.set(v, id); this.values.push(v); }
    return id;
  }
}

/**
 * An order-preserving number for an id: its first six characters in base 256 (characters above 255 count as 255),
 * so comparing codes agrees with comparing the strings wherever the codes differ; equal codes fall back to the
 * strings. Ties on sort keys are the rule (a run's offers share their first-seen time), and comparing numbers
 * instead of heap strings keeps sorting, merging and ranking them cheap.
 */
export function idCode(id: string): number {
  let c = 0;
  for (let i = 0; i < 6; i++) c = c * 256 + (i < id.length ? Math.min(255, id.charCodeAt(i)) : 0);
  return c;
}

/** Compares slots by id, codes first. */
class IdOrder {
  constructor(private readonly codes: () => Float64Array, private readonly strings: string[]) {}
  cmp(a: number, b: number): number {
    const c = this.codes();
    const d = c[a] - c[b];
    if (d !== 0) return d;
    const x = this.strings[a];
    const y = this.strings[b];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  /** The slot's id against an id given with its code. */
  vsId(a: number, code: number, id: string): number {
    const d = this.codes()[a] - code;
    if (d !== 0) return d;
    const x = this.strings[a];
    return x < id ? -1 : x > id ? 1 : 0;
  }
}

/**
 * Slots sorted by (key, id) ascending, for one membership (public, or public without a tracking URL). Entries
 * are only appended or merged in; an entry is live while its slot is a member and still carries the key the
 * entry was made with, so a removal or a move costs nothing until a compaction drops the dead entries in bulk.
 */
class SlotOrder {
  slots = new Int32Array(1024);
  keys = new Float64Array(1024);
  /** Per entry: the generation of its slot's entry when it was made. */
  gens = new Uint32Array(1024);
  length = 0;
  private dead = 0;
  /** Per slot: the key of its current entry (0: none) and that entry's generation (shared with followers). */
  entryKey = new Float64Array(0);
  entryGen = new Uint32Array(0);
  private pending: number[] = [];
  /** Orders of one network each, holding the same entries as this one for that network's slots. */
  private readonly followers: SlotOrder[] = [];

  constructor(
    private readonly key: () => Float64Array, readonly member: (slot: number) => boolean, private readonly ids: IdOrder,
    private readonly leader?: SlotOrder,
  ) {}

  /** An order restricted to a subset of this one's members (one network), sharing its entry bookkeeping. */
  follower(member: (slot: number) => boolean): SlotOrder {
    const f = new SlotOrder(this.key, (s) => this.member(s) && member(s), this.ids, this);
    this.followers.push(f);
    return f;
  }

  ensure(size: number): void {
    if (this.leader) return;
    this.entryKey = grow(this.entryKey, size);
    this.entryGen = grow(this.entryGen, size);
  }

  private get gensOf(): Uint32Array { return this.leader ? this.leader.entryGen : this.entryGen; }

  /** After a slot changed: queue a new entry when it is a member whose current entry does not carry its key. */
  touch(slot: number, follower?: SlotOrder): void {
    const k = this.key()[slot];
    const cur = this.entryKey[slot];
    if (this.member(slot)) {
      if (cur === k) return;
      if (cur !== 0) { this.dead++; if (follower) follower.dead++; }
      this.entryKey[slot] = k;
      this.entryGen[slot]++;
      this.pending.push(slot);
      if (follower?.member(slot)) follower.pending.push(slot);
    } else if (cur !== 0) { this.dead++; if (follower) follower.dead++; }
  }

  valid(i: number): boolean {
    const s = this.slots[i];
    return this.gens[i] === this.gensOf[s] && this.member(s);
  }

  /** Adds the queued slots: appended when they sort after everything (new offers), else merged in one pass. */
  flush(deferred = false): void {
    if (deferred) return;
    for (const f of this.followers) f.flush();
    // A slot touched twice in one batch has one current entry.
    if (this.pending.length) this.merge([...new Set(this.pending)]);
    this.pending = [];
    if (this.dead > 1024 && this.dead * 4 > this.length) this.compact();
  }

  /** First position whose (key, id) is ≥ the cursor's. */
  lowerBound(k: number, id: string): number {
    const code = idCode(id);
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const mk = this.keys[mid];
      if (mk < k || (mk === k && this.ids.vsId(this.slots[mid], code, id) < 0)) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  private push(slot: number, key: number, gen: number): void {
    if (this.length === this.slots.length) {
      this.slots = grow(this.slots, this.length * 2);
      this.keys = grow(this.keys, this.length * 2);
      this.gens = grow(this.gens, this.length * 2);
    }
    this.slots[this.length] = slot;
    this.gens[this.length] = gen;
    this.keys[this.length++] = key;
  }

  private merge(add: number[]): void {
    const key = this.key();
    const ids = this.ids;
    const gens = this.gensOf;
    add.sort((a, b) => key[a] - key[b] || ids.cmp(a, b));
    const first = add[0];
    if (!this.length || key[first] > this.keys[this.length - 1] || (key[first] === this.keys[this.length - 1] && ids.cmp(first, this.slots[this.length - 1]) > 0)) {
      for (const s of add) this.push(s, key[s], gens[s]);
      return;
    }
    const oldSlots = this.slots.slice(0, this.length);
    const oldKeys = this.keys.slice(0, this.length);
    const oldGens = this.gens.slice(0, this.length);
    const n = this.length;
    this.length = 0;
    let i = 0;
    let j = 0;
    while (i < n || j < add.length) {
      const takeOld = j >= add.length || (i < n && (oldKeys[i] < key[add[j]] || (oldKeys[i] === key[add[j]] && ids.cmp(oldSlots[i], add[j]) <= 0)));
      if (takeOld) { this.push(oldSlots[i], oldKeys[i], oldGens[i]); i++; } else { this.push(add[j], key[add[j]], gens[add[j]]); j++; }
    }
  }

  private compact(): void {
    const gens = this.gensOf;
    let w = 0;
    for (let r = 0; r < this.length; r++) {
      const s = this.slots[r];
      const current = this.gens[r] === gens[s];
      if (current && this.member(s)) { this.slots[w] = s; this.gens[w] = this.gens[r]; this.keys[w++] = this.keys[r]; continue; }
      // The slot's current entry goes: forget its key, so that rejoining pushes a new entry to the leader and
      // every follower alike (a follower may compact an entry its leader still holds).
      if (current) (this.leader ?? this).entryKey[s] = 0;
    }
    this.length = w;
    this.dead = 0;
  }
}

export interface IndexTuning {
  /** Filters narrowing the offers to at most this many are served by ranking those, not by walking an order. */
  extractMax?: number;
  /** Steps a walk takes before it checks whether the filter's facets together are selective. */
  walkBudget?: number;
}

export class OfferIndex {
  private readonly extractMax: number;
  private readonly walkBudget: number;

  constructor(tuning: IndexTuning = {}) {
    this.extractMax = tuning.extractMax ?? EXTRACT_MAX;
    this.walkBudget = tuning.walkBudget ?? WALK_BUDGET;
  }

  readonly search = new SearchIndex();
  private readonly idToSlot = new Map<string, number>();
  private readonly ids: string[] = [];
  private data: Array<string | undefined> = [];
  private groupKeys: Array<string | undefined> = [];
  private capacity = 0;
  private flags = new Uint8Array(0);
  private net = new Uint16Array(0);
  private kind = new Uint8Array(0);
  private merchantA = new Int32Array(0);
  private merchantB = new Int32Array(0);
  private gid = new Int32Array(0);
  private firstSeen = new Float64Array(0);
  private changed = new Float64Array(0);
  private expires = new Float64Array(0);
  private price = new Float64Array(0);
  private discount = new Float32Array(0);
  private payout = new Float32Array(0);
  private readonly networks = new Interner();
  private readonly merchants = new Interner();
  private readonly groups = new Interner();
  private groupSole = new Int32Array(0);
  private readonly groupMulti = new Map<number, number[]>();
  private readonly merchantSlots = new Map<number, Set<number>>();
  // Bitsets per facet value (network, kind, country, language, vertical) with their population counts: a filter
  // is planned from them (see latest()) instead of walking the order past offers that cannot match.
  private readonly facets = {
    network: new Map<string, Uint32Array>(), kind: new Map<string, Uint32Array>(), country: new Map<string, Uint32Array>(),
    lang: new Map<string, Uint32Array>(), vertical: new Map<string, Uint32Array>(), coupon: new Map<string, Uint32Array>(),
  };
  private readonly facetCounts = new Map<string, number>();
  private scratch = new Uint32Array(0);
  private scratch2 = new Uint32Array(0);
  private readonly isPublic = (s: number) => (this.flags[s] & PUBLIC) !== 0;
  private readonly isPublicNoTracking = (s: number) => (this.flags[s] & (PUBLIC | TRACKING)) === PUBLIC;
  private idCodes = new Float64Array(0);
  private readonly slotId = new IdOrder(() => this.idCodes, this.ids);
  // By first seen and by last change; each also restricted to offers without a tracking URL, which is all a
  // visitor without affiliate consent may see (walking the full order for those few would cost a full scan).
  private readonly byFirst = new SlotOrder(() => this.firstSeen, this.isPublic, this.slotId);
  private readonly byChanged = new SlotOrder(() => this.changed, this.isPublic, this.slotId);
  private readonly byFirstNoTracking = new SlotOrder(() => this.firstSeen, this.isPublicNoTracking, this.slotId);
  private readonly byChangedNoTracking = new SlotOrder(() => this.changed, this.isPublicNoTracking, this.slotId);
  private readonly orders = [this.byFirst, this.byChanged, this.byFirstNoTracking, this.byChangedNoTracking];
  // The same four orders per network (followers sharing the bookkeeping): one network's offers arrive together,
  // by run, so a network filter on the global order could walk past every other network's newer offers.
  private readonly netOrders: SlotOrder[][] = [];

  private ordersOfNetwork(n: number): SlotOrder[] {
    let o = this.netOrders[n];
    if (!o) {
      const member = (s: number) => this.net[s] === n;
      o = this.netOrders[n] = this.orders.map((leader) => leader.follower(member));
    }
    return o;
  }
  private publicCount = 0;
  /** Bumped on every applied batch: caches of query results key on it. */
  generation = 0;

  get size(): number { return this.publicCount; }

  private bulkLoading = false;

  /**
   * Applies many batches (the initial load) with the orders built once at the end: merging every batch into
   * orders that already hold the same sort key (one run's offers share their first-seen time) would cost a
   * pass over the order per batch.
   */
  async bulk(load: () => Promise<unknown>): Promise<void> {
    this.bulkLoading = true;
    try {
      await load();
    } finally {
      this.bulkLoading = false;
      for (const order of this.orders) order.flush();
      this.generation++;
    }
  }

  // ---------------------------------------------------------------------------------------------- updates

  /** Applies the current state of offers: active ones are (re)indexed, any other status leaves the public set. */
  apply(rows: StoredOffer[]): AppliedChange[] {
    const out: AppliedChange[] = [];
    for (const row of rows) {
      let slot = this.idToSlot.get(row.id);
      const isPublic = row.status === 'active';
      if (slot === undefined) {
        if (!isPublic) { out.push({ id: row.id, slot: -1, wasPublic: false, isPublic }); continue; }
        slot = this.ids.length;
        this.ensure(slot + 1);
        this.ids.push(row.id);
        this.idCodes[slot] = idCode(row.id);
        this.data.push(undefined);
        this.groupKeys.push(undefined);
        this.idToSlot.set(row.id, slot);
      }
      const wasPublic = (this.flags[slot] & PUBLIC) !== 0;
      const previous = wasPublic ? (JSON.parse(this.data[slot]!) as Offer) : undefined;
      if (previous) this.unlinkFacets(slot, previous);
      if (isPublic) {
        const offer = JSON.parse(row.data) as Offer;
        this.fill(slot, row, offer);
        this.search.set(slot, searchDoc(offer), previous && searchDoc(previous), tiebreakOf(row.id));
        if (!wasPublic) this.publicCount++;
      } else if (wasPublic) {
        this.search.delete(slot, searchDoc(previous!));
        this.flags[slot] = 0;
        this.data[slot] = undefined;
        this.groupKeys[slot] = undefined;
        this.publicCount--;
      }
      const followers = this.ordersOfNetwork(this.net[slot]);
      for (let k = 0; k < this.orders.length; k++) this.orders[k].touch(slot, followers[k]);
      out.push({ id: row.id, slot, wasPublic, isPublic });
    }
    for (const order of this.orders) order.flush(this.bulkLoading);
    this.generation++;
    return out;
  }

  private fill(slot: number, row: StoredOffer, o: Offer): void {
    const effective = o.sale_price ?? o.price;
    const tracking = hasTrackingUrl(o);
    this.data[slot] = row.data;
    this.groupKeys[slot] = row.group_key;
    this.flags[slot] = PUBLIC | (o.coupon_code ? COUPON : 0) | (tracking ? TRACKING : 0) | (o.landing_url ? LANDING : 0);
    this.net[slot] = this.networks.id(row.network);
    this.kind[slot] = Math.max(0, KINDS.indexOf(o.kind));
    this.merchantA[slot] = o.merchant_name ? this.merchants.id(o.merchant_name.toLowerCase()) : -1;
    this.merchantB[slot] = o.merchant_id ? this.merchants.id(o.merchant_id.toLowerCase()) : -1;
    this.firstSeen[slot] = row.first_seen_ms;
    this.changed[slot] = row.changed_ms;
    this.expires[slot] = o.expires_at ? Date.parse(o.expires_at) || Infinity : Infinity;
    this.price[slot] = typeof effective === 'number' ? effective : Number.NaN;
    this.discount[slot] = discountOf(o);
    this.payout[slot] = payoutOf(o);
    for (const m of [this.merchantA[slot], this.merchantB[slot]]) {
      if (m < 0) continue;
      let set = this.merchantSlots.get(m);
      if (!set) this.merchantSlots.set(m, (set = new Set()));
      set.add(slot);
    }
    this.setBit('network', row.network, slot);
    this.setBit('kind', KINDS[this.kind[slot]], slot);
    if (o.coupon_code) this.setBit('coupon', 'yes', slot);
    for (const c of o.countries ?? []) this.setBit('country', c.toUpperCase(), slot);
    for (const l of o.languages ?? []) this.setBit('lang', primaryLang(l), slot);
    for (const v of verticalsOf(o)) this.setBit('vertical', v, slot);
    const g = this.groups.id(row.group_key);
    this.gid[slot] = g;
    this.joinGroup(g, slot);
  }

  private unlinkFacets(slot: number, o: Offer): void {
    for (const m of [this.merchantA[slot], this.merchantB[slot]]) if (m >= 0) this.merchantSlots.get(m)?.delete(slot);
    this.clearBit('network', o.network, slot);
    this.clearBit('kind', KINDS[this.kind[slot]], slot);
    this.clearBit('coupon', 'yes', slot);
    for (const c of o.countries ?? []) this.clearBit('country', c.toUpperCase(), slot);
    for (const l of o.languages ?? []) this.clearBit('lang', primaryLang(l), slot);
    for (const v of verticalsOf(o)) this.clearBit('vertical', v, slot);
    this.leaveGroup(this.gid[slot], slot);
  }

  private joinGroup(g: number, slot: number): void {
    if (g >= this.groupSole.length) { const n = new Int32Array(Math.max(g + 1, this.groupSole.length * 2)).fill(-1); n.set(this.groupSole); this.groupSole = n; }
    const multi = this.groupMulti.get(g);
    if (multi) { if (!multi.includes(slot)) multi.push(slot); return; }
    const sole = this.groupSole[g];
    if (sole === -1 || sole === slot) { this.groupSole[g] = slot; return; }
    this.groupMulti.set(g, [sole, slot]);
    this.groupSole[g] = -2;
  }

  private leaveGroup(g: number, slot: number): void {
    const multi = this.groupMulti.get(g);
    if (multi) {
      const rest = multi.filter((s) => s !== slot);
      if (rest.length === 1) { this.groupMulti.delete(g); this.groupSole[g] = rest[0]; } else this.groupMulti.set(g, rest);
    } else if (this.groupSole[g] === slot) this.groupSole[g] = -1;
  }

  private setBit(kind: keyof OfferIndex['facets'], value: string, slot: number): void {
    const map = this.facets[kind];
    let bits = map.get(value);
    if (!bits || bits.length * 32 <= slot) {
      const next = new Uint32Array(Math.max(this.capacity, slot + 1) + 31 >>> 5);
      if (bits) next.set(bits);
      map.set(value, (bits = next));
    }
    const w = slot >>> 5;
    const b = 1 << (slot & 31);
    if (bits[w] & b) return;
    bits[w] |= b;
    const key = `${kind}\u0000${value}`;
    this.facetCounts.set(key, (this.facetCounts.get(key) ?? 0) + 1);
  }

  private clearBit(kind: keyof OfferIndex['facets'], value: string, slot: number): void {
    const bits = this.facets[kind].get(value);
    if (!bits || bits.length * 32 <= slot) return;
    const w = slot >>> 5;
    const b = 1 << (slot & 31);
    if (!(bits[w] & b)) return;
    bits[w] &= ~b;
    const key = `${kind}\u0000${value}`;
    this.facetCounts.set(key, (this.facetCounts.get(key) ?? 1) - 1);
  }

  /**
   * Up to `want` slots of an order, newest first from the cursor, that pass `accept`. A walk that finds too little
   * in its first steps looks at the facets: if together they match few offers, those are ranked directly
   * (`rank`); otherwise the walk goes on checking one bit per step before anything else.
   */
  private walk(order: SlotOrder, after: PageCursor | undefined, want: number, accept: (slot: number) => boolean, dims: FacetDim[], rank: (candidates: number[]) => number[]): number[] {
    const out: number[] = [];
    let i = order.length - 1;
    if (after) i = order.lowerBound(after.k, after.i) - 1;
    const budgetEnd = i - this.walkBudget;
    let mask: Uint32Array | undefined;
    for (; i >= 0 && out.length < want; i--) {
      if (mask === undefined && i === budgetEnd && dims.length) {
        const x = dims.length > 1 ? this.intersect(dims) : dims[0].sets.length === 1 ? { bits: dims[0].sets[0], count: dims[0].count } : { bits: this.union(dims[0].sets, 'scratch'), count: dims[0].count };
        if (x.count <= this.extractMax) return rank(bitsToSlots(x.bits, this.ids.length));
        mask = x.bits;
      }
      const s = order.slots[i];
      if (mask && (s >>> 5 >= mask.length || !(mask[s >>> 5] & (1 << (s & 31))))) continue;
      if (order.valid(i) && accept(s)) out.push(s);
    }
    return out;
  }

  /** The filter's facet dimensions (each a union of value bitsets, with its size), most selective first. */
  private facetDims(f: OfferFilter): FacetDim[] {
    const dims: FacetDim[] = [];
    const add = (kind: keyof OfferIndex['facets'], values: string[] | undefined, norm: (v: string) => string) => {
      if (!values?.length) return;
      const keys = [...new Set(values.map(norm))];
      const sets = keys.map((k) => this.facets[kind].get(k)).filter((x): x is Uint32Array => x !== undefined);
      dims.push({ kind, sets, count: keys.reduce((a, k) => a + (this.facetCounts.get(`${kind}\u0000${k}`) ?? 0), 0) });
    };
    add('network', f.network, (v) => v);
    add('kind', f.kind, (v) => v);
    add('country', f.country, (v) => v.toUpperCase());
    add('lang', f.lang, primaryLang);
    add('vertical', f.vertical, normVertical);
    if (f.has_coupon === true) add('coupon', ['yes'], (v) => v);
    return dims.sort((a, b) => a.count - b.count);
  }

  /** AND of the dimensions' unions, with its population (computed into a reused buffer). */
  private intersect(dims: FacetDim[]): { bits: Uint32Array; count: number } {
    const acc = this.union(dims[0].sets, 'scratch');
    for (let d = 1; d < dims.length; d++) {
      const u = this.union(dims[d].sets, 'scratch2');
      for (let w = 0; w < acc.length; w++) acc[w] &= u[w];
    }
    let count = 0;
    for (let w = 0; w < acc.length; w++) count += popcount32(acc[w]);
    return { bits: acc, count };
  }

  /** OR of bitsets into a reused buffer sized to the slots. */
  private union(sets: Uint32Array[], which: 'scratch' | 'scratch2'): Uint32Array {
    const words = (this.ids.length + 31) >>> 5;
    if (this[which].length < words) this[which] = new Uint32Array(words * 2);
    const out = this[which].subarray(0, words);
    out.fill(0);
    for (const bits of sets) for (let w = 0; w < Math.min(words, bits.length); w++) out[w] |= bits[w];
    return out;
  }

  private ensure(n: number): void {
    if (n <= this.capacity) return;
    const size = Math.max(n, this.capacity * 2, 1024);
    this.flags = grow(this.flags, size);
    this.net = grow(this.net, size);
    this.kind = grow(this.kind, size);
    this.merchantA = grow(this.merchantA, size);
    this.merchantB = grow(this.merchantB, size);
    this.gid = grow(this.gid, size);
    this.firstSeen = grow(this.firstSeen, size);
    this.changed = grow(this.changed, size);
    this.expires = grow(this.expires, size);
    this.price = grow(this.price, size);
    this.discount = grow(this.discount, size);
    this.payout = grow(this.payout, size);
    this.idCodes = grow(this.idCodes, size);
    for (const order of this.orders) order.ensure(size);
    this.capacity = size;
  }

  // ---------------------------------------------------------------------------------------------- reads

  slotOf(id: string): number | undefined {
    const s = this.idToSlot.get(id);
    return s !== undefined && (this.flags[s] & PUBLIC) ? s : undefined;
  }

  /** Whether a slot is public now and visible under the consent view (expiry counts from `now`). */
  visible(slot: number, consent: ConsentView, now = Date.now()): boolean {
    const f = this.flags[slot];
    if (!(f & PUBLIC) || this.expires[slot] <= now) return false;
    if (consent === 'all' || !(f & TRACKING)) return true;
    return consent === 'landing' && (f & LANDING) !== 0;
  }

  idOf(slot: number): string { return this.ids[slot]; }
  dataOf(slot: number): string | undefined { return this.data[slot]; }
  networkOf(slot: number): string { return this.networks.values[this.net[slot]]; }
  groupKeyOf(slot: number): string | undefined { return this.groupKeys[slot]; }
  firstSeenOf(slot: number): number { return this.firstSeen[slot]; }
  changedOf(slot: number): number { return this.changed[slot]; }
  hasTracking(slot: number): boolean { return (this.flags[slot] & TRACKING) !== 0; }
  groupSize(slot: number): number { const g = this.gid[slot]; return this.groupMulti.get(g)?.length ?? 1; }

  /** Public offers per network (before consent and expiry-by-clock), for /api/networks. */
  publicByNetwork(): Map<string, number> {
    const out = new Map<string, number>();
    for (let s = 0; s < this.ids.length; s++) if (this.flags[s] & PUBLIC) { const n = this.networks.values[this.net[s]]; out.set(n, (out.get(n) ?? 0) + 1); }
    return out;
  }

  /** A predicate for the filter, or undefined when it can match nothing (an unknown network, say). */
  compile(filter: OfferFilter, consent: ConsentView, now: number): ((slot: number) => boolean) | undefined {
    const nets = filter.network?.length ? filter.network.map((n) => this.networks.ids.get(n)).filter((x): x is number => x !== undefined) : undefined;
    if (nets && !nets.length) return undefined;
    const kinds = filter.kind?.length ? filter.kind.map((k) => KINDS.indexOf(k)).filter((x) => x >= 0) : undefined;
    if (kinds && !kinds.length) return undefined;
    const merchants = filter.merchant?.length ? filter.merchant.map((m) => this.merchants.ids.get(m.toLowerCase())).filter((x): x is number => x !== undefined) : undefined;
    if (merchants && !merchants.length) return undefined;
    const facet = (kind: keyof OfferIndex['facets'], values: string[] | undefined, norm: (v: string) => string) => {
      if (!values?.length) return undefined;
      const sets = values.map((v) => this.facets[kind].get(norm(v))).filter((x): x is Uint32Array => x !== undefined);
      return sets;
    };
    const countries = facet('country', filter.country, (v) => v.toUpperCase());
    const langs = facet('lang', filter.lang, primaryLang);
    const verticals = facet('vertical', filter.vertical, normVertical);
    if ((countries && !countries.length) || (langs && !langs.length) || (verticals && !verticals.length)) return undefined;
    const { min_price: min, max_price: max, has_coupon: coupon } = filter;
    const anyBit = (sets: Uint32Array[], s: number) => {
      const w = s >>> 5;
      const b = 1 << (s & 31);
      for (const bits of sets) if (w < bits.length && (bits[w] & b)) return true;
      return false;
    };
    return (s) => {
      if (!this.visible(s, consent, now)) return false;
      if (nets && !nets.includes(this.net[s])) return false;
      if (kinds && !kinds.includes(this.kind[s])) return false;
      if (merchants && !merchants.includes(this.merchantA[s]) && !merchants.includes(this.merchantB[s])) return false;
      if (coupon !== undefined && ((this.flags[s] & COUPON) !== 0) !== coupon) return false;
      if (min !== undefined || max !== undefined) {
        const p = this.price[s];
        if (Number.isNaN(p) || (min !== undefined && p < min) || (max !== undefined && p > max)) return false;
      }
      if (countries && !anyBit(countries, s)) return false;
      if (langs && !anyBit(langs, s)) return false;
      if (verticals && !anyBit(verticals, s)) return false;
      return true;
    };
  }

  /** Newest (or most recently changed) first, keyset-paginated on (key, id): a sync between pages shifts nothing. */
  latest(sort: Sort, o: QueryOptions & { after?: PageCursor }): Page {
    const now = o.now ?? Date.now();
    const pred = this.compile(o.filter, o.consent, now);
    if (!pred) return { slots: [] };
    const keyOf = sort === 'newest' ? this.firstSeen : this.changed;
    const group = o.group !== false;
    const ids = this.slotId;
    const afterCode = o.after ? idCode(o.after.i) : 0;
    const before = (s: number, c: PageCursor) => keyOf[s] < c.k || (keyOf[s] === c.k && ids.vsId(s, afterCode, c.i) < 0);
    const isRep = (s: number) => !group || this.isGroupRep(s, pred, (m) => keyOf[m] > keyOf[s] || (keyOf[m] === keyOf[s] && ids.cmp(m, s) > 0));
    const cmp = (a: number, b: number) => keyOf[b] - keyOf[a] || ids.cmp(b, a);
    /** The page from a short list of candidates: ranked directly, not found by walking the order. */
    const fromCandidates = (list: number[]): number[] => {
      const cands = list.filter((s) => pred(s) && (!o.after || before(s, o.after)));
      // Duplicates are rare: rank a few more than a page, drop non-representatives; all of them only if that fell short.
      let best = topK(cands, o.limit + 17, cmp).filter(isRep);
      if (best.length <= o.limit && cands.length > o.limit + 17) best = topK(cands.filter(isRep), o.limit + 1, cmp);
      return best.slice(0, o.limit + 1);
    };
    // Plan: a small merchant or a selective facet gives a short candidate list; otherwise walk the order from the
    // cursor, which for any filter matching more than ~1% of offers fills a page within a few thousand steps.
    // A walk that finds too little in its first steps intersects the facets to learn whether to go on
    // (checking one bit per step) or to rank the few that match.
    let out: number[] | undefined;
    const merchant = this.smallMerchantList(o.filter);
    const dims = merchant ? [] : this.facetDims(o.filter);
    if (merchant) out = fromCandidates(merchant);
    else if (dims.length && dims[0].count <= this.extractMax) out = fromCandidates(bitsToSlots(this.union(dims[0].sets, 'scratch'), this.ids.length));
    if (!out) {
      const noTracking = o.consent === 'no-tracking';
      const which = (sort === 'newest' ? 0 : 1) + (noTracking ? 2 : 0);
      const nets = o.filter.network?.map((n) => this.networks.ids.get(n)).filter((x): x is number => x !== undefined);
      const orders = nets?.length ? [...new Set(nets)].map((n) => this.ordersOfNetwork(n)[which]) : [this.orders[which]];
      const netDims = dims.filter((d) => d.kind !== 'network');
      const pages = orders.map((order) => this.walk(order, o.after, o.limit + 1, (s) => pred(s) && isRep(s), nets?.length ? netDims : dims, (list) => fromCandidates(list)));
      // Several networks: each order's best, merged (a walk that fell back to ranking candidates may overlap another).
      out = pages.length === 1 ? pages[0] : topK([...new Set(pages.flat())], o.limit + 1, cmp);
    }
    const more = out.length > o.limit;
    const slots = out.slice(0, o.limit);
    const last = slots[slots.length - 1];
    return { slots, next: more ? { k: keyOf[last], i: this.ids[last] } : undefined };
  }

  /** Ranked full-text search; keyset-paginated on (matched words, score, id). */
  searchOffers(query: string, o: QueryOptions & { after?: PageCursor; exhaustive?: boolean }): Page & { matchedTerms: string[] } {
    const now = o.now ?? Date.now();
    const pred = this.compile(o.filter, o.consent, now);
    if (!pred) return { slots: [], matchedTerms: [] };
    const group = o.group !== false;
    // The filter's facets as a bitset: a search word common in other countries or networks costs a bit test per
    // posting, not a filter call. (`union`/`intersect` reuse buffers; nothing else uses them during the search.)
    const dims = this.facetDims(o.filter);
    const prefilter = !dims.length ? undefined : dims.length === 1 && dims[0].sets.length === 1 ? dims[0].sets[0]
      : dims.length === 1 ? this.union(dims[0].sets, 'scratch') : this.intersect(dims).bits;
    const res = this.search.search(query, {
      accept: pred,
      prefilter,
      want: o.limit + 1,
      after: o.after ? { matched: o.after.m ?? 0, score: o.after.k, id: o.after.i } : undefined,
      idOf: (s) => this.ids[s],
      groupOf: group ? (s) => this.groupMulti.get(this.gid[s]) : undefined,
      docOf: (s) => { const d = this.data[s]; return d ? searchDoc(JSON.parse(d) as Offer) : undefined; },
      exhaustive: o.exhaustive,
    });
    const more = res.hits.length > o.limit;
    const page = res.hits.slice(0, o.limit);
    const last = page[page.length - 1];
    return {
      slots: page.map((h) => h.slot),
      scores: page,
      next: more ? { k: last.score, i: this.ids[last.slot], m: last.matched } : undefined,
      matchedTerms: res.matchedTerms,
    };
  }

  /**
   * Best offers by freshness, discount and payout (the optimizer, when one runs, ranks /top instead: see
   * api/ranking.ts). The ranking of the best few thousand is computed once per index generation and minute and
   * then walked with the filter like `latest`; a filter too narrow to fill a page from it ranks every match.
   */
  top(o: QueryOptions): Array<{ slot: number; score: number }> {
    const now = o.now ?? Date.now();
    const pred = this.compile(o.filter, o.consent, now);
    if (!pred) return [];
    const ranking = this.topRanking(now);
    const out: Array<{ slot: number; score: number }> = [];
    const seen = new Set<number>();
    const take = (s: number, score: number) => {
      if (o.group !== false) { if (seen.has(this.gid[s])) return; seen.add(this.gid[s]); }
      out.push({ slot: s, score });
    };
    for (let i = 0; i < ranking.slots.length && out.length < o.limit; i++) if (pred(ranking.slots[i])) take(ranking.slots[i], ranking.scores[i]);
    if (out.length >= o.limit || ranking.complete) return out;
    out.length = 0;
    seen.clear();
    const all: Array<{ slot: number; score: number }> = [];
    for (let i = 0; i < this.byFirst.length; i++) {
      const s = this.byFirst.slots[i];
      if (this.byFirst.valid(i) && pred(s)) all.push({ slot: s, score: this.heuristicScore(s, now) });
    }
    for (const x of topK(all, Math.min(all.length, o.limit * 4 + 16), (a, b) => b.score - a.score || this.slotId.cmp(a.slot, b.slot))) {
      if (out.length < o.limit) take(x.slot, x.score);
    }
    return out;
  }

  private topCache?: { generation: number; minute: number; slots: Int32Array; scores: Float64Array; complete: boolean };

  private topRanking(now: number): { slots: Int32Array; scores: Float64Array; complete: boolean } {
    const minute = Math.floor(now / 60_000);
    const c = this.topCache;
    if (c && c.generation === this.generation && c.minute === minute) return c;
    const n = this.byFirst.length;
    const slots = new Int32Array(n);
    const scores = new Float64Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = this.byFirst.slots[i];
      if (!this.byFirst.valid(i) || this.expires[s] <= now) continue;
      slots[m] = s;
      scores[m++] = this.heuristicScore(s, now);
    }
    const KEEP = 5000;
    let threshold = -Infinity;
    if (m > KEEP) threshold = scores.slice(0, m).sort()[m - KEEP];
    const idx: number[] = [];
    for (let i = 0; i < m; i++) if (scores[i] >= threshold) idx.push(i);
    idx.sort((a, b) => scores[b] - scores[a] || this.slotId.cmp(slots[a], slots[b]));
    this.topCache = {
      generation: this.generation, minute, complete: m <= KEEP,
      slots: Int32Array.from(idx, (i) => slots[i]), scores: Float64Array.from(idx, (i) => scores[i]),
    };
    return this.topCache;
  }

  heuristicScore(s: number, now: number): number {
    const ageDays = Math.max(0, now - this.changed[s]) / 86_400_000;
    const freshness = Math.exp(-ageDays / 14);
    return Math.round((0.45 * freshness + 0.35 * this.discount[s] + 0.2 * this.payout[s]) * 1e6) / 1e6;
  }

  private isGroupRep(s: number, pred: (slot: number) => boolean, precedes: (m: number) => boolean): boolean {
    const members = this.groupMulti.get(this.gid[s]);
    if (!members) return true;
    for (const m of members) if (m !== s && precedes(m) && pred(m)) return false;
    return true;
  }

  private smallMerchantList(f: OfferFilter): number[] | undefined {
    if (!f.merchant?.length) return undefined;
    const out: number[] = [];
    for (const m of f.merchant) {
      const id = this.merchants.ids.get(m.toLowerCase());
      const set = id === undefined ? undefined : this.merchantSlots.get(id);
      if (set) out.push(...set);
      if (out.length > MERCHANT_LIST_MAX) return undefined;
    }
    return [...new Set(out)];
  }

}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function bitsToSlots(bits: Uint32Array, n: number): number[] {
  const out: number[] = [];
  for (let w = 0; w < bits.length; w++) {
    let x = bits[w];
    while (x) {
      const t = x & -x;
      const s = (w << 5) + (31 - Math.clz32(t));
      if (s < n) out.push(s);
      x ^= t;
    }
  }
  return out;
}

export function searchDoc(o: Offer): SearchDoc {
  return { title: o.title, description: o.description, merchant: o.merchant_name, brand: o.brand, categories: o.categories, tags: o.tags, coupon_code: o.coupon_code };
}

/** Verticals of an offer: the first level of each category path ("Home > Kitchen" → "home"). */
export function verticalsOf(o: Offer): string[] {
  const out = new Set<string>();
  for (const c of o.categories ?? []) {
    const top = normVertical(c.split(/\s*(?:>|\/|\|)\s*/)[0] ?? '');
    if (top) out.add(top);
  }
  return [...out];
}

export const normVertical = (v: string): string => v.trim().toLowerCase().replace(/\s+/g, ' ');
const primaryLang = (l: string): string => l.toLowerCase().split(/[-_]/)[0];
const normUrl = (u: string): string => u.replace(/\/+$/, '').toLowerCase();

/** An offer's url is a tracking URL when it differs from its landing page, or when no landing page is known. */
export function hasTrackingUrl(o: Pick<Offer, 'url' | 'landing_url'>): boolean {
  return !o.landing_url || normUrl(o.url) !== normUrl(o.landing_url);
}

function discountOf(o: Offer): number {
  if (typeof o.price === 'number' && typeof o.sale_price === 'number' && o.price > 0 && o.sale_price < o.price) return (o.price - o.sale_price) / o.price;
  const d = o.discount as { percent?: number } | undefined;
  return typeof d?.percent === 'number' ? Math.min(1, d.percent / 100) : 0;
}

function payoutOf(o: Offer): number {
  const p = o.payout;
  if (!p) return 0;
  if (typeof p.percent === 'number') return Math.min(1, p.percent / 50);
  if (typeof p.amount === 'number') return p.amount / (p.amount + 25);
  return 0;
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
