// Networks: every connector's health (state, last success, staleness, error rate, throttling, next run, breaker)
// with its job's progress updated live from sync.* events, and the admin actions. The job/actions/schedule
// pieces are shared with the network and run pages and the wizard's first run.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLive, useLiveRefresh } from '../live.ts';
import { Link } from '../router.ts';
import { ActionButton, Ago, Badge, Empty, Loading, LoadError, Section } from '../ui.tsx';
import { duration, intervalText, num, pct, truncate } from '../format.ts';
import type { Job, NetworkStatus, SyncEvent } from '../types.ts';

/** Applies a sync.* event to a connector's status so progress shows without waiting for a reload. */
export function applySyncEvent(n: NetworkStatus, topic: string, e: SyncEvent): NetworkStatus {
  if (!e || e.connector !== n.network) return n;
  const job: Job | null = n.job && n.job.jobId === e.jobId ? { ...n.job } : n.job;
  switch (topic) {
    case 'sync.queued':
      return { ...n, state: n.state === 'running' ? n.state : 'queued', job: { jobId: e.jobId, trigger: e.trigger ?? 'manual', full: !!e.full, state: 'queued' } };
    case 'sync.started':
      return { ...n, state: 'running', job: { ...(job ?? { jobId: e.jobId, trigger: e.trigger ?? '', full: !!e.full }), jobId: e.jobId, state: 'running', runId: e.runId ?? job?.runId, started_at: job?.started_at ?? new Date().toISOString() } };
    case 'sync.progress':
      return { ...n, state: 'running', job: { ...(job ?? { jobId: e.jobId, trigger: '', full: false }), jobId: e.jobId, state: 'running', runId: e.runId ?? job?.runId, progress: e.progress ?? job?.progress } };
    case 'sync.finished':
      return n.job && n.job.jobId !== e.jobId ? n : { ...n, job: null };
    default:
      return n;
  }
}

export function JobProgress({ job, network }: { job: Job | null; network: string }) {
  if (!job) return <span class="muted small" data-testid={`job-progress-${network}`} data-state="idle">idle</span>;
  const p = job.progress;
  return (
    <span class={`job job-${job.state}`} data-testid={`job-progress-${network}`} data-state={job.state}>
      <span class="spinner" aria-hidden="true" />
      <strong>{job.state === 'queued' ? 'queued' : job.full ? 'full re-sync' : 'syncing'}</strong>
      {p && (
        <span class="job-counts">
          <span data-testid={`job-pages-${network}`}>{num(p.pages)} pages</span>
          <span data-testid={`job-records-${network}`}>{num(p.records)} records</span>
          <span data-testid={`job-offers-${network}`}>{num(p.offers)} offers</span>
          {p.quarantined > 0 && <span class="warn-text">{num(p.quarantined)} quarantined</span>}
          <span class="muted">{num(p.api_calls)} calls</span>
        </span>
      )}
      {job.started_at && <span class="muted small"> · started <Ago iso={job.started_at} /></span>}
    </span>
  );
}

export function NetworkActions({ n, onChange, children }: { n: NetworkStatus; onChange: () => void; children?: ComponentChildren }) {
  const id = n.network;
  const busy = !!n.job;
  let reason = '';
  return (
    <div class="actions">
      <ActionButton small variant="primary" testid={`btn-sync-${id}`} disabled={busy} title={busy ? 'A run is already queued or running' : 'Fetch changes now'}
        done={(r: { jobId: string }) => `Sync of ${id} queued (job ${r.jobId})`}
        run={async () => { const r = await api.post<{ jobId: string }>(`/networks/${seg(id)}/sync`, { full: false }); onChange(); return r; }}>
        Sync now
      </ActionButton>
      <ActionButton small testid={`btn-resync-${id}`} disabled={busy} title="Fetch everything; offers the network no longer returns become inactive"
        confirm={{ title: `Full re-sync of ${n.name || id}?`, body: <p>Every offer is fetched again; offers the network no longer returns are marked inactive.</p>, ok: 'Start full re-sync' }}
        done={(r: { jobId: string }) => `Full re-sync of ${id} queued (job ${r.jobId})`}
        run={async () => { const r = await api.post<{ jobId: string }>(`/networks/${seg(id)}/sync`, { full: true }); onChange(); return r; }}>
        Full re-sync
      </ActionButton>
      {n.paused
        ? (
          <ActionButton small testid={`btn-resume-${id}`} done={`${id} resumed`}
            run={async () => { await api.post(`/networks/${seg(id)}/resume`); onChange(); }}>
            Resume
          </ActionButton>
        )
        : (
          <ActionButton small testid={`btn-pause-${id}`} done={`${id} paused`}
            confirm={{
              title: `Pause ${n.name || id}?`,
              body: (
                <label>Reason (optional, shown to other admins)
                  <input type="text" data-testid="pause-reason" onInput={(e) => { reason = e.currentTarget.value; }} />
                </label>
              ),
              ok: 'Pause',
            }}
            run={async () => { await api.post(`/networks/${seg(id)}/pause`, reason.trim() ? { reason: reason.trim() } : {}); onChange(); }}>
            Pause
          </ActionButton>
        )}
      {children}
    </div>
  );
}

