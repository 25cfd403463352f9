// Helpers for the attack suites: raw HTTP (requests a fetch client would normalize or refuse to send), clients on
// distinct loopback addresses, a spy that proves the read side was never reached, and the state of every table
// of the serving store (to prove an attack changed nothing).
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { all } from '../../engine/store/duckdb.ts';
import { openSideConnection } from '../../engine/store/side-connection.ts';
import type { ApiServices } from '../services.ts';

export interface RawResponse { status: number; headers: Array<[string, string]>; head: string; body: string }

/**
 * Sends `request` (request line and headers, CRLF-separated; a body after the blank line) byte for byte, so
 * a path with `..`, raw CR/LF or backslashes reaches the server as written.
 */
export function rawRequest(url: string, request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const [statusLine, ...lines] = head.split('\r\n');
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
        headers: lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        head,
        body: end < 0 ? '' : text.slice(end + 4),
      });
    });
    socket.write(Buffer.from(request.includes('\r\n\r\n') ? request : `${request}\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`, 'latin1'));
  });
}

export interface ClientResponse { status: number; headers: { get(name: string): string | null }; text(): Promise<string>; json(): Promise<unknown> }
export interface Client {
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; redirect?: 'manual' }): Promise<ClientResponse>;
  close(): Promise<void>;
}

/** A client whose requests come from its own loopback address (127.0.0.x), as a distinct visitor's would. */
export function clientAt(address: string): Client {
  const agent = new Agent({ keepAlive: true });
  return {
    // Redirects are never followed (as fetch's redirect: 'manual').
    fetch: (url, init = {}) => new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, localAddress: address, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => { const v = res.headers[name.toLowerCase()]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v); } },
            text: async () => body,
            json: async () => JSON.parse(body) as unknown,
          });
        });
      });
      req.on('error', reject);
      req.end(init.body);
    }),
    close: async () => agent.destroy(),
  };
}

export interface ReadSpy {
  /** Calls into the offer index, the networks loader and the store's query methods since the spy was set. */
  readonly calls: string[];
  reset(): void;
  restore(): void;
}

/** Counts every way a resolver or route reads offers, networks or runs; `calls` stays empty if nothing ran. */
export function spyOnReads(s: ApiServices): ReadSpy {
  const calls: string[] = [];
  const undo: Array<() => void> = [];
  const wrap = <T extends object>(target: T, names: string[], label: string) => {
    for (const name of names) {
      const rec = target as unknown as Record<string, unknown>;
      const own = Object.prototype.hasOwnProperty.call(target, name);
      const original = rec[name] as (...a: unknown[]) => unknown;
      rec[name] = function (this: unknown, ...args: unknown[]) { calls.push(`${label}.${name}`); return original.apply(this, args); };
      undo.push(() => { if (own) rec[name] = original; else delete rec[name]; });
    }
  };
  wrap(s.index, ['latest', 'searchOffers', 'top', 'slotOf', 'compile'], 'index');
  wrap(s.queries, ['syncRuns', 'networks', 'syncRun'], 'queries');
  wrap(s, ['networks'], 'services');
  return { calls, reset: () => { calls.length = 0; }, restore: () => { for (const u of undo.reverse()) u(); } };
}

/** Every table of the serving store with its row count and a digest of its rows (changes show as a new digest). */
export async function storeState(path: string): Promise<Record<string, { rows: number; digest: string }>> {
  const conn = await openSideConnection(path);
  try {
    const tables = await all<{ name: string }>(conn, `SELECT table_name AS name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY 1`);
    const out: Record<string, { rows: number; digest: string }> = {};
    for (const { name } of tables) {
      const [r] = await all<{ n: number; d: string | null }>(conn, `SELECT count(*)::INTEGER AS n, bit_xor(hash(to_json(t)::VARCHAR))::VARCHAR AS d FROM "${name}" t`);
      out[name] = { rows: r.n, digest: String(r.d) };
    }
    return out;
  } finally {
    conn.closeSync();
  }
}
