// "Import New Network": a stepwise builder in the manner of Airbyte's Connector Builder. The admin describes the
// API (basics, auth, request, pagination), the server fetches a sample (SSRF-guarded) or takes a pasted one,
// detects the record list and proposes a JSONata mapping; the preview re-runs on every edit of the mapping;
// saving writes connectors/<id>/ and stores the credentials encrypted, and the first run is followed live.
import { Fragment, type ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, seg } from '../api.ts';
import { useTitle } from '../hooks.ts';
import { RECONNECTED, useLive } from '../live.ts';
import { Link } from '../router.ts';
import { useIsAdmin } from '../store.ts';
import { ActionButton, Badge, Empty, Section } from '../ui.tsx';
import { bytes, duration, money, num, pct, truncate } from '../format.ts';
import { RunCounts } from './network.tsx';
import type {
  NetworkDetail, NetworkStatus, OfferKind, Pagination, PaginationType, PreviewResult, Progress, SampleResult, SaveResult, SyncEvent,
  WizardAuth, WizardDraft,
} from '../types.ts';

const STEPS = [
  { key: 'basics', label: 'Basics' },
  { key: 'auth', label: 'Auth' },
  { key: 'request', label: 'Request' },
  { key: 'sample', label: 'Sample' },
  { key: 'records', label: 'Records' },
  { key: 'mapping', label: 'Mapping' },
  { key: 'preview', label: 'Preview' },
  { key: 'save', label: 'Save' },
  { key: 'run', label: 'First run' },
] as const;
type StepKey = typeof STEPS[number]['key'];

interface Row { k: string; v: string }

interface Form {
  id: string;
  name: string;
  base_url: string;
  kind: OfferKind;
  auth: WizardAuth;
  method: 'GET' | 'POST';
  path: string;
  query: Row[];
  headers: Row[];
  pagination: Pagination;
  records: string;
  map: string;
  interval: string;
}

const EMPTY: Form = {
  id: '', name: '', base_url: '', kind: 'product', auth: { type: 'none' }, method: 'GET', path: '', query: [], headers: [],
  pagination: { type: 'none' }, records: '', map: '', interval: '6h',
};

const STORAGE_KEY = 'offerfeed.wizard.v1';
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Credentials never go to browser storage: a restored draft asks for them again. */
function withoutSecrets(a: WizardAuth): WizardAuth {
  switch (a.type) {
    case 'api_key': return { ...a, value: '' };
    case 'basic': return { ...a, password: '' };
    case 'bearer': return { ...a, token: '' };
    case 'oauth2': return { ...a, client_secret: '' };
    default: return a;
  }
}

function restore(): { form: Form; step: number } {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return { form: EMPTY, step: 0 };
    const saved = JSON.parse(raw) as { form: Form; step: number };
    // The sample lives on the server for a limited time and is not kept here: resume at the latest step before it.
    return { form: { ...EMPTY, ...saved.form }, step: Math.min(saved.step, 3) };
  } catch {
    return { form: EMPTY, step: 0 };
  }
}

function rowsToMap(rows: Row[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.k.trim()) out[r.k.trim()] = r.v;
  return Object.keys(out).length ? out : undefined;
}

const PAGINATION_FIELDS: Record<PaginationType, Array<{ key: keyof Pagination; label: string; placeholder?: string; number?: boolean; expr?: boolean }>> = {
  none: [],
  page_number: [
    { key: 'page_param', label: 'Page parameter', placeholder: 'page' },
    { key: 'start', label: 'First page', placeholder: '1', number: true },
    { key: 'size_param', label: 'Page-size parameter', placeholder: 'per_page' },
    { key: 'page_size', label: 'Page size', placeholder: '100', number: true },
  ],
  offset: [
    { key: 'offset_param', label: 'Offset parameter', placeholder: 'offset' },
    { key: 'size_param', label: 'Limit parameter', placeholder: 'limit' },
    { key: 'page_size', label: 'Page size', placeholder: '100', number: true },
  ],
  cursor: [
    { key: 'cursor_param', label: 'Cursor parameter', placeholder: 'cursor' },
    { key: 'cursor', label: 'Next cursor (JSONata over $body, $headers)', placeholder: '$body.meta.next_cursor', expr: true },
    { key: 'size_param', label: 'Page-size parameter', placeholder: 'limit' },
    { key: 'page_size', label: 'Page size', placeholder: '100', number: true },
  ],
  next_url: [{ key: 'next_url', label: 'Next URL (JSONata over $body, $headers)', placeholder: '$body.links.next', expr: true }],
  link_header: [{ key: 'link_rel', label: 'Link relation', placeholder: 'next' }],
};

function toDraft(f: Form, o: { withMap?: boolean } = {}): WizardDraft {
  let pagination: Pagination | undefined;
  if (f.pagination.type !== 'none') {
    pagination = { type: f.pagination.type };
    for (const field of [...PAGINATION_FIELDS[f.pagination.type], { key: 'max_pages' as const, label: '', number: true }]) {
      const v = f.pagination[field.key];
      if (v === undefined || v === null || v === '') continue;
      (pagination as unknown as Record<string, unknown>)[field.key] = field.number ? Number(v) : v;
    }
  }
  return {
    id: f.id.trim(),
    name: f.name.trim(),
    base_url: f.base_url.trim(),
    auth: f.auth,
    request: { ...(f.method !== 'GET' ? { method: f.method } : {}), path: f.path.trim(), query: rowsToMap(f.query), headers: rowsToMap(f.headers) },
    ...(pagination ? { pagination } : {}),
    ...(f.records.trim() ? { records: f.records.trim() } : {}),
    ...(o.withMap && f.map.trim() ? { map: f.map } : {}),
    stream: { kind: f.kind },
    schedule: { interval: f.interval.trim() || '6h' },
  };
}

