// Which browser origins may use the API across sites: the CORS allow-list (`corsOrigins`), compared exactly
// (scheme, host and port), never by prefix or suffix. One rule for fetches, preflights and websockets.
import type { ApiConfig } from '../config.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The origin of the configured public URL, if any (the API's own pages run there). */
export function ownOrigin(config: Pick<ApiConfig, 'publicUrl'>): string | undefined {
  try { return config.publicUrl ? new URL(config.publicUrl).origin : undefined; } catch { return undefined; }
}

/** A cross-origin request from `origin` is allowed by the allow-list. */
export function corsAllows(config: Pick<ApiConfig, 'corsOrigins'>, origin: string): boolean {
  return config.corsOrigins.includes('*') || config.corsOrigins.includes(origin);
}

/**
 * A websocket from a browser page at `origin` may connect: allow-listed origins, the API's own public origin,
 * and — for local development — a loopback page on the API's own host and port. A page's claim to be "same
 * host" is not enough elsewhere: after DNS rebinding, evil.example's page talks to us with Host: evil.example.
 * Clients that send no Origin (servers, apps) are not browsers and are not subject to it.
 */
export function websocketAllows(config: Pick<ApiConfig, 'corsOrigins' | 'publicUrl'>, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || origin === '') return true;
  if (corsAllows(config, origin) || origin === ownOrigin(config)) return true;
  try {
    const u = new URL(origin);
    return /^https?:$/.test(u.protocol) && LOOPBACK.has(u.hostname) && u.host === host;
  } catch {
    return false;
  }
}
