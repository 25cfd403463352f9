// One EventSource on /admin/api/events for the whole app. Pages subscribe to topics (exact, or a prefix like
// 'health.*', or '*'); the connection reconnects with backoff when the server drops it, and after a reconnect
// subscribers get a 'live.reconnected' event so they can reload what they may have missed meanwhile.
import { useEffect, useRef } from 'preact/hooks';
import { api, API } from './api.ts';
import { Store } from './store.ts';

export type LiveHandler = (topic: string, data: any) => void;
export type LiveStatus = 'off' | 'connecting' | 'open' | 'retrying';

/** Every topic the server publishes (ADMIN_API.md); named SSE events only reach listeners of their own name. */
const KNOWN_TOPICS = [
  'sync.queued', 'sync.started', 'sync.progress', 'sync.finished', 'sync.skipped',
  'offers.committed', 'scheduler.connector', 'scheduler.breaker',
  'health.alert', 'health.resolved', 'health.selftest',
  'enrich.started', 'enrich.finished', 'review.changed',
];
export const RECONNECTED = 'live.reconnected';

export const liveStatus = new Store<LiveStatus>('off');

const subscribers = new Set<{ patterns: string[]; handler: LiveHandler }>();
const attached = new Set<string>();
let source: EventSource | null = null;
let wanted = false;
let everOpened = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let backoffMs = 1000;

function matches(pattern: string, topic: string): boolean {
  if (pattern === '*') return topic !== RECONNECTED;
  if (pattern.endsWith('.*')) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}

function dispatch(topic: string, data: unknown): void {
  for (const s of [...subscribers]) {
    if (topic === RECONNECTED || s.patterns.some((p) => matches(p, topic))) {
      try { s.handler(topic, data); } catch (e) { console.error('live subscriber failed', topic, e); }
    }
  }
}

function attach(topic: string): void {
  if (!source || attached.has(topic) || topic.includes('*')) return;
  attached.add(topic);
  source.addEventListener(topic, (ev) => {
    const raw = (ev as MessageEvent<string>).data;
    let data: unknown = raw;
    try { data = JSON.parse(raw); } catch { /* a plain-text payload stays text */ }
    dispatch(topic, data);
  });
}

function connect(): void {
  clearTimeout(retryTimer);
  if (!wanted) return;
  liveStatus.set(everOpened ? 'retrying' : 'connecting');
  const es = new EventSource(`${API}/events`, { withCredentials: true });
  source = es;
  attached.clear();
  for (const t of KNOWN_TOPICS) attach(t);
  for (const s of subscribers) for (const p of s.patterns) attach(p);
  es.onopen = () => {
    backoffMs = 1000;
    liveStatus.set('open');
    if (everOpened) dispatch(RECONNECTED, null);
    everOpened = true;
  };
  es.onerror = () => {
    if (es !== source) return;
    // CONNECTING: the browser retries by itself. CLOSED: the server refused (401, 5xx); we retry, after checking
    // the session so an expired login ends up on the login page instead of retrying forever.
    if (es.readyState === EventSource.CONNECTING) { liveStatus.set('retrying'); return; }
    es.close();
    source = null;
    liveStatus.set('retrying');
    api.get('/me').then(() => scheduleRetry(), () => scheduleRetry());
  };
}

function scheduleRetry(): void {
  if (!wanted) return;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, backoffMs);
  backoffMs = Math.min(backoffMs * 2, 30_000);
}

export function startLive(): void {
  if (wanted) return;
  wanted = true;
  everOpened = false;
  backoffMs = 1000;
  connect();
}

export function stopLive(): void {
  wanted = false;
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  liveStatus.set('off');
}

export function subscribe(patterns: string[], handler: LiveHandler): () => void {
  const entry = { patterns, handler };
  subscribers.add(entry);
  for (const p of patterns) attach(p);
  return () => { subscribers.delete(entry); };
}

/** Calls handler for each event on the topics (and on reconnect) while the component is mounted. */
export function useLive(patterns: string[], handler: LiveHandler): void {
  const ref = useRef(handler);
  ref.current = handler;
  const key = patterns.join('|');
  useEffect(() => subscribe(key.split('|'), (t, d) => ref.current(t, d)), [key]);
}

/**
 * Reloads (debounced) on the topics and after a reconnect. `filter` can narrow it to events that concern the
 * page (e.g. one connector).
 */
export function useLiveRefresh(patterns: string[], reload: () => void, o: { debounceMs?: number; filter?: (topic: string, data: any) => boolean } = {}): void {
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const reloadRef = useRef(reload);
  reloadRef.current = reload;
  useEffect(() => () => clearTimeout(timer.current), []);
  useLive(patterns, (topic, data) => {
    if (topic !== RECONNECTED && o.filter && !o.filter(topic, data)) return;
    clearTimeout(timer.current);
    timer.current = setTimeout(() => reloadRef.current(), o.debounceMs ?? 500);
  });
}