const SOURCE: Record<string, string> = { override: 'admin override', spec: "from the spec", default: 'default' };

export function scheduleText(n: NetworkStatus): string {
  const s = n.schedule;
  if (!s) return 'no schedule';
  const what = s.cron ? `cron ${s.cron}` : s.intervalMs ? intervalText(s.intervalMs) : s.text ?? '?';
  return `${what} (${SOURCE[s.source] ?? s.source})`;
}

/** Overrides the spec's schedule with a cron or interval, or goes back to the spec's. */
export function ScheduleEditor({ n, onChange }: { n: NetworkStatus; onChange: () => void }) {
  const id = n.network;
  const [kind, setKind] = useState<'interval' | 'cron'>(n.schedule?.cron ? 'cron' : 'interval');
  const [value, setValue] = useState(n.schedule?.source === 'override' ? n.schedule.cron ?? n.schedule.text ?? '' : '');
  const overridden = n.schedule?.source === 'override';
  return (
    <div class="schedule-editor" data-testid={`schedule-editor-${id}`}>
      <p class="small">Current: <strong data-testid={`schedule-${id}`}>{scheduleText(n)}</strong></p>
      <div class="inline-form">
        <select aria-label="Schedule kind" value={kind} data-testid={`schedule-kind-${id}`} onChange={(e) => setKind(e.currentTarget.value as 'interval' | 'cron')}>
          <option value="interval">Interval</option>
          <option value="cron">Cron</option>
        </select>
        <input type="text" aria-label="Schedule" value={value} data-testid={`schedule-value-${id}`}
          placeholder={kind === 'cron' ? '0 */6 * * *' : '6h'} onInput={(e) => setValue(e.currentTarget.value)} />
        <ActionButton small variant="primary" testid={`btn-schedule-save-${id}`} disabled={!value.trim()} done={`Schedule of ${id} updated`}
          run={async () => { await api.put(`/networks/${seg(id)}/schedule`, kind === 'cron' ? { cron: value.trim() } : { interval: value.trim() }); onChange(); }}>
          Override
        </ActionButton>
        <ActionButton small testid={`btn-schedule-reset-${id}`} disabled={!overridden} title={overridden ? undefined : 'Already the spec\'s schedule'}
          done={`${id} is back on its spec's schedule`}
          run={async () => { await api.put(`/networks/${seg(id)}/schedule`, {}); onChange(); }}>
          Use spec's schedule
        </ActionButton>
      </div>
    </div>
  );
}

export function staleness(s: number | null): string {
  return s === null ? '–' : duration(s * 1000);
}

/** Reloads on the events that change a connector's status, patching job progress in place meanwhile. */
export function useNetworkLive(apply: (topic: string, e: SyncEvent) => void, reload: () => void, connector?: string): void {
  useLive(['sync.*'], (topic, data) => { if (topic.startsWith('sync.')) apply(topic, data as SyncEvent); });
  useLiveRefresh(['sync.queued', 'sync.started', 'sync.finished', 'sync.skipped', 'scheduler.*', 'health.*', 'offers.committed'], reload, {
    debounceMs: 400,
    filter: (_t, d) => !connector || !d || typeof d !== 'object' || !('connector' in d) || (d as { connector: unknown }).connector === connector,
  });
}

