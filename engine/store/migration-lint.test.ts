import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFindings, lintMigration, lintMigrationsDir, splitSql, type LintFinding } from './migration-lint.ts';
import { defaultMigrationsDir } from './migrate.ts';

const rules = (f: LintFinding[]) => f.map((x) => `${x.rule}@${x.line}`);
const duck = (sql: string) => lintMigration(sql, 'sample.sql', 'duckdb');
const ch = (sql: string) => lintMigration(sql, 'sample.sql', 'clickhouse');

test('every migration in migrations/ passes the lint', () => {
  const findings = lintMigrationsDir(defaultMigrationsDir());
  assert.deepEqual(findings, [], formatFindings(findings));
});

test('splitSql ignores semicolons and keywords inside strings, identifiers and comments', () => {
  const sql = `-- header; DROP TABLE offers;
INSERT INTO notes VALUES ('DROP TABLE offers; it''s fine');
/* block; TRUNCATE offers; */
CREATE TABLE "odd;name" (a VARCHAR DEFAULT $$x;y$$);

SELECT 1`;
  const st = splitSql(sql);
  assert.equal(st.length, 3);
  assert.equal(st[0].line, 2);
  assert.equal(st[0].masked, "INSERT INTO notes VALUES ('')");
  assert.equal(st[1].line, 4);
  assert.equal(st[1].masked, `CREATE TABLE "odd;name" (a VARCHAR DEFAULT '')`);
  assert.equal(st[2].line, 6);
  assert.deepEqual(duck(sql), []);
});

test('ClickHouse strings may escape quotes with a backslash', () => {
  const st = splitSql(String.raw`INSERT INTO {db}.t VALUES ('a\'; DROP TABLE x'); SELECT 2`, 'clickhouse');
  assert.equal(st.length, 2);
});

// ---------------------------------------------------------------------------------------------- bad samples

const BAD: Array<[string, string, number]> = [
  ['drop table', 'CREATE TABLE x (a INT);\nDROP TABLE offers;', 2],
  ['drop table if exists', 'DROP TABLE IF EXISTS main.offers', 1],
  ['truncate', 'TRUNCATE offers', 1],
  ['truncate table', 'TRUNCATE TABLE "offers"', 1],
  ['drop column', 'ALTER TABLE offers DROP COLUMN tags', 1],
  ['drop column without the COLUMN keyword', 'ALTER TABLE offers DROP tags', 1],
  ['create or replace', 'CREATE OR REPLACE TABLE offers (id VARCHAR)', 1],
  ['delete', 'DELETE FROM sync_runs WHERE started_at < now()', 1],
  ['copy after the drop', 'ALTER TABLE offers DROP COLUMN tags;\nCREATE TABLE offer_tags AS SELECT id, tags FROM offers;', 1],
  ['copy without the dropped column', 'CREATE TABLE offer_tags AS SELECT id, categories FROM offers;\nALTER TABLE offers DROP COLUMN tags;', 2],
  ['copy into a temporary table', 'CREATE TEMP TABLE keep AS SELECT * FROM offers;\nDROP TABLE offers;', 2],
  ['copy into a table dropped later', 'CREATE TABLE keep AS SELECT * FROM offers;\nDROP TABLE offers;\nDROP TABLE keep;', 3],
  ['copy from another table', 'INSERT INTO archive SELECT * FROM sync_runs;\nDROP TABLE offers;', 2],
  ['drop schema', 'DROP SCHEMA legacy CASCADE', 1],
];

for (const [name, sql, line] of BAD) {
  test(`rejected: ${name}`, () => {
    const f = duck(sql);
    assert.deepEqual(rules(f), [`data-loss@${line}`], formatFindings(f));
  });
}

test('the finding names the file, the line and what to do instead', () => {
  const [f] = duck('\n\nALTER TABLE offers DROP COLUMN tags;');
  assert.equal(f.file, 'sample.sql');
  assert.equal(f.line, 3);
  assert.match(f.message, /drops column offers\.tags without first copying its column tags/);
  assert.match(f.message, /INSERT INTO new_table SELECT \.\.\. FROM offers/);
});

