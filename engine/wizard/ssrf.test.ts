import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, json } from '../../test/support/http-server.ts';
import { forbiddenReason, guardedFetch, policyFromEnv, ResponseTooLargeError, SsrfError, v6Groups, type NetworkPolicy } from './ssrf.ts';

test('address classification: internal ranges refused, public unicast allowed', () => {
  const refused = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1',
    '100.127.255.255', '169.254.169.254', '169.254.1.1', '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '198.18.0.1',
    '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:8.8.8.8', '::127.0.0.1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd00:ec2::254',
    'ff02::1', '64:ff9b::7f00:1', '2002:7f00:1::', '2001:0:4136:e378::1', '2001:db8::1', 'fec0::1',
  ];
  for (const ip of refused) assert.ok(forbiddenReason(ip), `${ip} should be refused`);
  for (const ip of ['8.8.8.8', '93.184.216.34', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700::1111', '2a00:1450:4001:80b::200e']) {
    assert.equal(forbiddenReason(ip), undefined, `${ip} should be allowed`);
  }
  assert.match(forbiddenReason('169.254.169.254')!, /metadata/);
  assert.match(forbiddenReason('fd00:ec2::254')!, /metadata/);
  assert.match(forbiddenReason('::ffff:127.0.0.1')!, /IPv4-mapped/);
  assert.deepEqual(v6Groups('::ffff:127.0.0.1'), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  assert.deepEqual(policyFromEnv('OFFERFEED_WIZARD', { OFFERFEED_WIZARD_ALLOW_HOSTS: 'sandbox.local, 127.0.0.1:4010', OFFERFEED_WIZARD_ALLOW_CIDRS: '10.9.0.0/16' }),
    { allowHosts: ['sandbox.local', '127.0.0.1:4010'], allowCidrs: ['10.9.0.0/16'] });
});

test('SSRF attempts are refused before any byte reaches an internal host; an allow-listed sandbox works', async () => {
  const internal = await startServer((_req, res) => json(res, 200, { secret: 'internal data' }));
  const internalPort = new URL(internal.url).port;
  const sandbox = await startServer((req, res) => {
    const to = req.url.searchParams.get('to');
    if (req.url.pathname === '/redirect' && to) { res.writeHead(302, { location: to }); return res.end(); }
    if (req.url.pathname === '/big') { res.writeHead(200, { 'content-type': 'application/octet-stream' }); return res.end(Buffer.alloc(2 * 1024 * 1024, 97)); }
    if (req.url.pathname === '/slow') return new Promise((r) => setTimeout(r, 2000)).then(() => json(res, 200, {}));
    json(res, 200, { items: [{ id: 1 }], auth: req.headers.authorization ?? null });
  });
  const sandboxPort = new URL(sandbox.url).port;
  // DNS stub: names that resolve to internal addresses, one of them only partly (rebinding-style round robin).
  const lookup = async (h: string) => {
    const table: Record<string, Array<{ address: string; family: number }>> = {
      'internal.example': [{ address: '10.1.2.3', family: 4 }],
      'mixed.example': [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }],
      'metadata.example': [{ address: 'fd00:ec2::254', family: 6 }],
    };
    if (table[h]) return table[h];
    const { lookup: real } = await import('node:dns/promises');
    return real(h, { all: true, verbatim: true });
  };
  const none: NetworkPolicy = { lookup };
  const allowSandbox: NetworkPolicy = { allowHosts: [`127.0.0.1:${sandboxPort}`], lookup };
  const refuse = async (url: string, policy: NetworkPolicy, pattern: RegExp) => {
    await assert.rejects(guardedFetch({ url }, { policy, timeoutMs: 3000 }), (e: Error) => {
      assert.ok(e instanceof SsrfError, `${url}: expected SsrfError, got ${e.name}: ${e.message}`);
      assert.match(e.message, pattern, url);
      return true;
    });
  };
  try {
    await refuse(`${internal.url}/`, none, /loopback/);
    await refuse('http://10.0.0.1/', none, /private/);
    await refuse('http://169.254.169.254/latest/meta-data/', none, /metadata/);
    await refuse('http://[fd00:ec2::254]/', none, /metadata/);
    await refuse(`http://[::ffff:127.0.0.1]:${internalPort}/`, none, /IPv4-mapped/);
    await refuse(`http://[::1]:${internalPort}/`, none, /loopback/);
    await refuse(`http://2130706433:${internalPort}/`, none, /loopback/);
    await refuse(`http://0x7f000001:${internalPort}/`, none, /loopback/);
    await refuse(`http://0177.0.0.1:${internalPort}/`, none, /loopback/);
    await refuse(`http://127.1:${internalPort}/`, none, /loopback/);
    await refuse(`http://localhost:${internalPort}/`, none, /localhost .*loopback/);
    await refuse('http://internal.example/', none, /internal\.example \(10\.1\.2\.3\): private/);
    await refuse('http://mixed.example/', none, /127\.0\.0\.1/);
    await refuse('http://metadata.example/', none, /metadata/);
    await refuse('http://100.100.100.200/', none, /CGNAT/);
    await refuse('http://[ff02::1]/', none, /multicast/);
    await refuse('http://0.0.0.0/', none, /unspecified/);
    await refuse('file:///etc/passwd', allowSandbox, /file: URLs are refused/);
    await refuse('gopher://127.0.0.1:70/_x', allowSandbox, /gopher: URLs are refused/);
    await refuse('ftp://example.com/', allowSandbox, /only http and https/);
    await refuse(`http://user:pw@127.0.0.1:${sandboxPort}/`, allowSandbox, /credentials in the URL/);

    // The allow-listed sandbox works, with its port only.
    const ok = await guardedFetch({ url: `${sandbox.url}/offers`, headers: { authorization: 'Bearer t0ken' } }, { policy: allowSandbox });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body.toString()), { items: [{ id: 1 }], auth: 'Bearer t0ken' });
    await refuse(`${internal.url}/`, allowSandbox, /loopback/);
    // Every redirect hop is checked: to an internal host, by name or by number, or to another scheme.
    const via = (to: string) => `${sandbox.url}/redirect?to=${encodeURIComponent(to)}`;
    await refuse(via(`${internal.url}/`), allowSandbox, /loopback/);
    await refuse(via(`http://localhost:${internalPort}/`), allowSandbox, /loopback/);
    await refuse(via('http://169.254.169.254/latest/meta-data/'), allowSandbox, /metadata/);
    await refuse(via(`http://2130706433:${internalPort}/`), allowSandbox, /loopback/);
    await refuse(via('file:///etc/passwd'), allowSandbox, /file: URLs are refused/);
    assert.equal(internal.requests.length, 0, 'a request reached the internal host');
    // A redirect within the allowed origin is followed.
    const hop = await guardedFetch({ url: via(`${sandbox.url}/offers`) }, { policy: allowSandbox });
    assert.deepEqual(hop.redirects, [`${sandbox.url}/offers`]);
    // CIDR allow-list; credentials are dropped on a redirect to another origin.
    const cidr: NetworkPolicy = { allowCidrs: ['127.0.0.0/8'], lookup };
    const cross = await guardedFetch({ url: via(`${internal.url}/x`), headers: { authorization: 'Bearer t0ken' } }, { policy: cidr });
    assert.equal(cross.status, 200);
    assert.equal(internal.requests[0].headers.authorization, undefined);
    // Byte and time caps.
    await assert.rejects(guardedFetch({ url: `${sandbox.url}/big` }, { policy: allowSandbox, maxBytes: 1024 * 1024 }), ResponseTooLargeError);
    await assert.rejects(guardedFetch({ url: `${sandbox.url}/slow` }, { policy: allowSandbox, timeoutMs: 300 }), /no answer .* within 300 ms/);
  } finally {
    await internal.close();
    await sandbox.close();
  }
});
