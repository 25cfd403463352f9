// `offerfeed admin …`: admin users and API tokens (the way to create the first admin), the audit log, connector
// pause/resume and schedule overrides, alerts and the self-test. Every change is audited as the CLI user.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { AdminAuth, cliPrincipal, isRole, type Role } from '../admin/auth.ts';
import { AdminStore } from '../store/admin-store.ts';
import { specPath } from '../spec/registry.ts';
import { parseSchedule } from '../scheduler/schedule.ts';
import { HealthMonitor } from '../health/monitor.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { parseDuration } from '../util/duration.ts';
import { openStores } from './stores.ts';

const role = (v: string): Role => {
  if (!isRole(v)) throw new InvalidArgumentError('must be admin or viewer');
  return v;
};

/** A password from standard input: typed without echo on a terminal (twice), else the piped text without its final newline. */
async function readPassword(confirm: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const ask = (prompt: string) => new Promise<string>((resolve, reject) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let buf = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false); stdin.pause(); stdin.off('data', onData); process.stderr.write('\n');
          return resolve(buf);
        }
        if (ch === '\u0003') { stdin.setRawMode(false); stdin.off('data', onData); return reject(new Error('interrupted')); }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1); else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
  const first = await ask('Password: ');
  if (confirm && (await ask('Repeat password: ')) !== first) throw new Error('the passwords differ');
  return first;
}

