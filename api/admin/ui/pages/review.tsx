// Review queue for machine-written copy and translations (approve, edit inline, reject) and the enrichment
// pipeline's status per run.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, qs, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { Link, setQuery, useLocation } from '../router.ts';
import { ActionButton, Ago, Badge, Empty, Loading, LoadError, Section } from '../ui.tsx';
import { num, pct, truncate } from '../format.ts';
import { useIsAdmin } from '../store.ts';
import type { EnrichmentStatus, ReviewItem, ReviewList, ReviewStatus } from '../types.ts';

const STATES: ReviewStatus[] = ['pending', 'approved', 'edited', 'rejected', 'superseded'];

/** The fields a reviewer may edit, per kind (what the API's edit accepts). */
const EDITABLE: Record<ReviewItem['kind'], Array<{ key: string; label: string; optional: boolean; max: number }>> = {
  copy: [
    { key: 'summary', label: 'Summary', optional: false, max: 400 },
    { key: 'urgency_line', label: 'Urgency line', optional: true, max: 160 },
    { key: 'cta', label: 'Call to action', optional: false, max: 40 },
  ],
  translation: [
    { key: 'title', label: 'Title', optional: false, max: 400 },
    { key: 'summary', label: 'Summary', optional: true, max: 500 },
  ],
};

const str = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function ReviewCard({ item, onChange }: { item: ReviewItem; onChange: () => void }) {
  const isAdmin = useIsAdmin();
  const [editing, setEditing] = useState<Record<string, string> | null>(null);
  const fields = EDITABLE[item.kind] ?? [];
  const shown = item.final ?? item.proposed;
  const pending = item.status === 'pending';

  async function save() {
    if (!editing) return;
    const content: Record<string, string | null> = {};
    for (const f of fields) {
      const v = editing[f.key].trim();
      if (!v && !f.optional) throw new Error(`${f.label} must not be empty`);
      if (v.length > f.max) throw new Error(`${f.label} is longer than ${f.max} characters`);
      content[f.key] = v || null;
    }
    await api.post(`/review/${item.id}/edit`, { content });
    setEditing(null);
    onChange();
  }

  return (
    <li class="card review-item" data-testid={`review-item-${item.id}`}>
      <header class="review-head">
        <Badge value={item.kind} />
        <span class="chip" title="Language">{item.lang}</span>
        <Link to={`/offers/${seg(item.offer_id)}`}>{item.offer_title || item.offer_id}</Link>
        <span class="muted small">
          {typeof item.confidence === 'number' && <>confidence {pct(item.confidence)} · </>}
          {item.model && <>{item.model} · </>}
          <Ago iso={item.created_at} />
        </span>
        {!pending && <Badge value={item.status} testid={`review-status-${item.id}`} />}
      </header>
      {item.reason && <p class="small muted">Why it waits for review: {item.reason}</p>}
      <dl class="review-content">
        {fields.map((f) => (
          <Fragment key={f.key}>
            <dt>{f.label}</dt>
            <dd>
              {editing
                ? <textarea rows={f.max > 200 ? 3 : 1} maxLength={f.max} data-testid={`review-edit-${item.id}-${f.key}`} value={editing[f.key]}
                    onInput={(e) => setEditing({ ...editing, [f.key]: e.currentTarget.value })} />
                : <span class="prewrap" data-testid={`review-content-${item.id}-${f.key}`}>{str(shown[f.key]) || <span class="muted">–</span>}</span>}
            </dd>
          </Fragment>
        ))}
      </dl>
      {!pending && item.decided_by && <p class="small muted">{item.status} by {item.decided_by} {item.decided_at && <Ago iso={item.decided_at} />}{item.note ? `: ${item.note}` : ''}</p>}
      {pending && (
        <div class="actions">
          {editing
            ? (
              <>
                <ActionButton small variant="primary" testid={`btn-save-${item.id}`} done="Edited copy published" run={save}>Save and publish</ActionButton>
                <button type="button" class="btn btn-small" data-testid={`btn-cancel-${item.id}`} onClick={() => setEditing(null)}>Cancel</button>
              </>
            )
            : (
              <>
                <ActionButton small variant="primary" testid={`btn-approve-${item.id}`} done="Approved and published"
                  run={async () => { await api.post(`/review/${item.id}/approve`); onChange(); }}>Approve</ActionButton>
                <button type="button" class="btn btn-small" data-testid={`btn-edit-${item.id}`} disabled={!isAdmin} title={isAdmin ? undefined : 'Needs the admin role'}
                  onClick={() => setEditing(Object.fromEntries(fields.map((f) => [f.key, str(item.proposed[f.key])])))}>Edit</button>
                <ActionButton small variant="danger" testid={`btn-reject-${item.id}`} done="Rejected"
                  run={async () => { await api.post(`/review/${item.id}/reject`); onChange(); }}>Reject</ActionButton>
              </>
            )}
        </div>
      )}
    </li>
  );
}

function cost(amount: number, currency: string | null): string {
  if (!amount) return '–';
  return `${amount.toFixed(amount < 1 ? 4 : 2)} ${currency ?? ''}`.trim();
}