function requestUrl(f: Form): string {
  const base = f.base_url.trim().replace(/\/+$/, '');
  const path = f.path.trim() ? (f.path.trim().startsWith('/') ? f.path.trim() : `/${f.path.trim()}`) : '';
  const q = new URLSearchParams();
  for (const r of f.query) if (r.k.trim()) q.append(r.k.trim(), r.v);
  if (f.auth.type === 'api_key' && f.auth.in === 'query' && f.auth.name) q.append(f.auth.name, '••••');
  const s = q.toString();
  return `${base}${path}${s ? `?${s.replace(/%E2%80%A2/g, '•')}` : ''}`;
}

/** What is missing before the step can be left (empty when complete). */
function problems(step: StepKey, f: Form, sample: SampleResult | null): string[] {
  const out: string[] = [];
  if (step === 'basics') {
    if (!ID_RE.test(f.id.trim())) out.push('Id: lower-case letters, digits and dashes, starting with a letter or digit (it becomes the folder name).');
    if (!f.name.trim()) out.push('Name is required.');
    try {
      const u = new URL(f.base_url.trim());
      if (u.protocol !== 'http:' && u.protocol !== 'https:') out.push('Base URL must be http(s).');
    } catch { out.push('Base URL must be an absolute URL such as https://api.example.com/v1.'); }
  }
  if (step === 'auth') {
    const a = f.auth;
    const need = (v: string | undefined, what: string) => { if (!v?.trim()) out.push(`${what} is required.`); };
    if (a.type === 'api_key') { need(a.name, 'Parameter or header name'); need(a.value, 'API key'); }
    if (a.type === 'basic') { need(a.username, 'User name'); need(a.password, 'Password'); }
    if (a.type === 'bearer') need(a.token, 'Token');
    if (a.type === 'oauth2') { need(a.token_url, 'Token URL'); need(a.client_id, 'Client ID'); need(a.client_secret, 'Client secret'); }
  }
  if (step === 'sample' && !sample) out.push('Fetch or paste a sample first.');
  if (step === 'records' && sample && !sample.detection && !f.records.trim()) out.push('No record list was detected: give its JSONata path.');
  if (step === 'mapping' && !f.map.trim()) out.push('The mapping is empty.');
  return out;
}

// ---- small form pieces ----

function Field({ label, hint, children }: { label: string; hint?: ComponentChildren; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="field-hint">{hint}</span>}
    </label>
  );
}

function WizardError({ text }: { text: string | null }) {
  if (!text) return null;
  return <div class="load-error" role="alert" data-testid="wizard-error">{text}</div>;
}

