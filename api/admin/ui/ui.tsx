// Small shared pieces: the message banner, confirm dialog, status badges, relative times, pager, and the button
// every admin action goes through (disabled for viewers, busy state, errors to the banner).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { banner, clearBanner, notify, notifyError, Store, useIsAdmin, useStore } from './store.ts';
import { useNow } from './hooks.ts';
import { dateTime, relative } from './format.ts';

export function BannerHost() {
  const b = useStore(banner);
  if (!b) return null;
  return (
    <div class={`banner banner-${b.kind}`} role={b.kind === 'error' ? 'alert' : 'status'} data-testid={b.kind === 'error' ? 'error-banner' : 'info-banner'}>
      <span class="banner-text">{b.text}</span>
      <button type="button" class="banner-close" aria-label="Dismiss" data-testid="banner-dismiss" onClick={clearBanner}>×</button>
    </div>
  );
}

/** A page's own load failure (kept apart from the action banner so both can show). */
export function LoadError({ error, retry }: { error: Error | undefined; retry?: () => void }) {
  if (!error) return null;
  return (
    <div class="load-error" role="alert" data-testid="load-error">
      {error.message}
      {retry && <button type="button" class="btn btn-small" onClick={retry}>Retry</button>}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p class="muted" data-testid="loading">{what}…</p>;
}

// ---- confirm dialog ----

interface DialogState { title: string; body: ComponentChildren; ok: string; danger: boolean; resolve: (v: boolean) => void }
const dialog = new Store<DialogState | null>(null);

export function confirmDialog(title: string, body: ComponentChildren, o: { ok?: string; danger?: boolean } = {}): Promise<boolean> {
  dialog.get()?.resolve(false);
  return new Promise((resolve) => dialog.set({ title, body, ok: o.ok ?? 'Confirm', danger: o.danger ?? false, resolve }));
}

export function DialogHost() {
  const d = useStore(dialog);
  const okRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!d) return;
    okRef.current?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') close(false); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [d]);
  if (!d) return null;
  function close(v: boolean) {
    dialog.set(null);
    d!.resolve(v);
  }
  return (
    <div class="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) close(false); }}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="dialog-title" data-testid="confirm-dialog">
        <h2 id="dialog-title">{d.title}</h2>
        <div class="modal-body">{d.body}</div>
        <div class="modal-actions">
          <button type="button" class="btn" data-testid="confirm-cancel" onClick={() => close(false)}>Cancel</button>
          <button type="button" ref={okRef} class={`btn ${d.danger ? 'btn-danger' : 'btn-primary'}`} data-testid="confirm-ok" onClick={() => close(true)}>{d.ok}</button>
        </div>
      </div>
    </div>
  );
}

// ---- actions ----

export interface ActionProps {
  testid: string;
  children: ComponentChildren;
  run: () => Promise<unknown>;
  /** Shown in the banner after success. */
  done?: string | ((result: any) => string);
  confirm?: { title: string; body: ComponentChildren; ok?: string; danger?: boolean };
  adminOnly?: boolean;
  variant?: 'primary' | 'danger' | 'plain';
  small?: boolean;
  disabled?: boolean;
  title?: string;
}

/** Viewers see admin actions disabled (with the reason on hover); the server still enforces the role. */
export function ActionButton(p: ActionProps) {
  const isAdmin = useIsAdmin();
  const [busy, setBusy] = useState(false);
  const forbidden = (p.adminOnly ?? true) && !isAdmin;
  async function onClick() {
    if (p.confirm && !(await confirmDialog(p.confirm.title, p.confirm.body, { ok: p.confirm.ok, danger: p.confirm.danger }))) return;
    setBusy(true);
    try {
      const r = await p.run();
      if (p.done) notify('info', typeof p.done === 'function' ? p.done(r) : p.done);
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(false);
    }
  }
  const cls = ['btn', p.variant === 'primary' ? 'btn-primary' : p.variant === 'danger' ? 'btn-danger' : '', p.small ? 'btn-small' : ''].filter(Boolean).join(' ');
  return (
    <button
      type="button"
      class={cls}
      data-testid={p.testid}
      disabled={forbidden || busy || p.disabled}
      aria-busy={busy}
      title={forbidden ? 'Needs the admin role' : p.title}
      onClick={onClick}
    >
      {p.children}
    </button>
  );
}