function EnrichmentPanel({ e }: { e: EnrichmentStatus }) {
  return (
    <>
      <p class="small" data-testid="enrichment-provider">
        {e.provider ? <>AI copy and translation by <strong>{e.provider.model}</strong>.</> : <>No AI provider configured: copy is rule-based and nothing is translated.</>}
      </p>
      <div class="tiles small-tiles" data-testid="enrichment-status">
        <div class="tile"><span class="tile-label">Queued</span><span class="tile-value" data-testid="enrich-queued">{num(e.status.queued)}</span></div>
        <div class="tile"><span class="tile-label">Running</span><span class="tile-value" data-testid="enrich-running">{num(e.status.running.length)}</span></div>
        <div class="tile"><span class="tile-label">Finished</span><span class="tile-value" data-testid="enrich-finished">{num(e.status.finished)}</span></div>
        <div class={`tile ${e.status.failed ? 'tile-bad' : ''}`}><span class="tile-label">Failed</span><span class="tile-value" data-testid="enrich-failed">{num(e.status.failed)}</span></div>
      </div>
      {e.status.running.length > 0 && <p class="small">Running: {e.status.running.join(', ')}</p>}
      {e.recent.length === 0 ? <Empty>No enrichment jobs yet.</Empty> : (
        <div class="table-wrap">
          <table class="table compact">
            <thead><tr><th>Job</th><th>Status</th><th class="num">Offers</th><th class="num">Enriched</th><th class="num">Cached</th><th class="num">Failed</th><th class="num">AI calls</th><th class="num">Cost</th><th class="num">To review</th><th>Finished</th><th>Error</th></tr></thead>
            <tbody>
              {e.recent.map((r) => (
                <tr key={r.id} data-testid={`enrich-job-${r.id}`} class={r.error ? 'row-problem' : ''}>
                  <td>{r.run_id ? <Link to={`/runs/${seg(r.run_id)}`} class="mono small">{truncate(r.run_id, 28)}</Link> : <span class="mono small">{r.source}</span>}</td>
                  <td><Badge value={r.status} /></td>
                  <td class="num">{num(r.offers)}</td>
                  <td class="num">{num(r.enriched)}</td>
                  <td class="num">{num(r.cached)}</td>
                  <td class="num">{num(r.failed)}</td>
                  <td class="num" title={`${num(r.tokens_in)} tokens in, ${num(r.tokens_out)} out`}>{num(r.ai_requests)}</td>
                  <td class="num">{cost(r.cost, r.cost_currency)}</td>
                  <td class="num">{num(r.reviews_queued)}</td>
                  <td><Ago iso={r.finished_at ?? r.started_at ?? r.queued_at} /></td>
                  <td class="error-cell">{r.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function ReviewPage() {
  useTitle('Review');
  const loc = useLocation();
  const q = loc.query.get('status') as ReviewStatus | null;
  const status: ReviewStatus = q && STATES.includes(q) ? q : 'pending';
  const items = useResource(() => api.get<ReviewList>(`/review${qs({ status, limit: 50 })}`), [status]);
  const enrichment = useResource(() => api.get<EnrichmentStatus>('/enrichment'), []);
  useLiveRefresh(['review.changed', 'enrich.*', 'offers.committed'], () => { items.reload(); enrichment.reload(); }, { debounceMs: 600 });
  const changed = () => { items.reload(); enrichment.reload(); };
  // The API counts by "status:kind"; the tabs count by status.
  const counts: Record<string, number> = {};
  for (const [k, n] of Object.entries(items.data?.counts ?? enrichment.data?.reviews ?? {})) {
    const st = k.split(':')[0];
    counts[st] = (counts[st] ?? 0) + n;
  }

  return (
    <div class="page" data-testid="page-review">
      <h1>Review queue</h1>
      <p class="muted">Translations and low-confidence machine-written copy wait here; approved or edited items are published with the offer.</p>
      <div class="toolbar">
        <div class="segmented" role="tablist">
          {STATES.map((s) => (
            <button type="button" role="tab" aria-selected={s === status} class={`btn btn-small ${s === status ? 'active' : ''}`} data-testid={`review-state-${s}`}
              onClick={() => setQuery({ status: s === 'pending' ? undefined : s })}>{s}{counts[s] ? ` (${counts[s]})` : ''}</button>
          ))}
        </div>
      </div>
      <LoadError error={items.error} retry={items.reload} />
      {!items.data && !items.error && <Loading />}
      {items.data && (
        <Section title={<span data-testid="review-total" data-value={items.data.items.length}>{num(counts[status] ?? items.data.items.length)} {status}</span>}>
          {items.data.items.length === 0 ? <Empty>Nothing {status === 'pending' ? 'to review' : status}.</Empty> : (
            <ul class="review-list">
              {items.data.items.map((it) => <ReviewCard key={it.id} item={it} onChange={changed} />)}
            </ul>
          )}
          {(counts[status] ?? 0) > items.data.items.length && (
            <p class="muted small">Showing the first {items.data.items.length}; the rest appear as these are handled.</p>
          )}
        </Section>
      )}
      <Section title="Enrichment" testid="section-enrichment" actions={
        <ActionButton small testid="btn-enrich-all" done={(r: { jobId: string }) => `Enrichment of every offer queued (job ${r.jobId})`}
          run={async () => { const r = await api.post<{ jobId: string }>('/enrichment/run'); enrichment.reload(); return r; }}>
          Enrich all now
        </ActionButton>
      }>
        <LoadError error={enrichment.error} retry={enrichment.reload} />
        {!enrichment.data && !enrichment.error && <Loading />}
        {enrichment.data && <EnrichmentPanel e={enrichment.data} />}
      </Section>
    </div>
  );
}