test('rejected ClickHouse data loss: DROP/CLEAR COLUMN, DROP PARTITION, DELETE mutations', () => {
  const sql = `ALTER TABLE {db}.clicks {on_cluster} DROP COLUMN IF EXISTS referrer;
ALTER TABLE {db}.clicks {on_cluster} CLEAR COLUMN IF EXISTS country;
ALTER TABLE {db}.clicks {on_cluster} DROP PARTITION 202401;
ALTER TABLE {db}.clicks {on_cluster} DELETE WHERE clicked_at < now() - INTERVAL 1 YEAR;
TRUNCATE TABLE IF EXISTS {db}.api_calls {on_cluster};`;
  assert.deepEqual(rules(ch(sql)), ['data-loss@1', 'data-loss@2', 'data-loss@3', 'data-loss@4', 'data-loss@5']);
});

// --------------------------------------------------------------------------------------------- good samples

const GOOD: Array<[string, string]> = [
  ['additive changes', 'ALTER TABLE offers ADD COLUMN rank DOUBLE;\nCREATE INDEX offers_network ON offers (network);\nALTER TABLE offers ALTER COLUMN rank DROP DEFAULT;'],
  ['copy then drop the table', 'CREATE TABLE offers_v2 AS SELECT * FROM offers;\nDROP TABLE offers;\nALTER TABLE offers_v2 RENAME TO offers;'],
  ['insert-select then drop', 'CREATE TABLE offers_v2 (id VARCHAR, title VARCHAR);\nINSERT INTO offers_v2 (id, title) SELECT id, title FROM offers;\nDROP TABLE offers;'],
  ['copy the column then drop it', 'CREATE TABLE offer_tags AS SELECT id, tags FROM offers;\nALTER TABLE offers DROP COLUMN tags;'],
  ['quoted and qualified names', 'CREATE TABLE "Offer_Tags" AS SELECT o.id, o."tags" FROM main."offers" o;\nALTER TABLE main.offers DROP COLUMN "tags";'],
  ['FROM-first copy', 'CREATE TABLE offers_copy AS FROM offers;\nTRUNCATE offers;'],
  ['replace a table from itself', 'CREATE OR REPLACE TABLE offers AS SELECT *, 0 AS rank FROM offers;'],
  ['drop a non-data object', 'DROP INDEX offers_network;\nDROP SEQUENCE old_seq;\nDROP VIEW v;\nALTER TABLE offers DROP CONSTRAINT c;'],
  ['words inside strings and comments', "-- DROP TABLE offers\nINSERT INTO notes VALUES ('TRUNCATE offers');"],
];

for (const [name, sql] of GOOD) {
  test(`accepted: ${name}`, () => {
    const f = duck(sql);
    assert.deepEqual(f, [], formatFindings(f));
  });
}

test('accepted ClickHouse copy-then-drop written for re-runs and clusters', () => {
  const sql = `CREATE TABLE IF NOT EXISTS {db}.clicks_v2 {on_cluster} (click_id String) ENGINE = {engine:MergeTree} ORDER BY click_id;
INSERT INTO {db}.clicks_v2 SELECT click_id FROM {db}.clicks;
DROP TABLE IF EXISTS {db}.clicks {on_cluster} SYNC;`;
  assert.deepEqual(ch(sql), []);
});

// ------------------------------------------------------------------------------------ ClickHouse hygiene

test('ClickHouse statements must survive a re-run and target the cluster through the placeholders', () => {
  const sql = `CREATE TABLE {db}.a {on_cluster} (x UInt8) ENGINE = {engine:MergeTree} ORDER BY x;
ALTER TABLE {db}.a {on_cluster} ADD COLUMN y UInt8;
CREATE TABLE IF NOT EXISTS offerfeed.b (x UInt8) ENGINE = MergeTree ORDER BY x;
RENAME TABLE {db}.a TO {db}.c {on_cluster};`;
  assert.deepEqual(rules(ch(sql)), [
    'clickhouse-idempotent@1',
    'clickhouse-idempotent@2',
    'clickhouse-cluster@3', 'clickhouse-cluster@3', 'clickhouse-cluster@3',
    'clickhouse-idempotent@4',
  ]);
});