async function withAdmin<T>(fn: (auth: AdminAuth, admin: AdminStore, storePath: string) => Promise<T>): Promise<T> {
  const stores = await openStores();
  let admin: AdminStore | undefined;
  try {
    admin = await AdminStore.open(stores.store.path);
    return await fn(new AdminAuth(admin), admin, stores.store.path);
  } finally {
    admin?.close();
    await stores.close();
  }
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const table = (rows: Array<Record<string, unknown>>, cols: string[]) => {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  out(cols.map((c, i) => c.padEnd(w[i])).join('  '));
  for (const r of rows) out(cols.map((c, i) => String(r[c] ?? '').padEnd(w[i])).join('  '));
};

async function userId(admin: AdminStore, name: string): Promise<string> {
  const u = await admin.userByName(name);
  if (!u) throw new Error(`no user "${name}"`);
  return u.id;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('admin users and tokens, audit log, pause/resume, schedules, alerts and self-tests');
  const me = cliPrincipal();

  const user = admin.command('user').description('admin users (roles: admin, viewer)');
  user.command('add <name>')
    .description('create a user; the password is read from standard input (typed twice without echo on a terminal)')
    .requiredOption('--role <role>', 'admin or viewer', role)
    .action(async (name: string, opts: { role: Role }) => {
      const password = await readPassword(true);
      await withAdmin(async (auth) => {
        const u = await auth.perform(me, 'user.manage', name, () => auth.createUser(name, password, opts.role), { op: 'add', role: opts.role });
        out(`created ${u.role} user ${u.name} (${u.id})`);
      });
    });
  user.command('list').option('--json', 'machine-readable output').action(async (opts) => {
    await withAdmin(async (auth) => {
      const users = await auth.listUsers();
      if (opts.json) out(JSON.stringify(users, null, 2));
      else table(users.map((u) => ({ ...u, disabled: u.disabled ? 'yes' : '' })), ['name', 'role', 'disabled', 'last_login_at', 'created_at']);
    });
  });
  user.command('passwd <name>').description('set a new password (from standard input); ends the user\'s sessions').action(async (name: string) => {
    const password = await readPassword(true);
    await withAdmin(async (auth, store) => {
      const id = await userId(store, name);
      await auth.perform(me, 'user.manage', name, () => auth.setPassword(id, password), { op: 'passwd' });
      out(`password of ${name} changed`);
    });
  });
  user.command('role <name> <role>').action(async (name: string, r: string) => {
    const next = role(r);
    await withAdmin(async (auth, store) => {
      const id = await userId(store, name);
      await auth.perform(me, 'user.manage', name, () => auth.setRole(id, next), { op: 'role', role: next });
      out(`${name} is now ${next}`);
    });
  });
  for (const [cmd, disabled] of [['disable', true], ['enable', false]] as const) {
    user.command(`${cmd} <name>`).action(async (name: string) => {
      await withAdmin(async (auth, store) => {
        const id = await userId(store, name);
        await auth.perform(me, 'user.manage', name, () => auth.setDisabled(id, disabled), { op: cmd });
        out(`${name} ${cmd}d`);
      });
    });
  }

  const token = admin.command('token').description('API tokens for the admin API (stored as SHA-256 hashes)');
  token.command('create <name>')
    .description('create a token and print it once: it cannot be shown again')
    .requiredOption('--role <role>', 'admin or viewer', role)
    .option('--expires <duration>', 'lifetime, e.g. 90d or 12h (default: no expiry)')
    .action(async (name: string, opts: { role: Role; expires?: string }) => {
      const expiresAt = opts.expires ? new Date(Date.now() + parseDuration(opts.expires, 0)) : undefined;
      await withAdmin(async (auth) => {
        const t = await auth.perform(me, 'token.manage', name, () => auth.createToken(name, opts.role, { createdBy: me.user, expiresAt }), { op: 'create', role: opts.role, expires_at: expiresAt?.toISOString() ?? null });
        process.stderr.write(`created ${t.role} token "${t.name}" (id ${t.id}${t.expiresAt ? `, expires ${t.expiresAt}` : ''}); store it now, it is not shown again:\n`);
        out(t.token);
      });
    });
  token.command('list').option('--json', 'machine-readable output').action(async (opts) => {
    await withAdmin(async (auth) => {
      const tokens = await auth.listTokens();
      if (opts.json) out(JSON.stringify(tokens, null, 2));
      else table(tokens.map((t) => ({ ...t, revoked: t.revoked_at ? 'yes' : '' })), ['id', 'name', 'role', 'created_by', 'created_at', 'expires_at', 'last_used_at', 'revoked']);
    });
  });
  token.command('revoke <id>').action(async (id: string) => {
    await withAdmin(async (auth) => {
      const ok = await auth.perform(me, 'token.manage', id, () => auth.revokeToken(id), { op: 'revoke' });
      out(ok ? `revoked ${id}` : `no active token ${id}`);
      if (!ok) process.exitCode = 1;
    });
  });

  admin.command('audit').description('the audit log, newest first')
    .option('--limit <n>', 'entries', (v) => Number(v), 50).option('--actor <name>').option('--action <action>').option('--json', 'machine-readable output')
    .action(async (opts) => {
      await withAdmin(async (auth) => {
        const rows = await auth.listAudit({ limit: opts.limit, actor: opts.actor, action: opts.action });
        if (opts.json) out(JSON.stringify(rows, null, 2));
        else table(rows.map((r) => ({ ...r, details: r.details ? JSON.stringify(r.details) : '' })), ['occurred_at', 'actor', 'role', 'action', 'target', 'result', 'details']);
      });
    });

  admin.command('pause <connector>').description('stop scheduled runs of a connector (manual runs still work)').option('--reason <text>')
    .action(async (id: string, opts: { reason?: string }) => {
      specPath(id);
      await withAdmin(async (auth, store) => {
        await auth.perform(me, 'pause', id, () => store.upsertConnectorSettings(id, { paused: true, paused_reason: opts.reason ?? null }, me.user), { reason: opts.reason ?? null });
        out(`paused ${id}; a running server picks this up at its next refresh`);
      });
    });
  admin.command('resume <connector>').action(async (id: string) => {
    specPath(id);
    await withAdmin(async (auth, store) => {
      await auth.perform(me, 'resume', id, () => store.upsertConnectorSettings(id, { paused: false, paused_reason: null }, me.user));
      out(`resumed ${id}`);
    });
  });
  admin.command('schedule <connector>').description("override a connector's schedule, or --clear to use its spec's again")
    .option('--cron <pattern>', 'cron pattern (UTC), e.g. "0 */6 * * *"').option('--interval <duration>', 'e.g. 3h').option('--clear', 'remove the override')
    .action(async (id: string, opts: { cron?: string; interval?: string; clear?: boolean }) => {
      specPath(id);
      if (!opts.clear) parseSchedule({ cron: opts.cron, interval: opts.interval }, 'override', { minIntervalMs: 60_000, timezone: 'UTC' });
      const patch = opts.clear ? { schedule_cron: null, schedule_interval: null } : { schedule_cron: opts.cron ?? null, schedule_interval: opts.interval ?? null };
      await withAdmin(async (auth, store) => {
        await auth.perform(me, 'schedule.change', id, () => store.upsertConnectorSettings(id, patch, me.user), patch);
        out(opts.clear ? `${id} follows its spec's schedule again` : `${id} now runs on ${opts.cron ?? `every ${opts.interval}`}`);
      });
    });

  // The serving process holds the DuckDB file, so a run on demand from the command line goes through its admin
  // API, like one from the UI: same scheduler (no overlap), same audit trail.
  admin.command('run <connector>').description('start a run now in the running server (`offerfeed serve`/`up`) through its admin API and follow it')
    .option('--url <url>', 'the server (default OFFERFEED_URL, else http://127.0.0.1:8080)').option('--full', 'full re-sync')
    .option('--no-wait', 'return once the run is queued')
    .action(async (id: string, opts: { url?: string; full?: boolean; wait: boolean }) => {
      const token = process.env.OFFERFEED_ADMIN_TOKEN;
      if (!token) throw new Error('set OFFERFEED_ADMIN_TOKEN to an admin API token (`offerfeed admin token create <name> --role admin`)');
      const base = (opts.url ?? process.env.OFFERFEED_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
      const headers = { authorization: `Bearer ${token}` };
      // Subscribe first, so the run's end cannot slip by between the start and the subscription.
      const ac = new AbortController();
      const events = opts.wait ? await fetch(`${base}/admin/api/events`, { headers, signal: ac.signal }) : undefined;
      if (events && events.status !== 200) throw new Error(`${base}: HTTP ${events.status} ${await events.text()}`);
      const res = await fetch(`${base}/admin/api/networks/${encodeURIComponent(id)}/sync`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ full: opts.full === true }) });
      const body = await res.json() as { jobId?: string; message?: string };
      if (res.status !== 202) { ac.abort(); throw new Error(`${id}: HTTP ${res.status}: ${body.message ?? ''}`); }
      out(`${id}: run queued (job ${body.jobId})`);
      if (!events) return;
      const summary = await followJob(events, body.jobId!, (line) => out(line)).finally(() => ac.abort());
      out(`${id}: ${summary.status}${summary.error ? `: ${summary.error}` : ''}${summary.counts ? ` ${JSON.stringify(summary.counts)}` : ''}`);
      if (summary.status !== 'succeeded') process.exitCode = 1;
    });

  admin.command('alerts').description('open alerts (stale or failing feeds, failed self-tests)').option('--all', 'include resolved ones').option('--json', 'machine-readable output')
    .action(async (opts) => {
      await withAdmin(async (_auth, store) => {
        const rows = await store.listAlerts(opts.all ? {} : { open: true });
        if (opts.json) out(JSON.stringify(rows, null, 2));
        else if (!rows.length) out('no open alerts');
        else table(rows.map((r) => ({ ...r })), ['id', 'connector', 'kind', 'severity', 'first_seen_at', 'resolved_at', 'message']);
      });
    });
  admin.command('resolve <alert>').description('close an open alert by id or key (it comes back if the problem persists)').action(async (key: string) => {
    await withAdmin(async (auth, store, path) => {
      const monitor = new HealthMonitor({ storePath: path, admin: store, logger: createLogger({ redactor: new Redactor() }) });
      try {
        const a = await auth.perform(me, 'alert.resolve', key, () => monitor.resolve(/^\d+$/.test(key) ? Number(key) : key, me.user));
        out(a ? `resolved ${a.key}` : `no open alert ${key}`);
        if (!a) process.exitCode = 1;
      } finally { await monitor.stop(); }
    });
  });
  admin.command('selftest [connectors...]').description('run the self-test now: contract test and live probe (when configured) of each connector, then the staleness check; alerts as configured')
    .option('--no-probe', 'contract tests only')
    .action(async (ids: string[], opts: { probe: boolean }) => {
      await withAdmin(async (auth, store, path) => {
        const monitor = new HealthMonitor({ storePath: path, admin: store, probe: opts.probe ? 'configured' : 'never', logger: createLogger({ redactor: new Redactor() }) });
        try {
          const results = await auth.perform(me, 'selftest', ids.length ? ids.join(',') : null, () => monitor.selfTest(ids.length ? ids : undefined));
          await monitor.check();
          for (const r of results) {
            out(`${r.contract.ok && (r.probe.ok || r.probe.skipped) ? 'ok  ' : 'FAIL'} ${r.connector.padEnd(24)} contract ${r.contract.ok ? 'pass' : 'FAIL'}  probe ${r.probe.skipped ? `skipped (${r.probe.reason})` : r.probe.ok ? `pass (${r.probe.offers} offers)` : 'FAIL'}`);
            for (const p of r.contract.problems.slice(0, 5)) out(`       - ${p}`);
            if (r.probe.error) out(`       - probe: ${r.probe.error}`);
          }
          if (results.some((r) => !r.contract.ok || (!r.probe.ok && !r.probe.skipped))) process.exitCode = 1;
        } finally { await monitor.stop(); }
      });
    });
}

/** Reads the admin event stream until the job's sync.finished event, printing its progress on the way. */
async function followJob(res: Response, jobId: string, print: (line: string) => void): Promise<{ status: string; error?: string; counts?: unknown }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the server closed the event stream before the run finished');
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const topic = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!topic || !data) continue;
      const p = JSON.parse(data) as { jobId?: string; status?: string; error?: string; counts?: unknown; progress?: { pages: number; offers: number } };
      if (p.jobId !== jobId) continue;
      if (topic === 'sync.progress' && p.progress) print(`  ${p.progress.pages} pages, ${p.progress.offers} offers`);
      if (topic === 'sync.finished') return { status: p.status ?? 'unknown', error: p.error, counts: p.counts };
    }
  }
}
