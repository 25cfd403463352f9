// A local ClickHouse server for one data directory, run from chDB's libchdb.so (optional dependency).
// Layout under <dataDir>/clickhouse/: data/ (ClickHouse --path, persistent), server.json (state),
// server.log (ClickHouse's own log, rotated), server.err.log (launcher output: startup failures),
// config.xml (log rotation, keep-alive), bin/launcher-<hash> (compiled on first use).
// Callers that are given CLICKHOUSE_URL never come here: this is only the single-machine default.
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export interface LocalClickHouse { url: string; pid: number; port: number }
export interface LocalClickHouseStatus { running: boolean; url?: string; pid?: number; port?: number }
export interface StartOptions {
  dataDir: string;
  /** HTTP port on 127.0.0.1; a free one is picked when absent. */
  port?: number;
  /** How long to wait for /ping before giving up (default 30 s). */
  timeoutMs?: number;
  /** Stop the server once this process has exited (a test run), instead of outliving every caller. */
  ownerPid?: number;
}

/** The optional platform package is missing, or the platform has none. */
export class ClickHouseUnavailableError extends Error {}

const QUERY_ID = 'offerfeed-local-server';
// Starts the listener, then blocks forever (one row per hour, for ~114k years); KILL QUERY ends it.
const SERVE_QUERY =
  'SYSTEM START LISTEN HTTP; SELECT sleepEachRow(3600) FROM numbers(1000000000) ' +
  'SETTINGS function_sleep_max_microseconds_per_block = 0, max_block_size = 1 FORMAT Null';
const LAUNCHER_SOURCE = new URL('./launcher.c', import.meta.url);
const STOP_GRACE_MS = 8000;

export const chdbPackageName = (): string => `@chdb/lib-linux-${process.arch}-gnu`;

/** Path of libchdb.so from the optional package, or undefined when it is not installed. */
export function libchdbPath(): string | undefined {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return undefined;
  try {
    return createRequire(import.meta.url).resolve(`${chdbPackageName()}/libchdb.so`);
  } catch {
    return undefined;
  }
}

const paths = (dataDir: string) => {
  const root = join(resolve(dataDir), 'clickhouse');
  return {
    data: join(root, 'data'),
    bin: join(root, 'bin'),
    state: join(root, 'server.json'),
    log: join(root, 'server.log'),
    errLog: join(root, 'server.err.log'),
    config: join(root, 'config.xml'),
  };
};

