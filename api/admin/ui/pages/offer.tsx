// One offer: its canonical fields, where it came from, its version history (what changed in which run) and the
// optimizer's decisions; admins can pin/unpin and hide/unhide it.
import { api, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { Link } from '../router.ts';
import { ActionButton, Ago, Badge, Empty, Json, Loading, LoadError, Section } from '../ui.tsx';
import { dateTime, money, truncate } from '../format.ts';
import type { OfferDetail, OfferEnrichment, OfferHistoryEntry } from '../types.ts';

const FIELD_ORDER = [
  'network', 'external_id', 'kind', 'title', 'description', 'url', 'landing_url', 'image_url', 'merchant_id', 'merchant_name',
  'price', 'sale_price', 'currency', 'coupon_code', 'categories', 'countries', 'languages', 'tags', 'payout', 'starts_at', 'expires_at',
];

function FieldValue({ name, value }: { name: string; value: unknown }) {
  if (value === null || value === undefined || value === '') return <span class="muted">–</span>;
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) {
    return <a href={value} target="_blank" rel="noopener noreferrer nofollow" class="url">{value}</a>;
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) {
    return value.length ? <span class="chips">{value.map((v) => <span class="chip">{String(v)}</span>)}</span> : <span class="muted">none</span>;
  }
  if (typeof value === 'object') return <Json value={value} />;
  if (/_at$/.test(name) && typeof value === 'string') return <span title={value}>{dateTime(value)}</span>;
  return <span class={name === 'description' ? 'prewrap' : ''}>{String(value)}</span>;
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Newest first; each entry's "after" is the state the next newer entry started from (or the current data). */
function HistoryRow({ h, after }: { h: OfferHistoryEntry; after: Record<string, unknown> | null }) {
  const before = h.before ?? {};
  const diff = h.changed_fields.length > 0 && h.before !== null;
  return (
    <tr data-testid={`history-${h.run_id ?? h.at}`}>
      <td><Badge value={h.op} />{h.prev_status && <div class="small muted">was {h.prev_status}</div>}</td>
      <td><Ago iso={h.at} /></td>
      <td>
        {h.run_id && !/^(admin|rollback|optimizer)/.test(h.run_mode ?? '')
          ? <Link to={`/runs/${seg(h.run_id)}`} class="mono small">{truncate(h.run_id, 24)}</Link>
          : <span class="mono small">{h.run_id ?? '–'}</span>}
        {h.run_mode && <div class="small muted">{h.run_mode}</div>}
      </td>
      <td>
        {h.changed_fields.length ? h.changed_fields.join(', ') : <span class="muted">–</span>}
        {diff && (
          <details>
            <summary>Show change</summary>
            <table class="table compact diff">
              <thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead>
              <tbody>
                {h.changed_fields.map((f) => (
                  <tr key={f}><td class="mono">{f}</td><td class="before">{show(before[f])}</td><td class="after">{after ? show(after[f]) : '?'}</td></tr>
                ))}
              </tbody>
            </table>
          </details>
        )}
      </td>
    </tr>
  );
}

function EnrichmentView({ e }: { e: OfferEnrichment }) {
  return (
    <dl class="facts">
      <dt>Languages</dt><dd><FieldValue name="languages" value={e.languages} /></dd>
      <dt>Countries</dt><dd><FieldValue name="countries" value={e.countries} /></dd>
      <dt>Categories</dt><dd>{e.categories?.length ? e.categories.map((c) => <div key={c.id}>{c.path}</div>) : <span class="muted">none</span>}</dd>
      <dt>Tags</dt><dd><FieldValue name="tags" value={e.tags} /></dd>
      {e.copy && (
        <>
          <dt>Copy</dt>
          <dd>
            <div>{e.copy.summary}</div>
            {e.copy.urgency_line && <div class="warn-text">{e.copy.urgency_line}</div>}
            {e.copy.cta && <div><strong>{e.copy.cta}</strong></div>}
            <div class="small muted">{e.copy.machine_generated ? 'machine-written' : 'written by a person'}{e.copy.source ? ` (${e.copy.source})` : ''}{e.copy.language ? ` · ${e.copy.language}` : ''}</div>
          </dd>
        </>
      )}
      {e.translations && Object.keys(e.translations).length > 0 && (
        <>
          <dt>Translations</dt>
          <dd>{Object.entries(e.translations).map(([lang, t]) => <div key={lang}><span class="chip">{lang}</span> {t.title}{t.summary ? ` — ${t.summary}` : ''}</div>)}</dd>
        </>
      )}
      {e.enriched_at && <><dt>Enriched</dt><dd><Ago iso={e.enriched_at} /></dd></>}
    </dl>
  );
}

export function OfferPage({ offerKey }: { offerKey: string }) {
  useTitle('Offer');
  const d = useResource(() => api.get<OfferDetail>(`/offers/${seg(offerKey)}`), [offerKey]);
  useLiveRefresh(['offers.committed'], d.reload, { debounceMs: 1000 });
  const o = d.data?.offer;
  const act = (what: 'pin' | 'unpin' | 'hide' | 'unhide') => async () => { await api.post(`/offers/${seg(offerKey)}/${what}`); d.reload(); };
  const data = o?.data ?? {};
  const fields = [...FIELD_ORDER.filter((k) => k in data), ...Object.keys(data).filter((k) => !FIELD_ORDER.includes(k)).sort()];
  const history = d.data?.history ?? [];
  return (
    <div class="page" data-testid="page-offer">
      <p class="crumbs"><Link to="/offers">Offers</Link> ›</p>
      <LoadError error={d.error} retry={d.reload} />
      {!o && !d.error && <Loading />}
      {o && d.data && (
        <>
          <header class="page-head">
            <h1>
              {o.title || o.external_id} <Badge value={o.status} testid="offer-status" />
              {o.pinned && <> <Badge value="pinned" testid="offer-pinned" /></>}
              {o.promoted && <> <Badge value="promoted" /></>}
            </h1>
            <div class="actions">
              {o.pinned
                ? <ActionButton small testid="btn-unpin" done="Offer unpinned" run={act('unpin')}>Unpin</ActionButton>
                : <ActionButton small testid="btn-pin" done="Offer pinned: the optimizer keeps it visible" run={act('pin')}>Pin</ActionButton>}
              {o.status === 'hidden'
                ? <ActionButton small testid="btn-unhide" done="Offer visible again" run={act('unhide')}>Unhide</ActionButton>
                : <ActionButton small variant="danger" testid="btn-hide" done="Offer hidden" run={act('hide')}>Hide</ActionButton>}
            </div>
          </header>
          <p class="muted">
            From <Link to={`/networks/${seg(o.network)}`} data-testid="offer-network">{o.network}</Link>, id <span class="mono">{o.external_id}</span>
            {' · '}version {o.version} · first seen <Ago iso={o.first_seen} /> · last seen <Ago iso={o.last_seen} /> · changed <Ago iso={o.last_changed} />
            {o.status_reason && <> · <span data-testid="offer-status-reason">{o.status_reason}</span></>}
            {typeof o.price === 'number' && <> · {money(o.sale_price ?? o.price, o.currency)}</>}
          </p>
          <div class="grid-2 wide-left">
            <Section title="Canonical fields" testid="offer-fields">
              <table class="table fields">
                <tbody>
                  {fields.map((k) => (
                    <tr key={k} data-testid={`field-${k}`}><th class="mono">{k}</th><td><FieldValue name={k} value={data[k]} /></td></tr>
                  ))}
                </tbody>
              </table>
            </Section>
            <div>
              <Section title={`History (${history.length})`} testid="offer-history">
                {history.length === 0 ? <Empty>No recorded changes.</Empty> : (
                  <div class="table-wrap">
                    <table class="table compact">
                      <thead><tr><th>Change</th><th>When</th><th>Run</th><th>Fields</th></tr></thead>
                      <tbody>{history.map((h, i) => <HistoryRow h={h} key={`${h.run_id}-${h.at}-${i}`} after={i === 0 ? data : history[i - 1].before} />)}</tbody>
                    </table>
                  </div>
                )}
              </Section>
              <Section title="Enrichment" testid="offer-enrichment">
                {d.data.enrichment ? <EnrichmentView e={d.data.enrichment} /> : <Empty>Not enriched yet.</Empty>}
              </Section>
              <Section title="Optimizer decisions" testid="offer-decisions">
                {d.data.decisions.length === 0 ? <Empty>None.</Empty> : (
                  <ul class="decisions">
                    {d.data.decisions.map((x) => (
                      <li key={x.id}>
                        <Badge value={x.action} /> <Ago iso={x.decided_at} /> <span class="small muted">by {x.actor}</span>
                        <div class="small">{x.reason}</div>
                      </li>
                    ))}
                  </ul>
                )}
              </Section>
            </div>
          </div>
        </>
      )}
    </div>
  );
}
