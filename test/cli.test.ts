// The CLI as a user runs it: a child process, real files, a real HTTP server standing in for the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, json } from './support/http-server.ts';

const BIN = new URL('../bin/offerfeed.js', import.meta.url).pathname;
const CANARY = 'CANARY-s3cr3t-7f9e2d';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function connectorDir(yaml: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'offerfeed-cli-'));
  await mkdir(join(root, 'demo'));
  await writeFile(join(root, 'demo', 'connector.yaml'), yaml);
  return root;
}

const SPEC = `dsl: 1
id: demo
name: Demo
kind: affiliate-network
base_url: https://api.demo.example
config:
  type: object
  required: [api_key]
  properties:
    api_key: { type: string, x-secret: true }
    client_secret: { type: string, x-secret: true }
auth: { type: api_key, in: query, name: key, value: "{{ $config.api_key }}" }
headers: { X-Client-Secret: "{{ $config.client_secret }}" }
streams:
  - name: deals
    kind: deal
    request: { path: /deals }
    pagination: { type: page_number, page_param: page, stop: { short_page: true }, page_size: 2, size_param: per_page }
    records: deals
    map: '{"external_id": $string(id), "title": title, "url": url, "sale_price": price, "price": was}'
`;

test('sync --dry-run --out - prints one canonical offer per line and exits 0', async () => {
  const srv = await startServer((req, res) => {
    if (req.url.searchParams.get('key') !== CANARY) return json(res, 401, { error: 'bad key' });
    const page = Number(req.url.searchParams.get('page'));
    const deals = [{ id: 1, title: 'Caf&eacute; deal', url: 'https://x.example/1', price: '€9,99', was: '€19,99' }, { id: 2, title: 'Two', url: 'https://x.example/2' }, { id: 3, title: 'Three', url: 'https://x.example/3' }];
    json(res, 200, { deals: deals.slice((page - 1) * 2, page * 2) });
  });
  const dir = await connectorDir(SPEC);
  const cfg = join(dir, 'config.json');
  await writeFile(cfg, JSON.stringify({ api_key: CANARY, client_secret: `${CANARY}-2` }));
  try {
    const r = await cli(['sync', 'demo', '--dry-run', '--out', '-', '--base-url', srv.url, '--config', cfg], { OFFERFEED_CONNECTORS_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { network: 'demo', external_id: '1', kind: 'deal', title: 'Café deal', url: 'https://x.example/1', price: 19.99, sale_price: 9.99, currency: 'EUR' });
    assert.equal(lines.length, 3);
    assert.ok(!r.stdout.includes(CANARY) && !r.stderr.includes(CANARY), 'secrets never reach any output');
    assert.match(r.stderr, /"status":"succeeded"/);
  } finally { await srv.close(); }
});

test('a failing run exits non-zero with the reason on stderr, and no secret anywhere in its output', async () => {
  // A hostile upstream echoes the credentials back in its error, as some real APIs do.
  const srv = await startServer((req, res) => json(res, 403, { message: `key ${req.url.searchParams.get('key')} with secret ${req.headers['x-client-secret']} is suspended` }));
  const dir = await connectorDir(SPEC);
  try {
    const r = await cli(['sync', 'demo', '--dry-run', '--out', '-', '--base-url', srv.url], {
      OFFERFEED_CONNECTORS_DIR: dir, OFFERFEED_DEMO_API_KEY: CANARY, OFFERFEED_DEMO_CLIENT_SECRET: `${CANARY}-2`, OFFERFEED_LOG_LEVEL: 'debug',
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /HTTP 403 .*key \[REDACTED\] with secret \[REDACTED\] is suspended/);
    assert.ok(!r.stdout.includes(CANARY) && !r.stderr.includes(CANARY), `secret leaked:\n${r.stderr}`);
    assert.ok(!r.stderr.includes('s3cr3t'));
  } finally { await srv.close(); }
});

test('a missing setting is named with its environment variable; nothing runs', async () => {
  const dir = await connectorDir(SPEC);
  const r = await cli(['sync', 'demo', '--dry-run'], { OFFERFEED_CONNECTORS_DIR: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing setting "api_key" \(set it in the --config file or the environment variable OFFERFEED_DEMO_API_KEY\)/);
});

test('connectors validate rejects a spec with a mistake, naming file, line and column', async () => {
  const dir = await connectorDir(SPEC.replace('    records: deals', '    records: deals\n    mapp: x'));
  const r = await cli(['connectors', 'validate', join(dir, 'demo')], { OFFERFEED_CONNECTORS_DIR: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /demo\/connector\.yaml:20:5: unknown key "mapp" in streams\[0\]/);
});

test('connectors list shows every shipped connector and its status', async () => {
  const r = await cli(['connectors', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ id: string; status: string }>;
  assert.ok(rows.length > 0);
  assert.ok(rows.every((x) => x.status !== 'invalid'), JSON.stringify(rows.filter((x) => x.status === 'invalid')));
});
