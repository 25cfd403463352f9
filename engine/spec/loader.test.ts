import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, SpecValidationError } from './loader.ts';
import { resolveConfig, envConfigSource, ConfigError } from './config.ts';

const GOOD = `dsl: 1
id: demo
name: Demo
kind: feed
base_url: https://api.example.com
config:
  type: object
  required: [token]
  properties:
    token: { type: string, x-secret: true }
    country: { type: string, default: US }
auth: { type: bearer, token: "{{ $config.token }}" }
streams:
  - name: products
    kind: product
    request:
      path: /products
      query: { country: "{{ $config.country }}" }
    records: items
    map: |
      {
        "external_id": id,
        "title": name,
        "url": link
      }
`;

function errorsOf(text: string): string[] {
  try {
    parseSpec(text, 'connectors/demo/connector.yaml');
  } catch (e) {
    assert.ok(e instanceof SpecValidationError, String(e));
    return e.errors.map((x) => x.message);
  }
  assert.fail('expected the spec to be rejected');
}

test('a valid spec loads', () => {
  const spec = parseSpec(GOOD, 'connectors/demo/connector.yaml');
  assert.equal(spec.streams[0].name, 'products');
});

test('an unknown key is rejected with file, line, column and the allowed keys', () => {
  const [e] = errorsOf(GOOD.replace('    records: items', '    record: items'));
  assert.equal(e, 'connectors/demo/connector.yaml:19:5: unknown key "record" in streams[0] (allowed: name, description, kind, emit, enabled, request, file, job, pagination, partitions, decoder, records, filter, map, incremental, response_rules, complete, timezone, rate_limit, authenticate, auth)');
});

test('a wrong type is rejected naming the value', () => {
  const [e] = errorsOf(GOOD.replace('    kind: product', '    kind: product\n    pagination: { type: page_number, page_param: p, start: ten }'));
  assert.match(e, /^connectors\/demo\/connector\.yaml:16:60: streams\[0\]\.pagination\.start must be integer, but is string "ten"$/);
});

test('an unknown enum value lists the allowed ones', () => {
  const [e] = errorsOf(GOOD.replace('kind: feed', 'kind: network'));
  assert.match(e, /:4:7: kind must be one of "affiliate-network", "marketplace", "retailer", "feed", but is string "network"/);
});

test('an unknown auth type is named', () => {
  const [e] = errorsOf(GOOD.replace('type: bearer', 'type: token'));
  assert.match(e, /:12:7: auth\.type must be one of the known kinds, but is string "token"/);
});

test('bad JSONata in a map points at the line of the mistake', () => {
  const [e] = errorsOf(GOOD.replace('"title": name,', '"title": name &,'));
  assert.match(e, /^connectors\/demo\/connector\.yaml:23:\d+: streams\[0\]\.map: invalid JSONata: /);
});

test('bad JSONata inside a template is reported', () => {
  const [e] = errorsOf(GOOD.replace('"{{ $config.country }}"', '"{{ $config.country + }}"'));
  assert.match(e, /:18:\d+: streams\[0\]\.request\.query\.country: invalid JSONata/);
});

test('a reference to an undeclared setting is rejected', () => {
  const [e] = errorsOf(GOOD.replace('$config.country }}', '$config.contry }}'));
  assert.match(e, /:18:\d+: streams\[0\]\.request\.query\.country uses \$config\.contry, which config\.properties does not declare \(declared: token, country\)/);
});

test('semantic mistakes: a stream without a source, an unknown partition stream, an id unlike its folder', () => {
  const text = GOOD.replace('id: demo', 'id: other').replace(/    request:\n      path: \/products\n      query: \{ country: "\{\{ \$config\.country \}\}" \}\n/, '    partitions: { from_stream: nope }\n');
  const errors = errorsOf(text);
  assert.ok(errors.some((e) => /id "other" must equal the connector's folder name "demo"/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => /needs exactly one of request, file or job \(has none\)/.test(e)));
  assert.ok(errors.some((e) => /from_stream "nope" is not a stream of this connector/.test(e)));
});

test('YAML syntax errors and alias bombs are rejected', () => {
  assert.match(errorsOf('dsl: 1\nid: [unclosed\n')[0], /connector\.yaml:\d+:\d+: YAML syntax error/);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
  assert.match(errorsOf(bomb.join('\n'))[0], /alias|Excessive/i);
});

test('config: env variables OFFERFEED_<ID>_<PROP>, defaults, coercion, and a clear error for a missing setting', async () => {
  const spec = parseSpec(GOOD, 'connectors/demo/connector.yaml');
  const values = await resolveConfig(spec, [envConfigSource({ OFFERFEED_DEMO_TOKEN: 'abc' })]);
  assert.deepEqual(values, { token: 'abc', country: 'US' });
  await assert.rejects(resolveConfig(spec, [envConfigSource({})]), (e: Error) => e instanceof ConfigError && /missing setting "token" \(set it in the --config file or the environment variable OFFERFEED_DEMO_TOKEN\)/.test(e.message));
});
