// A run's drill-down: outcome and counts, its API-call log (URLs with secrets masked by the server) and its
// quarantined records with the validator's reasons per field. A running run follows its progress live.
import { useState } from 'preact/hooks';
import { api, qs, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLive, useLiveRefresh } from '../live.ts';
import { Link, setQuery, useLocation } from '../router.ts';
import { Ago, Badge, Empty, Json, Loading, LoadError, Pager, Section } from '../ui.tsx';
import { bytes, dateTime, duration, num, truncate } from '../format.ts';
import { RollbackButton, RunCounts } from './network.tsx';
import type { ApiCall, ErrorPayload, Page, Progress, QuarantineItem, Run, SyncEvent } from '../types.ts';

const LIMIT = 100;

function showValue(v: unknown): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}

export function RunPage({ runId }: { runId: string }) {
  useTitle(`Run ${runId}`);
  const loc = useLocation();
  const callsOffset = Math.max(0, Number(loc.query.get('calls')) || 0);
  const qOffset = Math.max(0, Number(loc.query.get('quarantine')) || 0);
  const [progress, setProgress] = useState<Progress | null>(null);

  const run = useResource(() => api.get<Run>(`/runs/${seg(runId)}`), [runId]);
  const calls = useResource(() => api.get<Page<ApiCall>>(`/runs/${seg(runId)}/calls${qs({ limit: LIMIT, offset: callsOffset })}`), [runId, callsOffset], { keep: true });
  const quarantine = useResource(() => api.get<Page<QuarantineItem>>(`/runs/${seg(runId)}/quarantine${qs({ limit: LIMIT, offset: qOffset })}`), [runId, qOffset], { keep: true });
  const payloads = useResource(() => api.get<{ items: ErrorPayload[] }>(`/runs/${seg(runId)}/payloads`), [runId]);
  const reloadAll = () => { run.reload(); calls.reload(); quarantine.reload(); };
  useLive(['sync.progress'], (_t, e: SyncEvent) => { if (e?.runId === runId && e.progress) setProgress(e.progress); });
  useLiveRefresh(['sync.finished', 'offers.committed'], reloadAll, { filter: (_t, e: SyncEvent) => e?.runId === runId });
  // While running, the call log grows: refresh it now and then.
  useLiveRefresh(['sync.progress'], () => { calls.reload(); quarantine.reload(); }, { debounceMs: 3000, filter: (_t, e: SyncEvent) => e?.runId === runId });

  const params = (o: Record<string, number>) => setQuery({ calls: callsOffset || undefined, quarantine: qOffset || undefined, ...o });
  const r = run.data;
  const network = r ? r.network ?? r.connector : undefined;
  return (
    <div class="page" data-testid="page-run">
      <p class="crumbs"><Link to="/networks">Networks</Link> › {network && <><Link to={`/networks/${seg(network)}`}>{network}</Link> ›</>}</p>
      <LoadError error={run.error} retry={run.reload} />
      {!r && !run.error && <Loading />}
      {r && (
        <>
          <header class="page-head">
            <h1>Run <span class="mono">{r.id}</span> <Badge value={r.status} testid={`run-status-${r.id}`} /></h1>
            {r.can_rollback && <RollbackButton run={r} onDone={reloadAll} />}
          </header>
          <Section title="Summary">
            <dl class="facts">
              <dt>Network</dt><dd><Link to={`/networks/${seg(network!)}`}>{network}</Link></dd>
              <dt>Mode</dt><dd>{r.mode}{r.complete === false && r.status === 'succeeded' ? ' (partial: not every stream returned all its data)' : ''}</dd>
              <dt>Started</dt><dd>{dateTime(r.started_at)} (<Ago iso={r.started_at} />)</dd>
              <dt>Finished</dt><dd>{r.finished_at ? dateTime(r.finished_at) : r.status === 'running' ? 'still running' : '–'}</dd>
              <dt>Took</dt><dd>{duration(r.duration_ms)}</dd>
              <dt>Changes</dt><dd data-testid="run-counts"><RunCounts counts={r.counts} /></dd>
              {r.status === 'running' && progress && (
                <><dt>Progress</dt><dd data-testid="run-progress">{num(progress.pages)} pages · {num(progress.records)} records · {num(progress.offers)} offers · {num(progress.quarantined)} quarantined · {num(progress.api_calls)} calls</dd></>
              )}
            </dl>
            {r.error && <pre class="error-box" data-testid="run-error">{r.error}</pre>}
            {r.warnings && r.warnings.length > 0 && (
              <ul class="warnings" data-testid="run-warnings">{r.warnings.map((w, i) => <li key={i} class="warn-text">{w}</li>)}</ul>
            )}
          </Section>
        </>
      )}

      <Section title={`API calls${calls.data ? ` (${num(calls.data.total)})` : ''}`} testid="run-calls">
        <LoadError error={calls.error} retry={calls.reload} />
        {calls.data && (calls.data.items.length === 0 ? <Empty>No API calls recorded.</Empty> : (
          <>
            <div class="table-wrap">
              <table class="table calls">
                <thead><tr><th>At</th><th>Stream</th><th>Method</th><th>URL</th><th class="num">Status</th><th class="num">Took</th><th class="num">Size</th><th class="num">Try</th><th>Outcome</th></tr></thead>
                <tbody>
                  {calls.data.items.map((c, i) => (
                    <tr key={`${c.at}-${i}`} data-testid={`call-row-${callsOffset + i}`} class={c.error || (c.status !== null && c.status >= 400) ? 'row-problem' : ''}>
                      <td class="nowrap" title={c.at}>{dateTime(c.at)}</td>
                      <td class="small">{c.stream ?? ''}{c.purpose && c.purpose !== 'data' ? <span class="muted"> ({c.purpose})</span> : ''}{c.partition && <div class="muted mono small" title={c.partition}>{truncate(c.partition, 40)}</div>}</td>
                      <td>{c.method}</td>
                      <td class="url mono" title={c.url}>{c.url}</td>
                      <td class="num"><span class={c.status === null || c.status >= 400 ? 'bad-text' : ''}>{c.status ?? '–'}</span></td>
                      <td class="num">{duration(c.duration_ms)}</td>
                      <td class="num">{bytes(c.bytes)}</td>
                      <td class="num">{c.attempt}</td>
                      <td>{c.outcome && <Badge value={c.outcome} />}{c.error && <div class="error-cell small">{c.error}</div>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager total={calls.data.total} offset={callsOffset} limit={LIMIT} onOffset={(o) => params({ calls: o })} testid="calls-pager" />
          </>
        ))}
      </Section>

      <Section title={`Quarantined records${quarantine.data ? ` (${num(quarantine.data.total)})` : ''}`} testid="run-quarantine">
        <LoadError error={quarantine.error} retry={quarantine.reload} />
        {quarantine.data && (quarantine.data.items.length === 0 ? <Empty>No records were quarantined.</Empty> : (
          <>
            <ul class="quarantine">
              {quarantine.data.items.map((q, i) => (
                <li key={`${q.external_id}-${i}`} data-testid={`quarantine-item-${qOffset + i}`}>
                  <div class="q-head">
                    <span class="mono">{q.external_id ?? '(no id)'}</span>{' '}
                    <span class="muted small">stream {q.stream}{q.page ? `, page ${q.page}` : ''}{q.partition ? `, partition ${truncate(q.partition, 80)}` : ''}</span>
                  </div>
                  <table class="table compact">
                    <thead><tr><th>Field</th><th>Rule</th><th>Problem</th><th>Value</th></tr></thead>
                    <tbody>
                      {q.reasons.map((reason, j) => (
                        <tr key={j}>
                          <td class="mono">{reason.field}</td>
                          <td>{reason.rule}</td>
                          <td>{reason.message}</td>
                          <td class="mono small">{showValue(reason.value)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  <details>
                    <summary>Source record</summary>
                    <Json value={q.record} />
                  </details>
                </li>
              ))}
            </ul>
            <Pager total={quarantine.data.total} offset={qOffset} limit={LIMIT} onOffset={(o) => params({ quarantine: o })} testid="quarantine-pager" />
          </>
        ))}
      </Section>

      {payloads.data && payloads.data.items.length > 0 && (
        <Section title={`Responses that broke the run (${payloads.data.items.length})`} testid="run-payloads">
          {payloads.data.items.map((p, i) => (
            <div key={i} data-testid={`payload-${i}`}>
              <p class="small"><span class="mono">{p.url}</span> · HTTP {p.status ?? '—'} · {p.content_type ?? 'no content type'} · attempt {p.attempt}
                {' · '}{num(p.kept_bytes)} of {num(p.bytes)} bytes kept{p.truncated ? ' (cut)' : ''}{p.decompressed ? ', decompressed' : ''}</p>
              <p class="error small">{p.error}</p>
              <pre class="json">{p.encoding === 'base64' ? `(binary, base64) ${p.payload}` : p.payload}</pre>
            </div>
          ))}
        </Section>
      )}
    </div>
  );
}
