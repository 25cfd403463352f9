// Entry of the admin app: asks /me who is logged in, shows the login page or the app (top nav, message banner,
// the routed page), and keeps the live event stream open while logged in.
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import './styles.css';
import { api, ApiError, onUnauthorized } from './api.ts';
import { liveStatus, startLive, stopLive } from './live.ts';
import { Link, match, navigate, useLocation } from './router.ts';
import { banner, clearBanner, notifyError, session, useSession, useStore } from './store.ts';
import { BannerHost, DialogHost, Loading } from './ui.tsx';
import type { Me } from './types.ts';
import { LoginPage } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { NetworksPage } from './pages/networks.tsx';
import { NetworkPage } from './pages/network.tsx';
import { RunPage } from './pages/run.tsx';
import { OffersPage } from './pages/offers.tsx';
import { OfferPage } from './pages/offer.tsx';
import { WizardPage } from './pages/wizard.tsx';
import { ReviewPage } from './pages/review.tsx';
import { AlertsPage } from './pages/alerts.tsx';
import { AuditPage } from './pages/audit.tsx';

const NAV: Array<{ to: string; label: string; id: string; prefix: string[] }> = [
  { to: '/', label: 'Overview', id: 'overview', prefix: [] },
  { to: '/networks', label: 'Networks', id: 'networks', prefix: ['/networks', '/runs'] },
  { to: '/offers', label: 'Offers', id: 'offers', prefix: ['/offers'] },
  { to: '/wizard', label: 'Import network', id: 'wizard', prefix: ['/wizard'] },
  { to: '/review', label: 'Review', id: 'review', prefix: ['/review'] },
  { to: '/alerts', label: 'Alerts', id: 'alerts', prefix: ['/alerts'] },
  { to: '/audit', label: 'Audit log', id: 'audit', prefix: ['/audit'] },
];

function Page({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === '/' || path === '/login') return <OverviewPage />;
  if (match('/networks', path)) return <NetworksPage />;
  if ((p = match('/networks/:id', path))) return <NetworkPage id={p.id} key={p.id} />;
  if ((p = match('/runs/:runId', path))) return <RunPage runId={p.runId} key={p.runId} />;
  if (match('/offers', path)) return <OffersPage />;
  if ((p = match('/offers/:key', path))) return <OfferPage offerKey={p.key} key={p.key} />;
  if (match('/wizard', path)) return <WizardPage />;
  if (match('/review', path)) return <ReviewPage />;
  if (match('/alerts', path)) return <AlertsPage />;
  if (match('/audit', path)) return <AuditPage />;
  return (
    <div class="page" data-testid="page-not-found">
      <h1>Not found</h1>
      <p>There is no page at this address. <Link to="/">Back to the overview</Link>.</p>
    </div>
  );
}

function LiveIndicator() {
  const s = useStore(liveStatus);
  const text = s === 'open' ? 'live' : s === 'off' ? 'offline' : 'reconnecting…';
  return <span class={`live live-${s}`} data-testid="live-status" data-state={s} title="Live updates from the server">{text}</span>;
}

function Nav({ me, path }: { me: Me; path: string }) {
  async function logout() {
    try {
      await api.post('/logout', {}, { allow401: true });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) { notifyError(e); return; }
    }
    stopLive();
    clearBanner();
    session.set(null);
    navigate('/', { replace: true });
  }
  return (
    <header class="topbar">
      <nav class="nav" aria-label="Main">
        <Link to="/" class="brand">OfferFeed</Link>
        {NAV.map((n) => {
          const active = n.prefix.length ? n.prefix.some((p) => path === p || path.startsWith(`${p}/`)) : path === '/';
          return <Link to={n.to} class={active ? 'active' : ''} data-testid={`nav-${n.id}`} aria-current={active ? 'page' : undefined}>{n.label}</Link>;
        })}
      </nav>
      <div class="who">
        <LiveIndicator />
        <span data-testid="nav-user">{me.user}</span>
        <span class={`role role-${me.role}`} data-testid="nav-role">{me.role}</span>
        {me.via === 'session' && <button type="button" class="btn btn-small" data-testid="btn-logout" onClick={logout}>Log out</button>}
      </div>
    </header>
  );
}

function App() {
  const me = useSession();
  const loc = useLocation();

  useEffect(() => {
    const off = onUnauthorized(() => {
      if (session.get() !== null) {
        stopLive();
        session.set(null);
      }
    });
    api.get<Me>('/me').then((m) => session.set(m), (e) => {
      if (!(e instanceof ApiError && e.status === 401)) {
        notifyError(e);
        session.set(null);
      }
    });
    return off;
  }, []);

  useEffect(() => {
    if (me) startLive();
    else stopLive();
  }, [me]);

  // A message about the previous page does not belong on the next one.
  useEffect(() => { if (banner.get()?.kind === 'info' || me) clearBanner(); }, [loc.path]);

  // The address bar says where the user is: /login while logged out, back to the page asked for after login.
  useEffect(() => {
    if (me === null && loc.path !== '/login') {
      sessionStorage.setItem('offerfeed.after-login', loc.path + (loc.query.toString() ? `?${loc.query}` : ''));
      navigate('/login', { replace: true });
    } else if (me && loc.path === '/login') {
      const to = sessionStorage.getItem('offerfeed.after-login') || '/';
      sessionStorage.removeItem('offerfeed.after-login');
      navigate(to === '/login' ? '/' : to, { replace: true });
    }
  }, [me, loc.path]);

  if (me === undefined) return <main class="boot"><Loading what="Starting" /></main>;
  if (me === null) {
    return (
      <>
        <BannerHost />
        <LoginPage />
      </>
    );
  }
  return (
    <>
      <Nav me={me} path={loc.path} />
      <BannerHost />
      {me.role !== 'admin' && <p class="readonly-note" data-testid="readonly-note">Read-only: you are logged in as a viewer; actions need the admin role.</p>}
      <main class="content">
        <Page path={loc.path} key={loc.path} />
      </main>
      <DialogHost />
    </>
  );
}

render(<App />, document.getElementById('app')!);
