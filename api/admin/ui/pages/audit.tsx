// Audit log: who did what, when, to what, with which result (every admin action and login is recorded by the API).
import { useState } from 'preact/hooks';
import { api, qs } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { setQuery, useLocation } from '../router.ts';
import { Ago, Badge, Empty, Json, Loading, LoadError, Section } from '../ui.tsx';
import { dateTime } from '../format.ts';
import type { AuditEntry } from '../types.ts';

const LIMITS = [100, 250, 500];

function Details({ value }: { value: unknown }) {
  if (value === null || value === undefined || (typeof value === 'object' && Object.keys(value as object).length === 0)) return <span class="muted">–</span>;
  if (typeof value !== 'object') return <span>{String(value)}</span>;
  return (
    <details>
      <summary class="small">{Object.keys(value as object).slice(0, 4).join(', ')}</summary>
      <Json value={value} />
    </details>
  );
}

export function AuditPage() {
  useTitle('Audit log');
  const loc = useLocation();
  const limit = LIMITS.includes(Number(loc.query.get('limit'))) ? Number(loc.query.get('limit')) : 100;
  const audit = useResource(() => api.get<AuditEntry[]>(`/audit${qs({ limit })}`), [limit], { keep: true });
  const [filter, setFilter] = useState('');
  // New entries come from actions, which announce themselves on the event stream.
  useLiveRefresh(['sync.queued', 'scheduler.*', 'health.resolved', 'offers.committed', 'review.changed'], audit.reload, { debounceMs: 1000 });
  const needle = filter.trim().toLowerCase();
  const rows = (audit.data ?? []).filter((a) => !needle || [a.actor, a.action, a.target ?? '', a.result].some((s) => String(s).toLowerCase().includes(needle)));
  return (
    <div class="page" data-testid="page-audit">
      <h1>Audit log</h1>
      <div class="toolbar">
        <input type="search" placeholder="Filter by actor, action, target, result" aria-label="Filter" value={filter} data-testid="audit-filter"
          onInput={(e) => setFilter(e.currentTarget.value)} />
        <select aria-label="Entries" value={limit} data-testid="audit-limit" onChange={(e) => setQuery({ limit: Number(e.currentTarget.value) === 100 ? undefined : e.currentTarget.value })}>
          {LIMITS.map((l) => <option value={l}>latest {l}</option>)}
        </select>
      </div>
      <LoadError error={audit.error} retry={audit.reload} />
      {!audit.data && !audit.error && <Loading />}
      {audit.data && (
        <Section title={`${rows.length} entries`}>
          {rows.length === 0 ? <Empty>No entries.</Empty> : (
            <div class="table-wrap">
              <table class="table audit">
                <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Result</th><th>Details</th></tr></thead>
                <tbody>
                  {rows.map((a) => (
                    <tr key={a.id} data-testid={`audit-row-${a.id}`} class={/fail|denied|error|forbidden/i.test(a.result) ? 'row-problem' : ''}>
                      <td class="nowrap" title={dateTime(a.occurred_at)}><Ago iso={a.occurred_at} /></td>
                      <td>{a.actor} <span class="muted small">{a.actor_kind}{a.role ? ` · ${a.role}` : ''}</span></td>
                      <td class="mono">{a.action}</td>
                      <td class="mono">{a.target ?? ''}</td>
                      <td><Badge value={a.result} /></td>
                      <td><Details value={a.details} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>
      )}
    </div>
  );
}
