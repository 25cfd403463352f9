// Offers: every imported offer whatever its status, searchable and filterable (the filters live in the URL), paged.
// Reloads when a run commits changes.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { Link, setQuery, useLocation } from '../router.ts';
import { Ago, Badge, Empty, Loading, LoadError, Pager, Section } from '../ui.tsx';
import { money, num, truncate } from '../format.ts';
import type { NetworkStatus, OfferRow, Page } from '../types.ts';

const LIMIT = 50;
const STATUSES = ['active', 'inactive', 'expired', 'hidden'];
const KINDS = ['product', 'coupon', 'deal', 'program'];
const SORTS: Array<[string, string]> = [['last_changed', 'Last changed'], ['first_seen', 'First seen'], ['title', 'Title'], ['price', 'Price'], ['network', 'Network']];

export function OffersPage() {
  useTitle('Offers');
  const loc = useLocation();
  const f = {
    q: loc.query.get('q') ?? '',
    network: loc.query.get('network') ?? '',
    status: loc.query.get('status') ?? '',
    kind: loc.query.get('kind') ?? '',
    sort: loc.query.get('sort') ?? '',
  };
  const offset = Math.max(0, Number(loc.query.get('offset')) || 0);
  const filterQs = qs({ q: f.q, network: f.network, status: f.status, kind: f.kind, sort: f.sort });
  const offers = useResource(() => api.get<Page<OfferRow>>(`/offers${qs({ ...f, limit: LIMIT, offset })}`), [filterQs, offset], { keep: true });
  const networks = useResource(() => api.get<NetworkStatus[]>('/networks'), []);
  useLiveRefresh(['offers.committed'], offers.reload, { debounceMs: 1000 });

  const update = (o: Partial<typeof f> & { offset?: number }) => setQuery({ ...f, ...o, offset: o.offset || undefined });

  // The search box applies after a pause in typing, not on every key.
  const [q, setQ] = useState(f.q);
  const typing = useRef<ReturnType<typeof setTimeout>>();
  useEffect(() => setQ(f.q), [f.q]);
  useEffect(() => () => clearTimeout(typing.current), []);
  const onSearch = (v: string) => {
    setQ(v);
    clearTimeout(typing.current);
    typing.current = setTimeout(() => update({ q: v.trim() }), 350);
  };

  return (
    <div class="page" data-testid="page-offers">
      <h1>Offers</h1>
      <form class="toolbar filters" onSubmit={(e) => { e.preventDefault(); clearTimeout(typing.current); update({ q: q.trim() }); }}>
        <input type="search" placeholder="Search title, merchant, id…" aria-label="Search" value={q} data-testid="offers-q" onInput={(e) => onSearch(e.currentTarget.value)} />
        <select aria-label="Network" value={f.network} data-testid="offers-network" onChange={(e) => update({ network: e.currentTarget.value })}>
          <option value="">All networks</option>
          {(networks.data ?? []).map((n) => <option value={n.network}>{n.name || n.network}</option>)}
          {f.network && !networks.data?.some((n) => n.network === f.network) && <option value={f.network}>{f.network}</option>}
        </select>
        <select aria-label="Status" value={f.status} data-testid="offers-status" onChange={(e) => update({ status: e.currentTarget.value })}>
          <option value="">Any status</option>
          {STATUSES.map((s) => <option value={s}>{s}</option>)}
        </select>
        <select aria-label="Kind" value={f.kind} data-testid="offers-kind" onChange={(e) => update({ kind: e.currentTarget.value })}>
          <option value="">Any kind</option>
          {KINDS.map((k) => <option value={k}>{k}</option>)}
        </select>
        <select aria-label="Sort" value={f.sort} data-testid="offers-sort" onChange={(e) => update({ sort: e.currentTarget.value })}>
          {SORTS.map(([v, label]) => <option value={v === 'last_changed' ? '' : v}>Sort: {label}</option>)}
        </select>
      </form>
      <LoadError error={offers.error} retry={offers.reload} />
      {!offers.data && !offers.error && <Loading />}
      {offers.data && (
        <Section
          title={<span data-testid="offers-total" data-value={offers.data.total}>{num(offers.data.total)} offers{offers.loading && <span class="muted small"> · updating…</span>}</span>}
          actions={<a class="btn" href={`/admin/api/offers.csv${filterQs}`} download="offers.csv" data-testid="offers-csv">Export CSV</a>}
        >
          {offers.data.items.length === 0 ? <Empty>No offers match.</Empty> : (
            <div class="table-wrap">
              <table class="table offers">
                <thead><tr><th>Title</th><th>Network</th><th>Kind</th><th>Merchant</th><th class="num">Price</th><th>Status</th><th>Changed</th><th class="num">Ver.</th></tr></thead>
                <tbody>
                  {offers.data.items.map((o) => (
                    <tr key={o.key} data-testid={`offer-row-${o.key}`}>
                      <td>
                        <Link to={`/offers/${seg(o.key)}`} title={o.title}>{truncate(o.title || '(untitled)', 90)}</Link>
                        {o.pinned && <> <Badge value="pinned" /></>}
                        <div class="muted small mono">{o.external_id}</div>
                      </td>
                      <td><Link to={`/networks/${seg(o.network)}`}>{o.network}</Link></td>
                      <td>{o.kind}</td>
                      <td>{o.merchant_name ?? ''}</td>
                      <td class="num nowrap">
                        {o.sale_price !== null && o.sale_price !== undefined && o.sale_price !== o.price
                          ? <><s class="muted">{money(o.price, o.currency)}</s> {money(o.sale_price, o.currency)}</>
                          : money(o.price, o.currency)}
                      </td>
                      <td><Badge value={o.status} testid={`offer-status-${o.key}`} /></td>
                      <td><Ago iso={o.last_changed} /></td>
                      <td class="num">{o.version}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager total={offers.data.total} offset={offset} limit={LIMIT} onOffset={(o) => update({ offset: o })} testid="offers-pager" />
        </Section>
      )}
    </div>
  );
}