// ---- display bits ----

const TONE: Record<string, string> = {
  succeeded: 'ok', active: 'ok', scheduled: 'ok', closed: 'ok', open_alert: 'bad', approved: 'ok', finished: 'ok', live: 'ok',
  running: 'run', queued: 'run', half_open: 'warn', partial: 'warn',
  failed: 'bad', breaker_open: 'bad', invalid: 'bad', needs_reauth: 'bad', open: 'bad', critical: 'bad', error: 'bad',
  paused: 'warn', cancelled: 'warn', warning: 'warn', unconfigured: 'muted', retired: 'muted', inactive: 'muted',
  expired: 'muted', hidden: 'warn', info: 'muted', rejected: 'muted',
  ok: 'ok', success: 'ok', denied: 'bad', rolled_back: 'warn', skipped: 'muted', edited: 'ok', superseded: 'muted',
  insert: 'ok', update: 'run', deactivate: 'muted', expire: 'muted', reactivate: 'ok', rollback: 'warn', hide: 'warn', unhide: 'ok',
  pin: 'run', unpin: 'muted', promote: 'ok', demote: 'muted', pinned: 'run', promoted: 'ok', high: 'ok', medium: 'warn', low: 'bad',
  resolved: 'muted', retry: 'warn', http_error: 'bad', network_error: 'bad', timeout: 'bad', throttled: 'warn',
};

export function Badge({ value, testid, title }: { value: string | null | undefined; testid?: string; title?: string }) {
  const v = value ?? '–';
  return <span class={`badge tone-${TONE[v] ?? 'muted'}`} data-testid={testid} title={title}>{v.replace(/_/g, ' ')}</span>;
}

export function Ago({ iso, testid }: { iso: string | null | undefined; testid?: string }) {
  const now = useNow();
  if (!iso) return <span class="muted" data-testid={testid}>–</span>;
  return <time dateTime={iso} title={dateTime(iso)} data-testid={testid}>{relative(iso, now)}</time>;
}

export function Pager({ total, offset, limit, onOffset, testid = 'pager' }: { total: number; offset: number; limit: number; onOffset: (o: number) => void; testid?: string }) {
  if (total <= limit && offset === 0) return <p class="muted pager-info" data-testid={testid}>{total} in total</p>;
  const last = Math.max(0, Math.floor((total - 1) / limit) * limit);
  return (
    <div class="pager" data-testid={testid}>
      <button type="button" class="btn btn-small" disabled={offset <= 0} onClick={() => onOffset(0)}>« First</button>
      <button type="button" class="btn btn-small" data-testid={`${testid}-prev`} disabled={offset <= 0} onClick={() => onOffset(Math.max(0, offset - limit))}>‹ Previous</button>
      <span class="pager-info">{total ? `${offset + 1}–${Math.min(offset + limit, total)} of ${total}` : 'none'}</span>
      <button type="button" class="btn btn-small" data-testid={`${testid}-next`} disabled={offset + limit >= total} onClick={() => onOffset(offset + limit)}>Next ›</button>
      <button type="button" class="btn btn-small" disabled={offset >= last} onClick={() => onOffset(last)}>Last »</button>
    </div>
  );
}

export function Json({ value, testid }: { value: unknown; testid?: string }) {
  return <pre class="json" data-testid={testid}>{JSON.stringify(value, null, 2)}</pre>;
}

export function Section({ title, children, actions, testid }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={testid}>
      <header class="card-head"><h2>{title}</h2>{actions && <div class="card-actions">{actions}</div>}</header>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty muted">{children}</p>;
}
