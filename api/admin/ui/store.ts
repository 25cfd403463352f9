// App-wide state without a state library: the session (who is logged in, with which role) and the message
// banner. Each is a tiny observable value with a hook.
import { useEffect, useState } from 'preact/hooks';
import type { Me } from './types.ts';

export class Store<T> {
  private listeners = new Set<(v: T) => void>();
  constructor(private value: T) {}
  get(): T { return this.value; }
  set(v: T): void {
    this.value = v;
    for (const l of this.listeners) l(v);
  }
  subscribe(fn: (v: T) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }
}

export function useStore<T>(s: Store<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    setV(s.get());
    return s.subscribe(setV);
  }, [s]);
  return v;
}

/** undefined: not known yet (asking /me); null: logged out. */
export const session = new Store<Me | null | undefined>(undefined);

export function useSession(): Me | null | undefined { return useStore(session); }
export function useIsAdmin(): boolean { return useStore(session)?.role === 'admin'; }

export interface Banner { kind: 'error' | 'info'; text: string; id: number }
export const banner = new Store<Banner | null>(null);
let bannerSeq = 0;
let bannerTimer: ReturnType<typeof setTimeout> | undefined;

/** Shows a message at the top of the page; info messages fade after a few seconds, errors stay until dismissed. */
export function notify(kind: Banner['kind'], text: string): void {
  clearTimeout(bannerTimer);
  const id = ++bannerSeq;
  banner.set({ kind, text, id });
  if (kind === 'info') bannerTimer = setTimeout(() => { if (banner.get()?.id === id) banner.set(null); }, 5000);
}

export function notifyError(e: unknown): void {
  notify('error', e instanceof Error ? e.message : String(e));
}

export const clearBanner = () => banner.set(null);
