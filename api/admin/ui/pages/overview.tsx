// Overview: offer totals by status, a row per network with its last run, errors in the last 24 h, open alerts,
// and the two charts. Reloads (debounced) when offers are committed, a sync finishes or an alert changes.
import { useState } from 'preact/hooks';
import { api, qs } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { Link } from '../router.ts';
import { Ago, Badge, Empty, Loading, LoadError, Section } from '../ui.tsx';
import { OffersChart, RunsChart } from '../charts.tsx';
import { AlertList } from './alerts.tsx';
import { duration, num, truncate } from '../format.ts';
import type { OffersChart as OffersData, Overview, RunsChart as RunsData } from '../types.ts';

const TILES = [
  { key: 'live', label: 'Live', hint: 'active offers served to consumers' },
  { key: 'expired', label: 'Expired', hint: 'past their end date' },
  { key: 'inactive', label: 'Inactive', hint: 'no longer returned by their network' },
  { key: 'hidden', label: 'Hidden', hint: 'hidden by an admin or the optimizer' },
] as const;

export function OverviewPage() {
  useTitle('Overview');
  const [days, setDays] = useState(30);
  const overview = useResource(() => api.get<Overview>('/overview'), []);
  const offersChart = useResource(() => api.get<OffersData>(`/charts/offers${qs({ days })}`), [days]);
  const runsChart = useResource(() => api.get<RunsData>(`/charts/runs${qs({ days })}`), [days]);
  useLiveRefresh(['offers.committed', 'sync.finished', 'health.*'], () => {
    overview.reload();
    offersChart.reload();
    runsChart.reload();
  }, { debounceMs: 800 });

  const o = overview.data;
  return (
    <div class="page" data-testid="page-overview">
      <h1>Overview</h1>
      <LoadError error={overview.error} retry={overview.reload} />
      {!o && !overview.error && <Loading />}
      {o && (
        <>
          <div class="tiles">
            {TILES.map((t) => (
              <div class={`tile tile-${t.key}`} data-testid={`tile-${t.key}`} title={t.hint}>
                <span class="tile-label">{t.label}</span>
                <span class="tile-value" data-testid={`tile-${t.key}-value`} data-value={o.totals[t.key]}>{num(o.totals[t.key])}</span>
              </div>
            ))}
            <div class={`tile ${o.errors_24h > 0 ? 'tile-bad' : ''}`} data-testid="tile-errors" title="Failed runs and failed API calls in the last 24 hours">
              <span class="tile-label">Errors (24 h)</span>
              <span class="tile-value" data-testid="tile-errors-value" data-value={o.errors_24h}>{num(o.errors_24h)}</span>
            </div>
          </div>
          <p class="muted" data-testid="last-sync">
            Last sync:{' '}
            {o.last_sync
              ? <><Link to={`/networks/${encodeURIComponent(o.last_sync.network)}`}>{o.last_sync.network}</Link> <Badge value={o.last_sync.status} /> <Ago iso={o.last_sync.finished_at} /></>
              : 'none yet'}
          </p>

          <Section title="Networks" testid="overview-networks">
            {o.networks.length === 0
              ? <Empty>No connectors yet. <Link to="/wizard">Import a network</Link>.</Empty>
              : (
                <div class="table-wrap">
                  <table class="table">
                    <thead>
                      <tr><th>Network</th><th class="num">Live</th><th class="num">Expired</th><th class="num">Inactive</th><th class="num">Hidden</th><th>Last run</th><th>When</th><th class="num">Took</th><th>Error</th></tr>
                    </thead>
                    <tbody>
                      {o.networks.map((n) => (
                        <tr data-testid={`overview-network-${n.network}`} key={n.network}>
                          <td><Link to={`/networks/${encodeURIComponent(n.network)}`}>{n.name || n.network}</Link> <span class="muted small">{n.network !== n.name ? n.network : ''}</span></td>
                          <td class="num" data-testid={`overview-live-${n.network}`}>{num(n.live)}</td>
                          <td class="num">{num(n.expired)}</td>
                          <td class="num">{num(n.inactive)}</td>
                          <td class="num">{num(n.hidden)}</td>
                          <td>{n.last_run
                            ? <Link to={`/runs/${encodeURIComponent(n.last_run.id)}`}><Badge value={n.last_run.status} testid={`overview-run-status-${n.network}`} /></Link>
                            : <span class="muted">never</span>}</td>
                          <td><Ago iso={n.last_run?.finished_at ?? n.last_run?.started_at} /></td>
                          <td class="num">{duration(n.last_run?.duration_ms)}</td>
                          <td class="error-cell" title={n.last_run?.error ?? ''}>{n.last_run?.error ? truncate(n.last_run.error, 80) : ''}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
          </Section>

          <Section title={`Open alerts (${o.alerts.length})`} testid="overview-alerts" actions={<Link to="/alerts">All alerts</Link>}>
            <AlertList alerts={o.alerts} onChange={overview.reload} />
          </Section>
        </>
      )}

      <div class="chart-row">
        <Section title="Live offers per network" testid="section-chart-offers" actions={
          <select aria-label="Days" value={days} data-testid="chart-days" onChange={(e) => setDays(Number(e.currentTarget.value))}>
            {[7, 30, 90].map((d) => <option value={d}>{d} days</option>)}
          </select>
        }>
          <LoadError error={offersChart.error} retry={offersChart.reload} />
          {offersChart.data && (offersChart.data.series.length ? <OffersChart data={offersChart.data} /> : <Empty>No offers recorded in this period.</Empty>)}
        </Section>
        <Section title="Run durations" testid="section-chart-runs">
          <LoadError error={runsChart.error} retry={runsChart.reload} />
          {runsChart.data && (runsChart.data.runs.length ? <RunsChart data={runsChart.data} /> : <Empty>No runs in this period.</Empty>)}
        </Section>
      </div>
    </div>
  );
}
