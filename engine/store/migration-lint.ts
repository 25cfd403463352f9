// Static checks on migration files, run by the migration runner before it applies anything and by the test
// suite over migrations/**: no migration may destroy data it has not first copied elsewhere ("nothing ever
// lost"), and ClickHouse migrations must be safe to re-run and able to target a cluster.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export type StoreName = 'duckdb' | 'clickhouse';

export interface SqlStatement {
  /** The statement as written, without its terminating semicolon. */
  text: string;
  /** Comments removed, string literal contents emptied, whitespace collapsed: safe to pattern-match. */
  masked: string;
  /** 1-based line of the statement's first token in the file. */
  line: number;
}

export interface LintFinding {
  file: string;
  line: number;
  rule: 'data-loss' | 'clickhouse-idempotent' | 'clickhouse-cluster';
  message: string;
  statement: string;
}

/**
 * Splits a SQL script on top-level semicolons. Knows '…' strings (with '' escapes, and backslash escapes in
 * ClickHouse), "…" and `…` identifiers, $tag$…$tag$ blocks, -- and block comments, so a semicolon or a
 * keyword inside any of them neither splits nor matches.
 */
export function splitSql(sql: string, store: StoreName = 'duckdb'): SqlStatement[] {
  const out: SqlStatement[] = [];
  let text = '';
  let masked = '';
  let line = 1;
  let startLine = 0;
  const flush = () => {
    const m = masked.replace(/\s+/g, ' ').trim();
    if (m) out.push({ text: text.trim(), masked: m, line: startLine });
    text = '';
    masked = '';
    startLine = 0;
  };
  const mark = () => { if (!startLine) startLine = line; };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      text += sql.slice(i, stop);
      masked += ' ';
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      const chunk = sql.slice(i, stop);
      text += chunk;
      masked += ' ';
      line += countLines(chunk);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      mark();
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\' && c === "'" && store === 'clickhouse') { j += 2; continue; }
        if (sql[j] === c) {
          if (sql[j + 1] === c) { j += 2; continue; }
          break;
        }
        j++;
      }
      const chunk = sql.slice(i, j + 1);
      text += chunk;
      // Identifiers stay (rules match table names); literal contents go (they are data, not SQL).
      masked += c === "'" ? "''" : chunk.replace(/\s+/g, ' ');
      line += countLines(chunk);
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        mark();
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? sql.length : end + tag[0].length;
        const chunk = sql.slice(i, stop);
        text += chunk;
        masked += "''";
        line += countLines(chunk);
        i = stop;
        continue;
      }
    }
    if (c === ';') {
      flush();
      i++;
      continue;
    }
    if (c === '\n') line++;
    else if (!/\s/.test(c)) mark();
    text += c;
    masked += c;
    i++;
  }
  flush();
  return out;
}

const countLines = (s: string) => {
  let n = 0;
  for (const ch of s) if (ch === '\n') n++;
  return n;
};

// A possibly qualified, possibly quoted name; {db} is the ClickHouse runner's database placeholder.
const PART = String.raw`(?:"(?:[^"]|"")*"|\x60[^\x60]*\x60|\{db\}|[\w$]+)`;
const IDENT = String.raw`${PART}(?:\s*\.\s*${PART})*`;

/** The unqualified, unquoted, lower-cased name: how tables are compared across statements. */
export function baseName(ident: string): string {
  const parts = ident.match(new RegExp(PART, 'g')) ?? [ident];
  const last = parts[parts.length - 1].trim();
  if (last.startsWith('"')) return last.slice(1, -1).replace(/""/g, '"').toLowerCase();
  if (last.startsWith('`')) return last.slice(1, -1).toLowerCase();
  return last.toLowerCase();
}

interface Copy { index: number; target: string; sources: Set<string>; text: string }
interface Loss { index: number; table: string; column?: string; what: string; selfCopy?: boolean }