export function NetworksPage() {
  useTitle('Networks');
  const nets = useResource(() => api.get<NetworkStatus[]>('/networks'), []);
  const [editing, setEditing] = useState<string | null>(null);
  useNetworkLive((topic, e) => {
    if (nets.data) nets.setData(nets.data.map((n) => applySyncEvent(n, topic, e)));
  }, nets.reload);

  return (
    <div class="page" data-testid="page-networks">
      <h1>Networks</h1>
      <LoadError error={nets.error} retry={nets.reload} />
      {!nets.data && !nets.error && <Loading />}
      {nets.data && (
        <Section title={`Connectors (${nets.data.length})`} actions={<Link to="/wizard" class="btn btn-small">Import new network</Link>}>
          {nets.data.length === 0 ? <Empty>No connectors.</Empty> : (
            <div class="table-wrap">
              <table class="table networks">
                <thead>
                  <tr>
                    <th>Network</th><th>State</th><th>Last run</th><th>Last success</th><th class="num">Staleness</th>
                    <th class="num" title="Failed runs / runs in the last 24 h">Errors 24 h</th><th class="num" title="HTTP 429 answers in the last 24 h">429s</th>
                    <th>Next run</th><th>Breaker</th><th class="num">Live</th><th>Job</th><th>Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {nets.data.map((n) => [
                    <tr data-testid={`network-row-${n.network}`} key={n.network} class={n.problem ? 'row-problem' : ''}>
                      <td>
                        <Link to={`/networks/${seg(n.network)}`} data-testid={`network-link-${n.network}`}>{n.name || n.network}</Link>
                        <div class="muted small">{n.network}</div>
                      </td>
                      <td>
                        <Badge value={n.state} testid={`network-state-${n.network}`} title={n.problem ?? undefined} />
                        {n.paused && n.paused_reason && <div class="small muted">{n.paused_reason}</div>}
                        {n.problem && <div class="small bad-text" data-testid={`network-problem-${n.network}`}>{n.problem}</div>}
                      </td>
                      <td>
                        {n.last_status ? <Badge value={n.last_status} testid={`network-last-status-${n.network}`} /> : <span class="muted">never</span>}
                        {n.last_error && <div class="small bad-text" title={n.last_error}>{truncate(n.last_error, 80)}</div>}
                      </td>
                      <td><Ago iso={n.last_success_at} /></td>
                      <td class="num">{staleness(n.staleness_s)}</td>
                      <td class="num" title={`${n.failed_24h} of ${n.runs_24h} runs failed`}>{n.runs_24h ? pct(n.error_rate_24h) : '–'}</td>
                      <td class={`num ${n.throttled_24h > 0 ? 'warn-text' : ''}`}>{num(n.throttled_24h)}</td>
                      <td>{n.paused ? <span class="muted">paused</span> : <><Ago iso={n.next_run_at} />{n.next_reason && n.next_reason !== 'schedule' && <div class="small warn-text">{n.next_reason.replace(/_/g, ' ')}</div>}</>}</td>
                      <td><Badge value={n.breaker.state} testid={`breaker-${n.network}`} title={n.breaker.consecutive_failures ? `${n.breaker.consecutive_failures} consecutive failures` : undefined} /></td>
                      <td class="num">{num(n.offers.live)}</td>
                      <td><JobProgress job={n.job} network={n.network} /></td>
                      <td>
                        <NetworkActions n={n} onChange={nets.reload}>
                          <button type="button" class="btn btn-small btn-link" data-testid={`btn-schedule-${n.network}`} aria-expanded={editing === n.network}
                            onClick={() => setEditing(editing === n.network ? null : n.network)}>
                            Schedule…
                          </button>
                        </NetworkActions>
                      </td>
                    </tr>,
                    editing === n.network && (
                      <tr class="row-editor" key={`${n.network}-schedule`}>
                        <td colSpan={12}><ScheduleEditor n={n} onChange={nets.reload} /></td>
                      </tr>
                    ),
                  ])}
                </tbody>
              </table>
            </div>
          )}
        </Section>
      )}
    </div>
  );
}
