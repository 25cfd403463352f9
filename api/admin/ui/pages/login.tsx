// Login with name and password; the server sets the session cookie, the app then loads as that user.
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { clearBanner, notify, session } from '../store.ts';
import { useTitle } from '../hooks.ts';
import type { Me } from '../types.ts';

export function LoginPage() {
  useTitle('Log in');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      await api.post('/login', { name, password }, { allow401: true });
      const me = await api.get<Me>('/me');
      clearBanner();
      session.set(me);
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401
        ? 'Wrong name or password.'
        : err instanceof ApiError && err.status === 429
          ? 'Too many attempts; wait a moment and try again.'
          : (err as Error).message;
      notify('error', text);
      setPassword('');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} data-testid="login-form">
        <h1>OfferFeed admin</h1>
        <label>
          Name
          <input name="name" autoComplete="username" required autoFocus value={name} data-testid="login-name"
            onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} data-testid="login-password"
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="login-submit">{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  );
}
