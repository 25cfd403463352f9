// One network: its health and schedule, live job progress, the latest runs (each linking to its drill-down),
// rollback of the latest committed run, and its alerts.
import { api, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { Link } from '../router.ts';
import { ActionButton, Ago, Badge, Empty, Loading, LoadError, Section } from '../ui.tsx';
import { duration, num, pct, truncate } from '../format.ts';
import { AlertList } from './alerts.tsx';
import { applySyncEvent, JobProgress, NetworkActions, ScheduleEditor, staleness, useNetworkLive } from './networks.tsx';
import type { NetworkDetail, Run } from '../types.ts';

const COUNT_ORDER = ['new', 'updated', 'unchanged', 'deactivated', 'expired', 'quarantined', 'filtered'];

export function RunCounts({ counts }: { counts: Record<string, number> | null | undefined }) {
  if (!counts) return <span class="muted">–</span>;
  const keys = [...COUNT_ORDER.filter((k) => k in counts), ...Object.keys(counts).filter((k) => !COUNT_ORDER.includes(k)).sort()];
  const shown = keys.filter((k) => typeof counts[k] === 'number' && counts[k] !== 0);
  if (!shown.length) return <span class="muted">no changes</span>;
  return (
    <span class="counts">
      {shown.map((k) => <span class={`count count-${k}`} data-count={k} key={k}>{num(counts[k])} {k}</span>)}
    </span>
  );
}

/** The run a rollback applies to, as the server decides it: the connector's latest succeeded run by finish time. */
export function latestCommitted(runs: Run[]): Run | undefined {
  const done = runs.filter((r) => r.status === 'succeeded' && r.finished_at);
  return done.sort((a, b) => b.finished_at!.localeCompare(a.finished_at!))[0];
}

export function RollbackButton({ run, onDone }: { run: Run; onDone: () => void }) {
  return (
    <ActionButton small variant="danger" testid={`btn-rollback-${run.id}`}
      confirm={{
        title: 'Roll back this run?',
        body: (
          <>
            <p>Every change run <code>{run.id}</code> made to {run.network ?? run.connector}'s offers is undone: offers it added become inactive, offers it changed, deactivated or expired get their previous state back.</p>
            <p>The rollback is recorded in the offers' history and the audit log.</p>
          </>
        ),
        ok: 'Roll back',
        danger: true,
      }}
      done={(r: { runId: string; restored?: number }) => `Run ${run.id} rolled back${typeof r.restored === 'number' ? ` (${r.restored} offers restored)` : ''}`}
      run={async () => { const r = await api.post<{ runId: string; restored?: number }>(`/runs/${seg(run.id)}/rollback`); onDone(); return r; }}>
      Roll back
    </ActionButton>
  );
}

export function NetworkPage({ id }: { id: string }) {
  useTitle(id);
  const d = useResource(() => api.get<NetworkDetail>(`/networks/${seg(id)}`), [id]);
  useNetworkLive((topic, e) => {
    if (d.data) d.setData({ ...d.data, status: applySyncEvent(d.data.status, topic, e) });
  }, d.reload, id);

  const n = d.data?.status;
  const rollbackTarget = d.data ? latestCommitted(d.data.runs) : undefined;
  return (
    <div class="page" data-testid="page-network">
      <p class="crumbs"><Link to="/networks">Networks</Link> ›</p>
      <LoadError error={d.error} retry={d.reload} />
      {!d.data && !d.error && <Loading />}
      {n && d.data && (
        <>
          <header class="page-head">
            <h1>{n.name || n.network} <Badge value={n.state} testid={`network-state-${n.network}`} /></h1>
            <NetworkActions n={n} onChange={d.reload} />
          </header>
          {n.problem && <p class="load-error" data-testid={`network-problem-${n.network}`}>{n.problem}</p>}
          {n.paused && <p class="notice">Paused{n.paused_reason ? `: ${n.paused_reason}` : ''}. Scheduled runs are skipped until resumed; "Sync now" still works.</p>}
          <div class="grid-2">
            <Section title="Health">
              <dl class="facts">
                <dt>Last run</dt><dd>{n.last_status ? <Badge value={n.last_status} /> : 'never'}{n.last_error && <div class="small bad-text">{n.last_error}</div>}</dd>
                <dt>Last success</dt><dd><Ago iso={n.last_success_at} /></dd>
                <dt>Staleness</dt><dd>{staleness(n.staleness_s)}</dd>
                <dt>Runs (24 h)</dt><dd>{num(n.runs_24h)} ({num(n.failed_24h)} failed, {n.runs_24h ? pct(n.error_rate_24h) : '–'})</dd>
                <dt>HTTP 429 (24 h)</dt><dd>{num(n.throttled_24h)}</dd>
                <dt>Next run</dt><dd>{n.paused ? 'paused' : <><Ago iso={n.next_run_at} />{n.next_reason && n.next_reason !== 'schedule' ? ` (${n.next_reason.replace(/_/g, ' ')})` : ''}</>}</dd>
                <dt>Breaker</dt>
                <dd><Badge value={n.breaker.state} testid={`breaker-${n.network}`} />{n.breaker.consecutive_failures > 0 && <> {n.breaker.consecutive_failures} consecutive failures</>}{n.breaker.retry_at && <> · retry <Ago iso={n.breaker.retry_at} /></>}</dd>
                <dt>Offers</dt><dd>{num(n.offers.live)} live · {num(n.offers.expired)} expired · {num(n.offers.inactive)} inactive · {num(n.offers.hidden)} hidden · <Link to={`/offers?network=${seg(n.network)}`}>browse</Link></dd>
                <dt>Job</dt><dd><JobProgress job={n.job} network={n.network} />{n.job?.runId && <> · <Link to={`/runs/${seg(n.job.runId)}`}>run</Link></>}</dd>
              </dl>
            </Section>
            <Section title="Schedule">
              <ScheduleEditor n={n} onChange={d.reload} key={`${n.schedule?.text ?? ''}|${n.schedule?.source ?? ''}`} />
            </Section>
          </div>

          <Section title={`Runs (latest ${d.data.runs.length})`} testid="network-runs">
            {d.data.runs.length === 0 ? <Empty>No runs yet.</Empty> : (
              <div class="table-wrap">
                <table class="table">
                  <thead><tr><th>Run</th><th>Status</th><th>Mode</th><th>Started</th><th class="num">Took</th><th>Changes</th><th>Error</th><th /></tr></thead>
                  <tbody>
                    {d.data.runs.map((r) => (
                      <tr data-testid={`run-row-${r.id}`} key={r.id} class={r.status === 'failed' ? 'row-problem' : ''}>
                        <td><Link to={`/runs/${seg(r.id)}`} class="mono">{truncate(r.id, 14)}</Link></td>
                        <td><Badge value={r.status} testid={`run-status-${r.id}`} />{r.complete === false && r.status === 'succeeded' && <> <Badge value="partial" title="Not every stream returned all its data (page cap, window or failure)" /></>}</td>
                        <td>{r.mode}</td>
                        <td><Ago iso={r.started_at} /></td>
                        <td class="num">{r.status === 'running' ? '…' : duration(r.duration_ms)}</td>
                        <td><RunCounts counts={r.counts} /></td>
                        <td class="error-cell" title={r.error ?? ''}>{r.error ? truncate(r.error, 90) : ''}</td>
                        <td>{rollbackTarget?.id === r.id && <RollbackButton run={r} onDone={d.reload} />}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>

          <Section title="Alerts">
            <AlertList alerts={d.data.alerts} onChange={d.reload} />
          </Section>
        </>
      )}
    </div>
  );
}
