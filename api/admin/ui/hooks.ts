// Data loading for pages: keeps the last good data while a reload runs (live refreshes do not flicker) and
// drops answers that arrive after a newer request was made.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  setData: (v: T) => void;
}

/** `keep`: when deps change, keep showing the previous data until the new answer arrives (filters, paging). */
export function useResource<T>(load: () => Promise<T>, deps: unknown[], o: { keep?: boolean } = {}): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    loadRef.current().then(
      (v) => { if (mine === seq.current) { setData(v); setError(undefined); setLoading(false); } },
      (e: unknown) => { if (mine === seq.current) { setError(e instanceof Error ? e : new Error(String(e))); setLoading(false); } },
    );
  }, []);

  useEffect(() => {
    if (!o.keep) setData(undefined);
    run();
    // A page that goes away must not apply a late answer.
    return () => { seq.current++; };
  }, deps);

  return { data, error, loading, reload: run, setData };
}

/** Re-renders every `ms` so relative times ("2 min ago") stay true. */
export function useNow(ms = 15_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Sets the document title for the page. */
export function useTitle(title: string): void {
  useEffect(() => { document.title = `${title} · OfferFeed admin`; }, [title]);
}
