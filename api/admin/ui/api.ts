// The one way the UI talks to /admin/api: same-origin cookie, the CSRF header on every change, errors as
// ApiError with the server's code and message, and a 401 anywhere (but on login itself) ends the session so the
// app shows the login page.

export const API = '/admin/api';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body: unknown = null) {
    super(message);
    this.name = 'ApiError';
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the API answers 401 (the session expired or was never there). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export interface RequestOptions {
  /** A 401 is the expected answer (bad credentials on login), not an expired session. */
  allow401?: boolean;
  signal?: AbortSignal;
}

async function request<T>(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['x-offerfeed-admin'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: o.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection; the page retries on its own.');
  }
  const text = res.status === 204 ? '' : await res.text();
  let data: unknown = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (res.ok) return data as T;
  const err = errorOf(res.status, data);
  if (res.status === 401 && !o.allow401) for (const fn of unauthorizedListeners) fn();
  throw err;
}

/** The admin API answers `{ error: { code, message } }`; the app's generic handlers answer `{ error: code, message }`. */
function errorOf(status: number, data: unknown): ApiError {
  let code = `http_${status}`;
  let message = '';
  if (data && typeof data === 'object') {
    const d = data as { error?: unknown; message?: unknown };
    if (d.error && typeof d.error === 'object') {
      const e = d.error as { code?: unknown; message?: unknown };
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
    } else {
      if (typeof d.error === 'string') code = d.error;
      if (typeof d.message === 'string') message = d.message;
    }
  } else if (typeof data === 'string') {
    message = data.slice(0, 300);
  }
  if (!message) message = DEFAULT_MESSAGES[status] ?? `Request failed (HTTP ${status})`;
  if (status === 403) message = `Not allowed: ${message}`;
  return new ApiError(status, code, message, data);
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'The request was not accepted',
  401: 'Not logged in',
  403: 'this action needs the admin role',
  404: 'Not found',
  409: 'Conflict with the current state',
  422: 'The input was not accepted',
  429: 'Too many requests; try again shortly',
  500: 'Server error',
  503: 'The server is temporarily unavailable',
};

export const api = {
  get: <T>(path: string, o?: RequestOptions) => request<T>('GET', path, undefined, o),
  post: <T>(path: string, body: unknown = {}, o?: RequestOptions) => request<T>('POST', path, body, o),
  put: <T>(path: string, body: unknown = {}, o?: RequestOptions) => request<T>('PUT', path, body, o),
  del: <T>(path: string, o?: RequestOptions) => request<T>('DELETE', path, undefined, o),
};

/** Builds a query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** Path segment for an id that may hold ':' or '/' (offer keys do). */
export const seg = (s: string) => encodeURIComponent(s);