function Rows({ rows, onChange, name }: { rows: Row[]; onChange: (r: Row[]) => void; name: 'query' | 'header' }) {
  return (
    <div class="kv-rows" data-testid={`wizard-${name}-rows`}>
      {rows.map((r, i) => (
        <div class="kv-row" key={i}>
          <input type="text" aria-label={`${name} name ${i + 1}`} placeholder="name" value={r.k} data-testid={`wizard-${name}-key-${i}`}
            onInput={(e) => onChange(rows.map((x, j) => (j === i ? { ...x, k: e.currentTarget.value } : x)))} />
          <input type="text" aria-label={`${name} value ${i + 1}`} placeholder="value" value={r.v} data-testid={`wizard-${name}-value-${i}`}
            onInput={(e) => onChange(rows.map((x, j) => (j === i ? { ...x, v: e.currentTarget.value } : x)))} />
          <button type="button" class="btn btn-small" aria-label="Remove" data-testid={`wizard-${name}-remove-${i}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" class="btn btn-small" data-testid={`wizard-add-${name}`} onClick={() => onChange([...rows, { k: '', v: '' }])}>
        + Add {name === 'query' ? 'query parameter' : 'header'}
      </button>
    </div>
  );
}

/** Extra fields of an API error (problems, position) sit at the top level of the error body. */
function errorField(e: ApiError, name: string): unknown {
  const body = e.body as Record<string, unknown> | null;
  if (!body || typeof body !== 'object') return undefined;
  if (name in body) return body[name];
  const inner = body.error;
  return inner && typeof inner === 'object' ? (inner as Record<string, unknown>)[name] : undefined;
}

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const problems = errorField(e, 'problems');
    const list = Array.isArray(problems) ? problems.map(String) : [];
    const prefix = e.code === 'ssrf' ? 'Refused for safety: ' : '';
    return `${prefix}${e.message}${list.length ? `\n• ${list.slice(0, 20).join('\n• ')}` : ''}`;
  }
  return (e as Error).message;
}

/** Line and column of a character position, to point at a JSONata syntax error. */
function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `line ${line}, column ${pos - before.lastIndexOf('\n')}`;
}

// ---- the first run, followed over the event stream ----

interface RunTrack {
  since: number;
  jobId: string | null;
  state: 'waiting' | 'queued' | 'running' | 'finished';
  runId: string | null;
  progress: Progress | null;
  status: string | null;
  counts: Record<string, number> | null;
  error: string | null;
  duration_ms: number | null;
}

// ---- the wizard ----

export function WizardPage() {
  useTitle('Import new network');
  const isAdmin = useIsAdmin();
  const initial = useMemo(restore, []);
  const [form, setForm] = useState<Form>(initial.form);
  const [step, setStep] = useState(initial.step);
  const [reached, setReached] = useState(initial.step);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [mode, setMode] = useState<'fetch' | 'paste'>('fetch');
  const [pasted, setPasted] = useState('');
  const [pastedType, setPastedType] = useState('application/json');
  const [sample, setSample] = useState<SampleResult | null>(null);
  const [mapEdited, setMapEdited] = useState(false);
  const [preview, setPreview] = useState<PreviewResult | null>(null);
  const [mapError, setMapError] = useState<string | null>(null);
  const [overwrite, setOverwrite] = useState(false);
  const [runAfter, setRunAfter] = useState(true);
  const [saved, setSaved] = useState<SaveResult | null>(null);
  const [track, setTrack] = useState<RunTrack | null>(null);
  const [known, setKnown] = useState<string[]>([]);
  const trackRef = useRef<RunTrack | null>(null);
  trackRef.current = track;

  const key = STEPS[step].key;
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  useEffect(() => { api.get<NetworkStatus[]>('/networks').then((l) => setKnown(l.map((n) => n.network)), () => undefined); }, []);
  useEffect(() => {
    if (saved) { sessionStorage.removeItem(STORAGE_KEY); return; }
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ form: { ...form, auth: withoutSecrets(form.auth) }, step }));
  }, [form, step, saved]);

  const exists = known.includes(form.id.trim());

  function go(to: number) {
    setError(null);
    setStep(to);
    setReached((r) => Math.max(r, to));
  }

  function next() {
    const p = problems(key, form, sample);
    if (p.length) { setError(p.join(' ')); return; }
    go(step + 1);
  }

  // ---- sample ----
  async function takeSample(o: { redetect?: boolean; records?: string } = {}) {
    setBusy('sample');
    setError(null);
    try {
      const draft = toDraft(form);
      if (o.records !== undefined) draft.records = o.records;
      else if (!o.redetect) delete draft.records;
      const body = mode === 'paste' ? { draft, pasted, content_type: pastedType } : { draft };
      const r = await api.post<SampleResult>('/wizard/sample', body);
      setSample(r);
      setPreview(null);
      if (r.detection) set('records', r.detection.records ?? '');
      if (r.proposal && (!mapEdited || !form.map.trim())) { set('map', r.proposal.map); setMapEdited(false); }
      setReached((x) => Math.max(x, STEPS.findIndex((s) => s.key === 'sample')));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  }

  // ---- preview: runs when the step opens and after each pause in editing the mapping ----
  const previewSeq = useRef(0);
  async function runPreview() {
    if (!sample || !form.map.trim()) return;
    const mine = ++previewSeq.current;
    setBusy('preview');
    try {
      const r = await api.post<PreviewResult>('/wizard/preview', { draft: toDraft(form, { withMap: true }), sample_id: sample.sample_id });
      if (mine !== previewSeq.current) return;
      setPreview(r);
      setMapError(null);
      setError(null);
    } catch (e) {
      if (mine !== previewSeq.current) return;
      if (e instanceof ApiError && e.code === 'map') {
        const pos = errorField(e, 'position');
        setMapError(`${e.message}${typeof pos === 'number' ? ` (${lineCol(form.map, pos)})` : ''}`);
      } else {
        setError(errorText(e));
      }
    } finally {
      if (mine === previewSeq.current) setBusy(null);
    }
  }
  useEffect(() => {
    if (key !== 'preview') return;
    const t = setTimeout(runPreview, preview ? 700 : 0);
    return () => clearTimeout(t);
  }, [key, form.map, form.records, sample]);

  // ---- save and follow the first run ----
  async function save() {
    if (!sample) return;
    setBusy('save');
    setError(null);
    const since = Date.now();
    // Listening starts before the request: the scheduler may announce the run before the answer arrives.
    setTrack(runAfter ? { since, jobId: null, state: 'waiting', runId: null, progress: null, status: null, counts: null, error: null, duration_ms: null } : null);
    try {
      const r = await api.post<SaveResult>('/wizard/save', { draft: toDraft(form, { withMap: true }), sample_id: sample.sample_id, overwrite, run: runAfter });
      setSaved(r);
      if (r.job) setTrack((t) => (t ? { ...t, jobId: r.job!.jobId, state: t.state === 'waiting' ? 'queued' : t.state } : t));
      else setTrack(null);
      setKnown((k) => (k.includes(r.id) ? k : [...k, r.id]));
      if (r.job) void catchUp(r.id, since);
    } catch (e) {
      setTrack(null);
      if (e instanceof ApiError && e.status === 409) setOverwrite(false);
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  }

  /** Reads the connector's state once: covers events missed before subscribing or while reconnecting. */
  async function catchUp(id: string, since: number) {
    try {
      const d = await api.get<NetworkDetail>(`/networks/${seg(id)}`);
      setTrack((t) => {
        if (!t) return t;
        const job = d.status.job;
        if (job && (!t.jobId || job.jobId === t.jobId)) {
          return { ...t, jobId: job.jobId, state: job.state, runId: job.runId ?? t.runId, progress: job.progress ?? t.progress };
        }
        const run = d.runs.find((x) => new Date(x.started_at).getTime() >= since - 5000);
        if (run && run.status !== 'running' && t.state !== 'finished') {
          return { ...t, state: 'finished', runId: run.id, status: run.status, counts: run.counts, error: run.error, duration_ms: run.duration_ms };
        }
        return t;
      });
    } catch { /* the event stream still brings the outcome */ }
  }

  useLive(['sync.*'], (topic, data) => {
    const t = trackRef.current;
    const e = data as SyncEvent;
    const id = saved?.id ?? form.id.trim();
    if (topic === RECONNECTED) { if (t && t.state !== 'finished') void catchUp(id, t.since); return; }
    if (!t || !e || e.connector !== id) return;
    if (t.jobId && e.jobId && e.jobId !== t.jobId) return;
    const upd: RunTrack = { ...t, jobId: t.jobId ?? e.jobId ?? null, runId: e.runId ?? t.runId };
    if (topic === 'sync.queued') upd.state = t.state === 'waiting' ? 'queued' : t.state;
    else if (topic === 'sync.started') upd.state = 'running';
    else if (topic === 'sync.progress') { upd.state = 'running'; upd.progress = e.progress ?? t.progress; }
    else if (topic === 'sync.finished') {
      Object.assign(upd, { state: 'finished', status: e.status ?? null, counts: e.counts ?? null, error: e.error ?? null, duration_ms: e.duration_ms ?? null });
    } else if (topic === 'sync.skipped') Object.assign(upd, { state: 'finished', status: 'skipped', error: e.error ?? null });
    setTrack(upd);
  });

  function startOver() {
    sessionStorage.removeItem(STORAGE_KEY);
    setForm(EMPTY); setStep(0); setReached(0); setSample(null); setPreview(null); setSaved(null); setTrack(null);
    setError(null); setMapError(null); setMapEdited(false); setPasted(''); setOverwrite(false);
  }

  if (!isAdmin) {
    return (
      <div class="page" data-testid="page-wizard">
        <h1>Import new network</h1>
        <p class="notice" data-testid="wizard-forbidden">The wizard creates connectors and stores credentials: it needs the admin role.</p>
      </div>
    );
  }

  const stepBody: Record<StepKey, () => ComponentChildren> = {
    basics: () => (
      <>
        <Field label="Id" hint="Folder name under connectors/ and the network's id in the feed: lower-case letters, digits, dashes.">
          <input type="text" value={form.id} data-testid="wizard-id" placeholder="acme-affiliates" autoFocus
            onInput={(e) => set('id', e.currentTarget.value.toLowerCase())} />
        </Field>
        {exists && !saved && <p class="notice" data-testid="wizard-id-exists">A connector "{form.id}" already exists: saving will ask before replacing it.</p>}
        <Field label="Name"><input type="text" value={form.name} data-testid="wizard-name" placeholder="Acme Affiliates" onInput={(e) => set('name', e.currentTarget.value)} /></Field>
        <Field label="Base URL" hint="Scheme, host and optional base path of the API, e.g. https://api.example.com/v2.">
          <input type="url" value={form.base_url} data-testid="wizard-base-url" placeholder="https://api.example.com/v1" onInput={(e) => set('base_url', e.currentTarget.value)} />
        </Field>
        <Field label="What the records are" hint="The offer kind the mapping proposes fields for.">
          <select value={form.kind} data-testid="wizard-kind" onChange={(e) => set('kind', e.currentTarget.value as OfferKind)}>
            {(['product', 'coupon', 'deal', 'program'] as const).map((k) => <option value={k}>{k}</option>)}
          </select>
        </Field>
      </>
    ),
    auth: () => (
      <>
        <p class="notice">Credentials are stored <strong>encrypted</strong> in the secret store when you save. They are never written into the
          connector spec, its sandbox or the logs, and are not kept in this browser.</p>
        <Field label="Authentication">
          <select value={form.auth.type} data-testid="wizard-auth-type" onChange={(e) => {
            const t = e.currentTarget.value as WizardAuth['type'];
            const a: WizardAuth = t === 'api_key' ? { type: t, in: 'header', name: 'X-Api-Key', value: '' }
              : t === 'basic' ? { type: t, username: '', password: '' }
                : t === 'bearer' ? { type: t, token: '' }
                  : t === 'oauth2' ? { type: t, token_url: '', client_id: '', client_secret: '' }
                    : { type: 'none' };
            set('auth', a);
          }}>
            <option value="none">None</option>
            <option value="api_key">API key (header or query parameter)</option>
            <option value="basic">HTTP Basic (user name and password)</option>
            <option value="bearer">Bearer token</option>
            <option value="oauth2">OAuth 2.0 client credentials</option>
          </select>
        </Field>
        {form.auth.type === 'api_key' && (() => {
          const a = form.auth;
          return (
            <>
              <div class="field-row">
                <Field label="Sent in">
                  <select value={a.in} data-testid="wizard-auth-in" onChange={(e) => set('auth', { ...a, in: e.currentTarget.value as 'header' | 'query' })}>
                    <option value="header">a header</option>
                    <option value="query">a query parameter</option>
                  </select>
                </Field>
                <Field label={a.in === 'header' ? 'Header name' : 'Parameter name'}>
                  <input type="text" value={a.name} data-testid="wizard-auth-name" onInput={(e) => set('auth', { ...a, name: e.currentTarget.value })} />
                </Field>
              </div>
              <Field label="API key"><input type="password" autoComplete="off" value={a.value} data-testid="wizard-auth-value" onInput={(e) => set('auth', { ...a, value: e.currentTarget.value })} /></Field>
            </>
          );
        })()}
        {form.auth.type === 'basic' && (() => {
          const a = form.auth;
          return (
            <div class="field-row">
              <Field label="User name"><input type="text" autoComplete="off" value={a.username} data-testid="wizard-auth-username" onInput={(e) => set('auth', { ...a, username: e.currentTarget.value })} /></Field>
              <Field label="Password"><input type="password" autoComplete="off" value={a.password} data-testid="wizard-auth-password" onInput={(e) => set('auth', { ...a, password: e.currentTarget.value })} /></Field>
            </div>
          );
        })()}
        {form.auth.type === 'bearer' && (() => {
          const a = form.auth;
          return <Field label="Token"><input type="password" autoComplete="off" value={a.token} data-testid="wizard-auth-token" onInput={(e) => set('auth', { ...a, token: e.currentTarget.value })} /></Field>;
        })()}
        {form.auth.type === 'oauth2' && (() => {
          const a = form.auth;
          return (
            <>
              <Field label="Token URL"><input type="url" value={a.token_url} data-testid="wizard-auth-token-url" onInput={(e) => set('auth', { ...a, token_url: e.currentTarget.value })} /></Field>
              <div class="field-row">
                <Field label="Client ID"><input type="text" autoComplete="off" value={a.client_id} data-testid="wizard-auth-client-id" onInput={(e) => set('auth', { ...a, client_id: e.currentTarget.value })} /></Field>
                <Field label="Client secret"><input type="password" autoComplete="off" value={a.client_secret} data-testid="wizard-auth-client-secret" onInput={(e) => set('auth', { ...a, client_secret: e.currentTarget.value })} /></Field>
              </div>
              <Field label="Scopes" hint="Space-separated; optional.">
                <input type="text" value={(a.scopes ?? []).join(' ')} data-testid="wizard-auth-scopes"
                  onInput={(e) => { const s = e.currentTarget.value.split(/\s+/).filter(Boolean); set('auth', { ...a, scopes: s.length ? s : undefined }); }} />
              </Field>
            </>
          );
        })()}
      </>
    ),
    request: () => {
      const fields = PAGINATION_FIELDS[form.pagination.type];
      return (
        <>
          <div class="field-row">
            <Field label="Method">
              <select value={form.method} data-testid="wizard-method" onChange={(e) => set('method', e.currentTarget.value as 'GET' | 'POST')}>
                <option>GET</option><option>POST</option>
              </select>
            </Field>
            <Field label="Path" hint="Relative to the base URL, e.g. /offers.">
              <input type="text" value={form.path} data-testid="wizard-path" placeholder="/offers" onInput={(e) => set('path', e.currentTarget.value)} />
            </Field>
          </div>
          <h3>Query parameters</h3>
          <p class="small muted">Credentials do not belong here: use the auth step, which keeps them encrypted.</p>
          <Rows name="query" rows={form.query} onChange={(r) => set('query', r)} />
          <h3>Headers</h3>
          <Rows name="header" rows={form.headers} onChange={(r) => set('headers', r)} />
          <h3>Pagination</h3>
          <div class="field-row">
            <Field label="Kind">
              <select value={form.pagination.type} data-testid="wizard-pagination-type" onChange={(e) => set('pagination', { type: e.currentTarget.value as PaginationType, max_pages: form.pagination.max_pages })}>
                <option value="none">None (one page)</option>
                <option value="page_number">Page number</option>
                <option value="offset">Offset / limit</option>
                <option value="cursor">Cursor from the response</option>
                <option value="next_url">Next URL from the response</option>
                <option value="link_header">Link header (RFC 8288)</option>
              </select>
            </Field>
            {form.pagination.type !== 'none' && (
              <Field label="Max pages" hint="Optional safety cap.">
                <input type="number" min={1} value={form.pagination.max_pages ?? ''} data-testid="wizard-pagination-max_pages"
                  onInput={(e) => set('pagination', { ...form.pagination, max_pages: e.currentTarget.value ? Number(e.currentTarget.value) : undefined })} />
              </Field>
            )}
          </div>
          {fields.length > 0 && (
            <div class="field-grid">
              {fields.map((fl) => (
                <Field label={fl.label} key={fl.key}>
                  <input type={fl.number ? 'number' : 'text'} class={fl.expr ? 'mono' : ''} placeholder={fl.placeholder}
                    value={(form.pagination[fl.key] as string | number | undefined) ?? ''} data-testid={`wizard-pagination-${fl.key}`}
                    onInput={(e) => set('pagination', { ...form.pagination, [fl.key]: e.currentTarget.value === '' ? undefined : fl.number ? Number(e.currentTarget.value) : e.currentTarget.value })} />
                </Field>
              ))}
            </div>
          )}
          <p class="small">First request: <code data-testid="wizard-request-url">{form.method} {requestUrl(form)}</code></p>
        </>
      );
    },
    sample: () => (
      <>
        <div class="segmented" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'fetch'} class={`btn btn-small ${mode === 'fetch' ? 'active' : ''}`} data-testid="wizard-mode-fetch" onClick={() => setMode('fetch')}>Fetch from the API</button>
          <button type="button" role="tab" aria-selected={mode === 'paste'} class={`btn btn-small ${mode === 'paste' ? 'active' : ''}`} data-testid="wizard-paste-toggle" onClick={() => setMode('paste')}>Paste a sample</button>
        </div>
        {mode === 'fetch'
          ? (
            <>
              <p class="small">The server requests <code>{requestUrl(form)}</code> with the credentials. Private, loopback and cloud-metadata addresses are refused unless allowed by the server's settings; redirects are checked too.</p>
              <button type="button" class="btn btn-primary" data-testid="wizard-fetch-sample" disabled={busy === 'sample'} onClick={() => takeSample()}>
                {busy === 'sample' ? 'Fetching…' : sample ? 'Fetch again' : 'Fetch sample'}
              </button>
            </>
          )
          : (
            <>
              <Field label="Response body" hint="One page of the API's response as it comes (JSON, NDJSON, XML or CSV).">
                <textarea rows={10} class="mono" value={pasted} data-testid="wizard-paste-text" onInput={(e) => setPasted(e.currentTarget.value)} />
              </Field>
              <div class="inline-form">
                <select aria-label="Content type" value={pastedType} data-testid="wizard-paste-type" onChange={(e) => setPastedType(e.currentTarget.value)}>
                  {['application/json', 'application/x-ndjson', 'application/xml', 'text/csv', 'text/tab-separated-values'].map((t) => <option value={t}>{t}</option>)}
                </select>
                <button type="button" class="btn btn-primary" data-testid="wizard-use-paste" disabled={busy === 'sample' || !pasted.trim()} onClick={() => takeSample()}>
                  {busy === 'sample' ? 'Reading…' : 'Use this sample'}
                </button>
              </div>
            </>
          )}
        {sample && (
          <div class="sample" data-testid="wizard-sample">
            <p>
              HTTP <strong data-testid="wizard-sample-status" class={sample.status && sample.status >= 400 ? 'bad-text' : ''}>{sample.status ?? '(pasted)'}</strong>
              {' · '}{bytes(sample.bytes)}{sample.url && <> · <span class="mono small">{sample.url}</span></>}
            </p>
            {Object.keys(sample.headers ?? {}).length > 0 && (
              <table class="table compact headers" data-testid="wizard-sample-headers">
                <tbody>{Object.entries(sample.headers).map(([k, v]) => <tr key={k}><th class="mono">{k}</th><td class="mono">{Array.isArray(v) ? v.join(', ') : v}</td></tr>)}</tbody>
              </table>
            )}
            <pre class="raw" data-testid="wizard-sample-text">{sample.text}</pre>
            {sample.detection
              ? <p class="ok-text" data-testid="wizard-detected">Found {num(sample.detection.count)} records ({sample.detection.format}) at <code>{sample.detection.records || '(the whole document)'}</code>.</p>
              : <p class="bad-text" data-testid="wizard-detection-error">{sample.detection_error ?? 'No records were detected.'}</p>}
          </div>
        )}
      </>
    ),
    records: () => (
      <>
        {!sample && <Empty>Take a sample first.</Empty>}
        {sample && (
          <>
            <Field label="Records path (JSONata)" hint="From the response document to the list of records; empty when the document itself is the list.">
              <div class="inline-form">
                <input type="text" class="mono grow" value={form.records} data-testid="wizard-records" onInput={(e) => set('records', e.currentTarget.value)} />
                <button type="button" class="btn btn-small" data-testid="wizard-redetect" disabled={busy === 'sample' || (mode === 'paste' && !pasted.trim())} onClick={() => takeSample({ redetect: true })}>
                  {busy === 'sample' ? 'Reading…' : 'Re-read fields with this path'}
                </button>
              </div>
            </Field>
            {sample.detection
              ? (
                <>
                  <p><span data-testid="wizard-records-count" data-value={sample.detection.count}>{num(sample.detection.count)}</span> records, format <strong>{sample.detection.format}</strong>.</p>
                  {(sample.detection.alternatives?.length ?? 0) > 0 && (
                    <p class="small">Not this list? Other lists in the response:{' '}
                      {sample.detection.alternatives!.slice(0, 6).map((a, i) => (
                        <button type="button" class="btn btn-small btn-link mono" key={a.records} data-testid={`wizard-alt-${i}`} disabled={busy === 'sample'}
                          onClick={() => { set('records', a.records); void takeSample({ records: a.records }); }}>
                          {a.records} ({num(a.count)})
                        </button>
                      ))}
                    </p>
                  )}
                  <div class="table-wrap">
                    <table class="table compact" data-testid="wizard-fields">
                      <thead><tr><th>Field</th><th>Type</th><th class="num" title="Share of records with a value">Filled</th><th>Examples</th></tr></thead>
                      <tbody>
                        {sample.detection.fields.map((fl, i) => (
                          <tr key={fl.path} data-testid={`wizard-field-${i}`}>
                            <td class="mono">{fl.path}</td>
                            <td>{fl.types?.join(' | ') ?? fl.type ?? ''}{fl.unique && <span class="muted small" title="Every value differs: a candidate id"> · unique</span>}</td>
                            <td class="num">{typeof fl.presence === 'number' ? pct(fl.presence) : ''}</td>
                            <td class="small">{fl.examples.slice(0, 3).map((x) => truncate(typeof x === 'string' ? x : JSON.stringify(x), 60)).join(' · ')}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </>
              )
              : <p class="bad-text" data-testid="wizard-detection-error">{sample.detection_error ?? 'No records were detected.'} Give the path to the list above and re-read.</p>}
          </>
        )}
      </>
    ),
    mapping: () => (
      <>
        <MapEditor value={form.map} error={mapError} onInput={(v) => { set('map', v); setMapEdited(true); }} />
        <div class="inline-form">
          <button type="button" class="btn btn-small" data-testid="wizard-use-proposal" disabled={!sample?.proposal || sample.proposal.map === form.map}
            onClick={() => { if (sample?.proposal) { set('map', sample.proposal.map); setMapEdited(false); } }}>
            Reset to the proposal
          </button>
        </div>
        {(sample?.proposal?.missing?.length ?? 0) > 0 && (
          <p class="warn-text" data-testid="wizard-missing">No source found for: {sample!.proposal!.missing!.join(', ')}. Add them to the mapping (a constant works too).</p>
        )}
        {(sample?.proposal?.unmapped?.length ?? 0) > 0 && (
          <p class="small muted">Not mapped: {sample!.proposal!.unmapped!.slice(0, 30).join(', ')}{sample!.proposal!.unmapped!.length > 30 ? ' …' : ''}</p>
        )}
        {sample?.proposal && (
          <div class="table-wrap">
            <table class="table compact" data-testid="wizard-proposal">
              <thead><tr><th>Offer field</th><th>Expression</th><th>From</th><th>Confidence</th><th>Why</th></tr></thead>
              <tbody>
                {sample.proposal.fields.map((p, i) => {
                  const target = p.field ?? p.target ?? '';
                  return (
                    <tr key={`${target}-${i}`} data-testid={`wizard-proposal-${target}`}>
                      <td class="mono">{target}</td>
                      <td class="mono small">{p.expr}</td>
                      <td class="mono small">{p.source}</td>
                      <td><Badge value={typeof p.confidence === 'number' ? pctText(p.confidence) : p.confidence} /></td>
                      <td class="small">{p.reason ?? ''}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </>
    ),
    preview: () => (
      <div class="preview-layout">
        <div>
          <MapEditor value={form.map} error={mapError} onInput={(v) => { set('map', v); setMapEdited(true); }} />
          <button type="button" class="btn btn-small" data-testid="wizard-preview" disabled={busy === 'preview'} onClick={runPreview}>
            {busy === 'preview' ? 'Previewing…' : 'Run preview'}
          </button>
        </div>
        <div>
          {!preview && busy === 'preview' && <p class="muted">Mapping the sample…</p>}
          {preview && <PreviewView p={preview} stale={busy === 'preview'} />}
        </div>
      </div>
    ),
    save: () => (
      <>
        {!saved && (
          <>
            <div class="field-row">
              <Field label="Schedule" hint="How often it syncs, e.g. 30m, 6h, 1d (admins can override it later).">
                <input type="text" value={form.interval} data-testid="wizard-interval" onInput={(e) => set('interval', e.currentTarget.value)} />
              </Field>
            </div>
            <label class="check"><input type="checkbox" checked={runAfter} data-testid="wizard-run" onChange={(e) => setRunAfter(e.currentTarget.checked)} /> Start the first run right after saving</label>
            {exists && (
              <label class="check warn-text"><input type="checkbox" checked={overwrite} data-testid="wizard-overwrite" onChange={(e) => setOverwrite(e.currentTarget.checked)} /> Replace the existing connector "{form.id}"</label>
            )}
            <p class="small muted">Saving writes <code>connectors/{form.id}/</code> (spec, README, sandbox from the sample), runs its contract test, then stores the credentials encrypted.</p>
            <button type="button" class="btn btn-primary" data-testid="wizard-save" disabled={busy === 'save' || (exists && !overwrite)} onClick={save}>
              {busy === 'save' ? 'Saving and testing…' : 'Save connector'}
            </button>
          </>
        )}
        {saved && (
          <div data-testid="wizard-saved">
            <p class="ok-text">Saved <strong>{saved.id}</strong>: the sandbox sample yields {num(saved.offers)} offers{saved.quarantined ? `, ${num(saved.quarantined)} quarantined` : ''}.
              {saved.secrets.length > 0 && <> Stored encrypted: {saved.secrets.join(', ')}.</>}</p>
            {saved.contract && (
              <p data-testid="wizard-contract" class={saved.contract.ok ? 'ok-text' : 'bad-text'}>
                Contract test {saved.contract.ok ? 'passed' : 'failed'}: {saved.contract.passes.map((p) => `${p.name} (${p.offers} offers${p.problems.length ? `, ${p.problems.length} problems` : ''})`).join(', ')}
              </p>
            )}
            <h3>Files written</h3>
            <ul class="files" data-testid="wizard-saved-files">{saved.files.map((f) => <li class="mono" key={f}>connectors/{saved.id}/{f}</li>)}</ul>
            <h3>connector.yaml</h3>
            <pre class="raw" data-testid="wizard-saved-yaml">{saved.yaml}</pre>
          </div>
        )}
      </>
    ),
    run: () => (
      <FirstRun saved={saved} track={track} />
    ),
  };

  const isLast = key === 'run';
  const nextDisabled = (key === 'save' && !saved) || (key === 'sample' && !sample) || busy !== null;
  return (
    <div class="page wizard" data-testid="page-wizard">
      <header class="page-head">
        <h1>Import new network</h1>
        <button type="button" class="btn btn-small" data-testid="wizard-reset" onClick={startOver}>Start over</button>
      </header>
      <ol class="stepper">
        {STEPS.map((s, i) => (
          <li key={s.key} class={`${i === step ? 'current' : ''} ${i < step ? 'done' : ''}`}>
            <button type="button" data-testid={`wizard-step-${s.key}`} aria-current={i === step ? 'step' : undefined}
              disabled={i > reached || (saved !== null && i < STEPS.length - 2) || (saved === null && s.key === 'run')} onClick={() => go(i)}>
              <span class="step-no">{i + 1}</span> {s.label}
            </button>
          </li>
        ))}
      </ol>
      <Section title={STEPS[step].label} testid={`wizard-panel-${key}`}>
        <Fragment key={key}>{stepBody[key]()}</Fragment>
        <WizardError text={error} />
        <div class="wizard-nav">
          <button type="button" class="btn" data-testid="wizard-back" disabled={step === 0 || saved !== null || busy !== null} onClick={() => go(step - 1)}>Back</button>
          {!isLast && (
            <button type="button" class="btn btn-primary" data-testid="wizard-next" disabled={nextDisabled} onClick={next}>
              {key === 'save' ? 'Follow the first run' : 'Next'}
            </button>
          )}
        </div>
      </Section>
    </div>
  );
}

function pctText(c: number): string {
  return c >= 0.8 ? 'high' : c >= 0.5 ? 'medium' : 'low';
}

function MapEditor({ value, error, onInput }: { value: string; error: string | null; onInput: (v: string) => void }) {
  return (
    <Field label="Mapping (JSONata, from one record to a canonical offer)" hint={<>Functions like <code>$number()</code>, <code>$split()</code> work; <code>$config</code> and <code>$stream</code> are available.</>}>
      <textarea class="mono code-editor" rows={18} spellcheck={false} value={value} data-testid="wizard-map" onInput={(e) => onInput(e.currentTarget.value)} />
      {error && <span class="bad-text" role="alert" data-testid="wizard-map-error">{error}</span>}
    </Field>
  );
}

const PREVIEW_COLUMNS = ['external_id', 'kind', 'title', 'merchant_name', 'price', 'url', 'expires_at'];

function PreviewView({ p, stale }: { p: PreviewResult; stale: boolean }) {
  return (
    <div class={stale ? 'stale' : ''} data-testid="wizard-preview-result">
      <p data-testid="wizard-preview-summary">
        <strong data-testid="wizard-preview-offers-total" data-value={p.offers_total}>{num(p.offers_total)}</strong> offers from {num(p.records)} records
        {' · '}<span data-testid="wizard-preview-errors-total" data-value={p.errors_total ?? p.errors.length} class={p.errors.length ? 'bad-text' : ''}>{num(p.errors_total ?? p.errors.length)} with errors</span>
        {p.filtered > 0 && <> · {num(p.filtered)} filtered</>}
        {p.duplicates.length > 0 && <> · <span class="bad-text">duplicate ids: {p.duplicates.slice(0, 5).join(', ')}</span></>}
        {p.truncated && <> · <span class="warn-text">stopped early (time budget)</span></>}
      </p>
      {p.errors.length > 0 && (
        <details open={p.offers.length === 0 || p.errors.length <= 5} data-testid="wizard-preview-errors">
          <summary>Validation errors ({num(p.errors_total ?? p.errors.length)}{(p.errors_total ?? 0) > p.errors.length ? `, first ${p.errors.length} shown` : ''})</summary>
          <ul class="preview-errors">
            {p.errors.slice(0, 50).map((e) => (
              <li key={e.index}>
                Record {e.index + 1}{e.external_id ? <> (<span class="mono">{e.external_id}</span>)</> : ''}:
                <ul>{e.reasons.map((r, j) => <li key={j}><span class="mono">{r.field}</span>: {r.message} <span class="muted small">({r.rule})</span></li>)}</ul>
              </li>
            ))}
          </ul>
        </details>
      )}
      {p.offers.length === 0 ? <Empty>No valid offers yet: adjust the mapping.</Empty> : (
        <div class="table-wrap">
          <table class="table compact" data-testid="wizard-preview-offers">
            <thead><tr>{PREVIEW_COLUMNS.map((c) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>
              {p.offers.map((o, i) => (
                <tr key={i} data-testid={`wizard-preview-offer-${i}`}>
                  {PREVIEW_COLUMNS.map((c) => (
                    <td key={c} class={c === 'url' ? 'url small' : ''}>
                      {c === 'price'
                        ? money((o.sale_price ?? o.price) as number | null, o.currency as string | null)
                        : o[c] === undefined || o[c] === null ? <span class="muted">–</span> : truncate(String(o[c]), 80)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function FirstRun({ saved, track }: { saved: SaveResult | null; track: RunTrack | null }) {
  if (!saved) return <Empty>Save the connector first.</Empty>;
  const id = saved.id;
  return (
    <div data-testid="wizard-first-run">
      {!track && (
        <>
          <p>No run was started. Start one now, or let the schedule pick it up.</p>
          <ActionButton variant="primary" testid="wizard-start-run" done={(r: { jobId: string }) => `Sync of ${id} queued (job ${r.jobId})`}
            run={() => api.post<{ jobId: string }>(`/networks/${seg(id)}/sync`, { full: true })}>
            Start first run
          </ActionButton>
        </>
      )}
      {track && (
        <div class="first-run" data-testid="wizard-run-progress" data-state={track.state} data-status={track.status ?? ''}>
          {track.state !== 'finished' && (
            <p class="job job-running">
              <span class="spinner" aria-hidden="true" />
              <strong>{track.state === 'waiting' ? 'Waiting for the scheduler…' : track.state === 'queued' ? 'Queued…' : 'Running…'}</strong>
              {track.progress && (
                <span class="job-counts">
                  <span>{num(track.progress.pages)} pages</span>
                  <span>{num(track.progress.records)} records</span>
                  <span data-testid="wizard-run-offers">{num(track.progress.offers)} offers</span>
                  {track.progress.quarantined > 0 && <span class="warn-text">{num(track.progress.quarantined)} quarantined</span>}
                </span>
              )}
            </p>
          )}
          {track.state === 'finished' && (
            <>
              <p>First run <Badge value={track.status} testid="wizard-run-status" /> {track.duration_ms !== null && <>in {duration(track.duration_ms)}</>}</p>
              {track.counts && <p data-testid="wizard-run-counts"><RunCounts counts={track.counts} /></p>}
              {track.error && <pre class="error-box">{track.error}</pre>}
            </>
          )}
          {track.runId && <p class="small"><Link to={`/runs/${seg(track.runId)}`} data-testid="wizard-run-link">Open the run</Link></p>}
        </div>
      )}
      <p><Link to={`/networks/${seg(id)}`} class="btn btn-primary" data-testid="wizard-network-link">Go to {id}'s network page</Link></p>
    </div>
  );
}
