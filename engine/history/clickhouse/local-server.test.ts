import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import {
  chdbPackageName, libchdbPath, localClickHouseStatus, startLocalClickHouse, stopLocalClickHouse,
} from './local-server.ts';

const skip = libchdbPath() ? false : `local ClickHouse unavailable: install ${chdbPackageName()}`;

describe('local ClickHouse server', { skip }, () => {
  let dataDir: string;
  let otherDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'offerfeed-ch-'));
    otherDir = await mkdtemp(join(tmpdir(), 'offerfeed-ch-'));
  });
  after(async () => {
    await stopLocalClickHouse(dataDir);
    await stopLocalClickHouse(otherDir);
    await rm(dataDir, { recursive: true, force: true });
    await rm(otherDir, { recursive: true, force: true });
  });

  async function withClient<T>(url: string, fn: (c: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
    const client = createClient({ url });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }

  test('starts on loopback and answers /ping', async () => {
    const server = await startLocalClickHouse({ dataDir });
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/ping`);
    assert.equal((await res.text()).trim(), 'Ok.');
    assert.deepEqual(await localClickHouseStatus(dataDir), { running: true, ...server });
  });

  test('a second start for the same data directory returns the running server', async () => {
    const first = await startLocalClickHouse({ dataDir });
    const again = await startLocalClickHouse({ dataDir });
    assert.deepEqual(again, first);
  });

  test('creates a MergeTree table, inserts and selects through @clickhouse/client', async () => {
    const { url } = await startLocalClickHouse({ dataDir });
    await withClient(url, async (client) => {
      await client.command({ query: 'CREATE DATABASE IF NOT EXISTS lifecycle' });
      await client.command({
        query: 'CREATE TABLE lifecycle.items (id UInt32, title String) ENGINE = MergeTree ORDER BY id',
      });
      await client.insert({
        table: 'lifecycle.items',
        values: Array.from({ length: 100 }, (_, i) => ({ id: i, title: `item ${i}` })),
        format: 'JSONEachRow',
      });
      const rs = await client.query({
        query: 'SELECT count() AS n, max(title) AS top FROM lifecycle.items',
        format: 'JSONEachRow',
      });
      // UInt64 arrives as a number or a quoted string depending on server settings.
      const rows = await rs.json<{ n: number | string; top: string }>();
      assert.deepEqual(rows.map((r) => [Number(r.n), r.top]), [[100, 'item 99']]);
    });
  });

  test('startup failure reports the server output', async () => {
    const { port } = await startLocalClickHouse({ dataDir });
    await assert.rejects(
      startLocalClickHouse({ dataDir: otherDir, port }),
      /exited during startup[\s\S]*Address already in use/,
    );
    assert.equal((await localClickHouseStatus(otherDir)).running, false);
  });

  test('stop ends the process; data persists into the next start', async () => {
    const { pid } = await startLocalClickHouse({ dataDir });
    assert.equal(await stopLocalClickHouse(dataDir), true);
    assert.deepEqual(await localClickHouseStatus(dataDir), { running: false });
    assert.equal(await stopLocalClickHouse(dataDir), false);

    const restarted = await startLocalClickHouse({ dataDir });
    assert.notEqual(restarted.pid, pid);
    const rows = await withClient(restarted.url, async (client) => {
      const rs = await client.query({ query: 'SELECT count() AS n FROM lifecycle.items', format: 'JSONEachRow' });
      return rs.json<{ n: number | string }>();
    });
    assert.deepEqual(rows.map((r) => Number(r.n)), [100]);
  });

  test('a server started by a CLI process outlives it', async () => {
    await stopLocalClickHouse(dataDir);
    const helper = new URL('./cli-helper.ts', import.meta.url).pathname;
    const run = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', helper, ...args]);
    const { stdout } = await run('start', dataDir);
    const started = JSON.parse(stdout);
    assert.deepEqual(await localClickHouseStatus(dataDir), { running: true, ...started });
    assert.deepEqual(JSON.parse((await run('stop', dataDir)).stdout), { stopped: true });
    assert.equal((await localClickHouseStatus(dataDir)).running, false);
  });
});
