// Connector secrets at rest: AES-256-GCM with a key from OFFERFEED_MASTER_KEY (64 hex chars or base64 of 32 bytes),
// a fresh IV per value, the connector and setting name bound as associated data so a value cannot be moved.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ServingStore } from './serving-store.ts';
import { all, run, transaction } from './duckdb.ts';

export class SecretStoreError extends Error {
  constructor(message: string) { super(message); this.name = 'SecretStoreError'; }
}

export function masterKey(env: NodeJS.ProcessEnv = process.env): Buffer {
  const raw = env.OFFERFEED_MASTER_KEY;
  if (!raw) throw new SecretStoreError('OFFERFEED_MASTER_KEY is not set: generate one with `openssl rand -hex 32` and keep it outside the data directory');
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new SecretStoreError('OFFERFEED_MASTER_KEY must be 32 bytes: 64 hex characters or base64');
  return key;
}

const aad = (connector: string, name: string) => Buffer.from(`offerfeed-secret:${connector}:${name}`);

export class SecretStore {
  constructor(private readonly store: ServingStore, private readonly explicitKey?: Buffer) {}

  // Resolved when a value is read or written, so listing names works without the key.
  private get key(): Buffer {
    return this.explicitKey ?? masterKey();
  }

  async set(connector: string, name: string, value: string): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(aad(connector, name));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    await transaction(this.store.conn, async () => {
      await run(this.store.conn, 'DELETE FROM secrets WHERE connector = $c AND name = $n', { c: connector, n: name });
      await run(this.store.conn, 'INSERT INTO secrets VALUES ($c, $n, $iv, $ct, $tag, now()::TIMESTAMP)', {
        c: connector, n: name, iv: iv.toString('base64'), ct: ciphertext.toString('base64'), tag: tag.toString('base64'),
      });
      // New credentials end a pending re-authentication: the scheduler runs the connector again.
      await this.store.clearNeedsReauth(connector);
    });
  }

  async getAll(connector: string): Promise<Record<string, string>> {
    const rows = await all<{ name: string; iv: string; ciphertext: string; tag: string }>(this.store.conn, 'SELECT name, iv, ciphertext, tag FROM secrets WHERE connector = $c', { c: connector });
    const out: Record<string, string> = {};
    for (const r of rows) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(r.iv, 'base64'));
        decipher.setAAD(aad(connector, r.name));
        decipher.setAuthTag(Buffer.from(r.tag, 'base64'));
        out[r.name] = Buffer.concat([decipher.update(Buffer.from(r.ciphertext, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretStoreError(`secret ${connector}.${r.name} cannot be decrypted: wrong OFFERFEED_MASTER_KEY or tampered data`);
      }
    }
    return out;
  }

  async names(connector?: string): Promise<Array<{ connector: string; name: string; updated_at: string }>> {
    return all(this.store.conn, `SELECT connector, name, updated_at::VARCHAR AS updated_at FROM secrets ${connector ? 'WHERE connector = $c' : ''} ORDER BY 1, 2`, connector ? { c: connector } : undefined);
  }

  async delete(connector: string, name: string): Promise<boolean> {
    const before = (await this.names(connector)).length;
    await run(this.store.conn, 'DELETE FROM secrets WHERE connector = $c AND name = $n', { c: connector, n: name });
    return (await this.names(connector)).length < before;
  }
}
