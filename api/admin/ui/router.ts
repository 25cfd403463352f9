// History-API routing under /admin/offers-feed: paths are app-relative ('/networks/cj'), the query string is
// part of the state (filters survive reloads and can be shared as links).
import { h, type ComponentChildren, type JSX } from 'preact';
import { Store, useStore } from './store.ts';

export const BASE = '/admin/offers-feed';

export interface Location { path: string; query: URLSearchParams }

function current(): Location {
  let p = window.location.pathname;
  if (p.startsWith(BASE)) p = p.slice(BASE.length);
  if (!p.startsWith('/')) p = `/${p}`;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return { path: p, query: new URLSearchParams(window.location.search) };
}

export const location = new Store<Location>(current());

window.addEventListener('popstate', () => location.set(current()));

/** Full URL of an app path. */
export const href = (to: string) => (to === '/' ? BASE : BASE + to);

export function navigate(to: string, o: { replace?: boolean } = {}): void {
  const url = href(to);
  if (url === window.location.pathname + window.location.search) return;
  if (o.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  location.set(current());
  if (!o.replace) window.scrollTo(0, 0);
}

/** Replaces the query string (filters), keeping the path; empty values are dropped. */
export function setQuery(params: Record<string, string | number | undefined | null>): void {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  navigate(location.get().path + (s ? `?${s}` : ''), { replace: true });
}

export function useLocation(): Location { return useStore(location); }

/** Matches '/networks/:id' against a path; params are URI-decoded. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) {
      try { params[a[i].slice(1)] = decodeURIComponent(b[i]); } catch { return null; }
    } else if (a[i] !== b[i]) return null;
  }
  return params;
}

type LinkProps = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children?: ComponentChildren };

/** An <a> that navigates inside the app (a modified click still opens a new tab as usual). */
export function Link({ to, children, ...rest }: LinkProps) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return h('a', { ...rest, href: href(to), onClick }, children);
}
