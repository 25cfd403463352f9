// Alerts raised by the health monitor (failing or stale feeds): open ones by default, resolved ones on request.
import { api, qs, seg } from '../api.ts';
import { useResource, useTitle } from '../hooks.ts';
import { useLiveRefresh } from '../live.ts';
import { Link, setQuery, useLocation } from '../router.ts';
import { ActionButton, Ago, Badge, Empty, Loading, LoadError, Section } from '../ui.tsx';
import type { Alert } from '../types.ts';

export function AlertList({ alerts, onChange }: { alerts: Alert[]; onChange: () => void }) {
  if (!alerts.length) return <Empty>No alerts.</Empty>;
  return (
    <ul class="alerts" data-testid="alert-list">
      {alerts.map((a) => (
        <li class={`alert ${a.resolved_at ? 'alert-resolved' : `alert-${a.severity}`}`} data-testid={`alert-${a.key}`} key={a.key}>
          <div class="alert-main">
            <Badge value={a.resolved_at ? 'resolved' : a.severity} />
            {a.connector && <Link to={`/networks/${seg(a.connector)}`} class="alert-connector">{a.connector}</Link>}
            <span class="muted small">{a.kind.replace(/_/g, ' ')}</span>
            <p class="alert-message">{a.message}</p>
          </div>
          <div class="alert-side">
            <span class="small">raised <Ago iso={a.first_seen_at} />{a.last_seen_at && a.last_seen_at !== a.first_seen_at && <>, last seen <Ago iso={a.last_seen_at} /></>}</span>
            {a.resolved_at
              ? <span class="small">resolved <Ago iso={a.resolved_at} />{a.resolved_by ? ` by ${a.resolved_by}` : ''}</span>
              : (
                <ActionButton small testid={`btn-resolve-${a.key}`} done="Alert resolved"
                  run={async () => { await api.post(`/alerts/${seg(a.key)}/resolve`); onChange(); }}>
                  Resolve
                </ActionButton>
              )}
          </div>
        </li>
      ))}
    </ul>
  );
}

export function AlertsPage() {
  useTitle('Alerts');
  const loc = useLocation();
  const all = loc.query.get('all') === '1';
  const alerts = useResource(() => api.get<Alert[]>(`/alerts${qs({ open: all ? undefined : 'true' })}`), [all]);
  useLiveRefresh(['health.*'], alerts.reload);
  return (
    <div class="page" data-testid="page-alerts">
      <h1>Alerts</h1>
      <div class="toolbar">
        <label class="check">
          <input type="checkbox" checked={all} data-testid="alerts-show-resolved" onChange={(e) => setQuery({ all: e.currentTarget.checked ? '1' : undefined })} />
          Show resolved alerts too
        </label>
      </div>
      <LoadError error={alerts.error} retry={alerts.reload} />
      {!alerts.data && !alerts.error && <Loading />}
      {alerts.data && (
        <Section title={all ? `All alerts (${alerts.data.length})` : `Open alerts (${alerts.data.length})`}>
          <AlertList alerts={alerts.data} onChange={alerts.reload} />
        </Section>
      )}
    </div>
  );
}