/** Statements that put rows of some table into another durable table. */
function copyOf(st: SqlStatement, index: number): Copy | undefined {
  const m = st.masked;
  let target: string | undefined;
  const insert = new RegExp(String.raw`^INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(?:TABLE\s+)?(${IDENT})`, 'i').exec(m);
  if (insert) target = baseName(insert[1]);
  const create = new RegExp(
    String.raw`^(?:CREATE\s+(?:OR\s+REPLACE\s+)?|REPLACE\s+)(TEMP\s+|TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(${IDENT})(.*)$`, 'i',
  ).exec(m);
  if (create) {
    // A temporary or in-memory table is gone when the session or server ends: not a copy.
    if (create[1] || /\bENGINE\s*=\s*(?:Memory|Null|Set|Join|Buffer)\b/i.test(create[3])) return undefined;
    if (!/\bAS\s*\(?\s*(?:SELECT|FROM|WITH)\b/i.test(create[3])) return undefined;
    target = baseName(create[2]);
  }
  if (!target) return undefined;
  const sources = new Set<string>();
  for (const s of m.matchAll(new RegExp(String.raw`\b(?:FROM|JOIN)\s+(${IDENT})`, 'gi'))) {
    const name = baseName(s[1]);
    if (!['select', 'values', '(', 'read_parquet', 'read_csv'].includes(name)) sources.add(name);
  }
  return sources.size ? { index, target, sources, text: m } : undefined;
}

/** What a statement destroys: whole tables, rows, or columns. */
function lossesOf(st: SqlStatement, index: number): Loss[] {
  const m = st.masked;
  const out: Loss[] = [];
  let r: RegExpExecArray | null;
  if ((r = new RegExp(String.raw`^DROP\s+(DATABASE|SCHEMA)\b(?:\s+IF\s+EXISTS)?\s+(${IDENT})`, 'i').exec(m))) {
    out.push({ index, table: `${r[1].toLowerCase()} ${baseName(r[2])}`, what: `drops the whole ${r[1].toLowerCase()} ${baseName(r[2])}` });
    return out;
  }
  if ((r = new RegExp(String.raw`^DROP\s+TABLE\b(?:\s+IF\s+EXISTS)?\s+(${IDENT}(?:\s*,\s*${IDENT})*)`, 'i').exec(m))) {
    for (const t of r[1].match(new RegExp(IDENT, 'g')) ?? []) out.push({ index, table: baseName(t), what: `drops table ${baseName(t)}` });
    return out;
  }
  if ((r = new RegExp(String.raw`^TRUNCATE\s+(?:TABLE\s+)?(?:IF\s+EXISTS\s+)?(${IDENT})`, 'i').exec(m))) {
    out.push({ index, table: baseName(r[1]), what: `truncates table ${baseName(r[1])}` });
    return out;
  }
  if ((r = new RegExp(String.raw`^DELETE\s+FROM\s+(${IDENT})`, 'i').exec(m))) {
    out.push({ index, table: baseName(r[1]), what: `deletes rows of ${baseName(r[1])}` });
    return out;
  }
  if ((r = new RegExp(String.raw`^(?:CREATE\s+OR\s+REPLACE|REPLACE)\s+TABLE\s+(${IDENT})(.*)$`, 'i').exec(m))) {
    const table = baseName(r[1]);
    const self = [...r[2].matchAll(new RegExp(String.raw`\b(?:FROM|JOIN)\s+(${IDENT})`, 'gi'))].some((s) => baseName(s[1]) === table);
    out.push({ index, table, what: `replaces table ${table}`, selfCopy: self });
    return out;
  }
  if ((r = new RegExp(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(${IDENT})(.*)$`, 'i').exec(m))) {
    const table = baseName(r[1]);
    const actions = r[2];
    const NOT_DATA = new Set(['index', 'constraint', 'projection', 'default', 'not', 'statistics', 'ttl', 'primary', 'foreign', 'check', 'unique']);
    for (const d of actions.matchAll(new RegExp(String.raw`\bDROP\s+(?:(COLUMN)\s+)?(?:IF\s+EXISTS\s+)?(${IDENT})`, 'gi'))) {
      const word = baseName(d[2]);
      if (!d[1] && NOT_DATA.has(word)) continue;
      if (!d[1] && ['partition', 'part', 'detached'].includes(word)) {
        out.push({ index, table, what: `drops a partition of ${table}` });
        continue;
      }
      out.push({ index, table, column: word, what: `drops column ${table}.${word}` });
    }
    for (const d of actions.matchAll(new RegExp(String.raw`\bCLEAR\s+COLUMN\s+(?:IF\s+EXISTS\s+)?(${IDENT})`, 'gi'))) {
      out.push({ index, table, column: baseName(d[1]), what: `clears column ${table}.${baseName(d[1])}` });
    }
    if (/\bDELETE\s+(?:IN\s+PARTITION\s+\S+\s+)?WHERE\b/i.test(actions)) out.push({ index, table, what: `deletes rows of ${table}` });
  }
  return out;
}

function copied(loss: Loss, copies: Copy[]): boolean {
  if (loss.selfCopy) return true;
  return copies.some((c) => {
    if (c.index >= loss.index || c.target === loss.table || !c.sources.has(loss.table)) return false;
    if (!loss.column) return true;
    // The copy must carry the column: named in its query, or everything selected.
    const at = c.text.search(/\b(?:SELECT|FROM)\b/i);
    const query = at === -1 ? c.text : c.text.slice(at);
    return new RegExp(String.raw`(^|[^\w$])"?${escapeRe(loss.column)}"?([^\w$]|$)`, 'i').test(query) || /(?:SELECT|,|\.)\s*\*/i.test(query) || /^FROM\b/i.test(query);
  });
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** All findings for one migration file's text. */
export function lintMigration(sql: string, file: string, store: StoreName): LintFinding[] {
  const statements = splitSql(sql, store);
  const findings: LintFinding[] = [];
  const copies = statements.map((s, i) => copyOf(s, i)).filter((c): c is Copy => !!c);
  const add = (st: SqlStatement, rule: LintFinding['rule'], message: string) =>
    findings.push({ file, line: st.line, rule, message, statement: st.masked.length > 160 ? `${st.masked.slice(0, 157)}...` : st.masked });

  statements.forEach((st, i) => {
    for (const loss of lossesOf(st, i)) {
      if (loss.table.startsWith('database ') || loss.table.startsWith('schema ')) {
        add(st, 'data-loss', `${loss.what}: migrations never drop a database or schema`);
      } else if (!copied(loss, copies)) {
        const into = loss.column ? `its column ${loss.column}` : 'its rows';
        add(st, 'data-loss', `${loss.what} without first copying ${into} elsewhere in the same migration ` +
          `(INSERT INTO new_table SELECT ... FROM ${loss.table}, or CREATE TABLE new_table AS SELECT ... FROM ${loss.table})`);
      }
    }
    if (store === 'clickhouse') lintClickHouse(st, add);
  });
  return findings;
}

function lintClickHouse(st: SqlStatement, add: (st: SqlStatement, rule: LintFinding['rule'], message: string) => void): void {
  const m = st.masked;
  const head = /^(CREATE|ALTER|DROP|TRUNCATE|RENAME|EXCHANGE|INSERT|OPTIMIZE)\b/i.exec(m)?.[1].toUpperCase();
  if (!head) return;
  // Idempotence: an interrupted migration is re-run from its first statement.
  if (head === 'CREATE' && !/^CREATE\s+OR\s+REPLACE\b/i.test(m) && !/^CREATE\s+(?:\w+\s+)*?(?:TABLE|VIEW|DATABASE|DICTIONARY|FUNCTION)\s+IF\s+NOT\s+EXISTS\b/i.test(m)) {
    add(st, 'clickhouse-idempotent', 'CREATE without IF NOT EXISTS fails when an interrupted migration is re-run');
  }
  if (head === 'DROP' && !/^DROP\s+\w+\s+IF\s+EXISTS\b/i.test(m)) {
    add(st, 'clickhouse-idempotent', 'DROP without IF EXISTS fails when an interrupted migration is re-run');
  }
  if (head === 'ALTER') {
    for (const a of m.matchAll(/\b(ADD|DROP|RENAME|MATERIALIZE|CLEAR)\s+(COLUMN|INDEX|PROJECTION|CONSTRAINT)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?/gi)) {
      if (!a[3] && a[1].toUpperCase() !== 'MATERIALIZE') {
        add(st, 'clickhouse-idempotent', `${a[1].toUpperCase()} ${a[2].toUpperCase()} without IF ${a[1].toUpperCase() === 'ADD' ? 'NOT ' : ''}EXISTS fails when an interrupted migration is re-run`);
      }
    }
  }
  if (head === 'RENAME' || head === 'EXCHANGE') {
    add(st, 'clickhouse-idempotent', `${head} cannot be re-run safely after an interruption (it fails or undoes itself); create the new table and copy instead`);
  }
  // Cluster mode: the runner fills {db}, {on_cluster} and {engine:...}; literal names would bypass it.
  if (head !== 'INSERT' && head !== 'OPTIMIZE' && !m.includes('{on_cluster}')) {
    add(st, 'clickhouse-cluster', `${head} without {on_cluster}: in cluster mode it would change one server only`);
  }
  const target = new RegExp(String.raw`^(?:CREATE|ALTER|DROP|TRUNCATE|INSERT|OPTIMIZE)\b.*?\b(?:TABLE|VIEW|DICTIONARY|INTO)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(${IDENT})`, 'i').exec(m);
  if (target && !/^\{db\}\s*\./.test(target[1])) {
    add(st, 'clickhouse-cluster', `${target[1]} is not qualified with {db}.: the runner targets the configured database through it`);
  }
  if (/\bENGINE\s*=\s*(?:Replicated)?\w*MergeTree\b/i.test(m)) {
    add(st, 'clickhouse-cluster', 'MergeTree engine written literally: use {engine:MergeTree} (or {engine:ReplacingMergeTree(ver)} …) so cluster mode replicates it');
  }
}

export interface MigrationFileRef { store: StoreName; path: string }

/** Every migrations/<store>/*.sql under dir. */
export function migrationFiles(dir: string): MigrationFileRef[] {
  const out: MigrationFileRef[] = [];
  for (const store of ['duckdb', 'clickhouse'] as const) {
    const sub = join(dir, store);
    let names: string[];
    try { names = readdirSync(sub); } catch { continue; }
    for (const n of names.sort()) if (n.endsWith('.sql') && statSync(join(sub, n)).isFile()) out.push({ store, path: join(sub, n) });
  }
  return out;
}

export function lintMigrationsDir(dir: string): LintFinding[] {
  return migrationFiles(dir).flatMap((f) => lintMigration(readFileSync(f.path, 'utf8'), relative(dir, f.path), f.store));
}

export function formatFindings(findings: LintFinding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: [${f.rule}] ${f.message}\n    ${f.statement}`).join('\n');
}