/** Compiles launcher.c with the machine's cc once per source version and data directory. */
async function launcherBinary(binDir: string): Promise<string> {
  const source = await readFile(LAUNCHER_SOURCE);
  const hash = createHash('sha256').update(source).update(process.arch).digest('hex').slice(0, 12);
  const bin = join(binDir, `launcher-${hash}`);
  if (existsSync(bin)) return bin;
  await mkdir(binDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await promisify(execFile)('cc', ['-O2', '-pthread', '-o', tmp, LAUNCHER_SOURCE.pathname, '-ldl']);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ClickHouseUnavailableError(`cannot compile the ClickHouse launcher with cc: ${e.stderr || e.message}`);
  }
  await rename(tmp, bin); // atomic, so concurrent starters never run a half-written binary
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/**
 * One HTTP request on its own connection (`agent: false` sends Connection: close): an idle keep-alive
 * connection would make the server wait for it at shutdown.
 */
function httpText(url: string, body?: string, timeoutMs = 1000): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const method = body === undefined ? 'GET' : 'POST';
    const req = request(url, { method, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`))).on('error', fail);
    req.end(body);
  });
}

/** /ping answers and the server is the one for dataPath (not another that already had the port). */
async function serves(url: string, dataPath: string): Promise<boolean> {
  try {
    const ping = await httpText(`${url}/ping`);
    if (ping.status !== 200 || ping.text.trim() !== 'Ok.') return false;
    const path = await httpText(`${url}/`, "SELECT getServerSetting('path')");
    return path.status === 200 && resolve(path.text.trim()) === dataPath;
  } catch {
    return false;
  }
}

/** Alive and serving this data directory: guards against pid reuse and zombies (empty cmdline). */
function isServerProcess(pid: number, dataPath: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`--path=${dataPath}`);
  } catch {
    return false;
  }
}

async function readState(file: string): Promise<LocalClickHouse | undefined> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as LocalClickHouse;
    return Number.isInteger(s.pid) && Number.isInteger(s.port) && typeof s.url === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** What the launcher wrote after `marker`, minus stack-trace frames ("12. ? @ 0x…") that bury the message. */
async function outputSince(file: string, marker: string, lines = 20): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const since = text.slice(Math.max(0, text.lastIndexOf(marker)));
    return since.split('\n').filter((l) => !/^\d+\. /.test(l)).slice(-lines).join('\n').trim();
  } catch {
    return '';
  }
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function localClickHouseStatus(dataDir: string): Promise<LocalClickHouseStatus> {
  const p = paths(dataDir);
  const state = await readState(p.state);
  const running = !!state && isServerProcess(state.pid, p.data) && (await serves(state.url, p.data));
  if (!state || !running) return { running: false };
  return { running: true, url: state.url, pid: state.pid, port: state.port };
}

/**
 * Starts (or finds) the server for dataDir, detached so it outlives the caller. When one is already
 * running it is returned as is, even if `port` asks for another.
 */
export async function startLocalClickHouse(opts: StartOptions): Promise<LocalClickHouse> {
  const p = paths(opts.dataDir);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const existing = await localClickHouseStatus(opts.dataDir);
  if (existing.running) return { url: existing.url!, pid: existing.pid!, port: existing.port! };

  const lib = libchdbPath();
  if (!lib) {
    throw new ClickHouseUnavailableError(
      `local ClickHouse needs the optional package ${chdbPackageName()} (not installed, or no build for ` +
        `${process.platform}-${process.arch}); install it or set CLICKHOUSE_URL to an existing server`,
    );
  }
  await mkdir(p.data, { recursive: true });
  const launcher = await launcherBinary(p.bin);
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // Log rotation can only be set in a config file. Shutdown waits for idle keep-alive connections to
  // time out: 3 s (the old server default) keeps `stop` quick yet stays above @clickhouse/client's
  // 2.5 s idle-socket TTL, so the client never reuses a socket the server is closing.
  await writeFile(p.config, [
    '<clickhouse>',
    `  <logger><log>${xmlText(p.log)}</log><size>10M</size><count>3</count></logger>`,
    '  <keep_alive_timeout>3</keep_alive_timeout>',
    '</clickhouse>\n',
  ].join('\n'));
  const errFd = openSync(p.errLog, 'a');
  const marker = `--- ${new Date().toISOString()} starting on port ${port} (by pid ${process.pid})`;
  writeSync(errFd, `${marker}\n`);
  const args = [
    lib, String(opts.ownerPid ?? 0),
    `--config-file=${p.config}`, `--path=${p.data}`, '--listen_host=127.0.0.1', `--http_port=${port}`,
    '--log-level=warning', `--query_id=${QUERY_ID}`, '--multiquery', `--query=${SERVE_QUERY}`,
  ];
  const child = spawn(launcher, args, { detached: true, stdio: ['ignore', errFd, errFd] });
  closeSync(errFd);
  let exited = false;
  child.once('exit', () => { exited = true; });
  child.unref();
  const pid = child.pid!;

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (await serves(url, p.data)) {
      const state = { url, pid, port };
      await writeFile(p.state, JSON.stringify({ ...state, startedAt: new Date().toISOString() }) + '\n');
      return state;
    }
    await sleep(100);
  }
  if (!exited) await killAndWait(pid, p.data);
  const log = await outputSince(p.errLog, marker);
  // Another caller started the same data directory concurrently: its server holds the lock, use it.
  if (log.includes('Another server instance in same directory')) {
    while (Date.now() < deadline) {
      const other = await localClickHouseStatus(opts.dataDir);
      if (other.running) return { url: other.url!, pid: other.pid!, port: other.port! };
      await sleep(200);
    }
  }
  const why = exited ? 'exited during startup' : `did not answer ${url}/ping within ${timeoutMs} ms`;
  throw new Error(`local ClickHouse ${why}; last lines of ${p.errLog}:\n${log}\n(see also ${p.log})`);
}

async function waitForExit(pid: number, dataPath: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isServerProcess(pid, dataPath)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

async function killAndWait(pid: number, dataPath: string): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    try { process.kill(pid, signal); } catch { return; }
    if (await waitForExit(pid, dataPath, STOP_GRACE_MS)) return;
  }
}

/** Stops the server of this data directory; returns false when none was running. */
export async function stopLocalClickHouse(dataDir: string): Promise<boolean> {
  const p = paths(dataDir);
  const state = await readState(p.state);
  const running = !!state && isServerProcess(state.pid, p.data);
  if (state && running) {
    // Cancelling the blocking query lets clickhouse-local shut down cleanly (SIGTERM is not handled
    // by it and ends the process on the spot); signals are the fallback for a server that hangs.
    await httpText(`${state.url}/`, `KILL QUERY WHERE query_id = '${QUERY_ID}' ASYNC`, 2000).catch(() => undefined);
    if (!(await waitForExit(state.pid, p.data, STOP_GRACE_MS))) await killAndWait(state.pid, p.data);
  }
  await rm(p.state, { force: true });
  return running;
}
