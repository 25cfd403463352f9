import { ParseStatus } from './status.ts';

// Compiled once; all anchored and free of nested quantifiers.
// 2025-01-02, 2025/01/02, 2025-01-02T10:00, 2025-01-02 10:00:00.123456+02:00, ...Z, ... UTC
const ISO = /^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;
// 06/30/2025 (US), 30.06.2025 (European), optional time with AM/PM and zone.
const NUMERIC_DMY = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp])?\.?(?:[Mm]\.?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;
const TOKEN_SPLIT = /[\s,]+/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(am|pm|a\.m\.|p\.m\.)?$/;
const DAY = /^(\d{1,2})(?:st|nd|rd|th|\.)?$/;
const OFFSET = /^(?:gmt|utc|ut)?([+-])(\d{1,2})(?::?(\d{2}))?$/;
const PARENS = /\([^()]*\)/g;

// Markers feeds use for "no date"; expiry 0 or 0000-00-00 must not turn into 1970 (an offer expired at once).
const NO_DATE = new Set(['0', 'null', 'none', 'nil', 'n/a', 'na', '-', 'never', 'unlimited', 'ongoing', 'no expiry', 'no expiration']);

const MONTHS = new Map<string, number>();
['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']
  .forEach((m, i) => { MONTHS.set(m, i + 1); MONTHS.set(m.slice(0, 3), i + 1); });
MONTHS.set('sept', 9);
const WEEKDAYS = new Set(['mon', 'tue', 'tues', 'wed', 'thu', 'thur', 'thurs', 'fri', 'sat', 'sun',
  'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']);
// RFC 2822 zones plus the few abbreviations that are unambiguous in practice (minutes east of UTC).
const ZONES = new Map<string, number>([
  ['z', 0], ['ut', 0], ['utc', 0], ['gmt', 0], ['wet', 0],
  ['est', -300], ['edt', -240], ['cst', -360], ['cdt', -300], ['mst', -420], ['mdt', -360], ['pst', -480], ['pdt', -420],
  ['akst', -540], ['akdt', -480], ['hst', -600], ['bst', 60], ['west', 60], ['cet', 60], ['cest', 120], ['eet', 120],
  ['eest', 180], ['msk', 180], ['jst', 540], ['kst', 540], ['aest', 600], ['aedt', 660], ['nzst', 720], ['nzdt', 780],
]);
const FILLER = new Set(['at', 'on', 'the', 'of']);

const MIN_YEAR = 1000, MAX_YEAR = 9999;

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function fractionMs(f: string | undefined): number {
  if (f === undefined) return 0;
  return Number((f + '00').slice(0, 3));
}

// Minutes east of UTC from "Z", "UTC", "+02", "+0200", "+02:00"; NaN when unknown.
function offsetMinutes(z: string | undefined): number {
  if (z === undefined) return 0;
  const named = ZONES.get(z.toLowerCase());
  if (named !== undefined) return named;
  const m = OFFSET.exec(z.toLowerCase());
  if (m === null) return NaN;
  const h = Number(m[2]), min = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 14 || min > 59) return NaN;
  return (m[1] === '-' ? -1 : 1) * (h * 60 + min);
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function build(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offset: number): string | undefined {
  if (!(y >= MIN_YEAR && y <= MAX_YEAR) || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (h > 23 || mi > 59 || s > 60 || Number.isNaN(offset)) return undefined;
  // A leap second is stored as the last second of its minute.
  if (s === 60) s = 59;
  // UTC input is formatted directly: Date#toISOString was a tenth of the whole normalizer's time.
  if (offset === 0) {
    return `${y}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}.${ms < 10 ? '00' + ms : ms < 100 ? '0' + ms : ms}Z`;
  }
  return fromEpochMs(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offset * 60000);
}

const MIN_MS = Date.UTC(MIN_YEAR, 0, 1), MAX_MS = Date.UTC(MAX_YEAR + 1, 0, 1);

function fromEpochMs(t: number): string | undefined {
  return t >= MIN_MS && t < MAX_MS ? new Date(t).toISOString() : undefined;
}

// Seconds below 1e11 (until year 5138), then milliseconds, microseconds, nanoseconds by magnitude.
function fromEpoch(n: number): string | undefined {
  const a = Math.abs(n);
  if (a < 1e11) return fromEpochMs(n * 1000);
  if (a < 1e14) return fromEpochMs(n);
  if (a < 1e17) return fromEpochMs(n / 1000);
  return fromEpochMs(n / 1e6);
}

function twoDigitYear(y: number): number {
  return y < 50 ? 2000 + y : 1900 + y;
}

function hour12(h: number, ampm: string | undefined): number {
  if (ampm === undefined) return h;
  if (h < 1 || h > 12) return 99;
  const pm = ampm[0] === 'p' || ampm[0] === 'P';
  return pm ? (h === 12 ? 12 : h + 12) : h === 12 ? 0 : h;
}

// Compact digits that are plainly a calendar date, not an epoch: 20250102 and 20250102103000.
function fromCompact(s: string): string | undefined {
  const y = Number(s.slice(0, 4)), mo = Number(s.slice(4, 6)), d = Number(s.slice(6, 8));
  if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (s.length === 8) return build(y, mo, d, 0, 0, 0, 0, 0);
  return build(y, mo, d, Number(s.slice(8, 10)), Number(s.slice(10, 12)), Number(s.slice(12, 14)), 0, 0);
}

// Month-name dates: RFC 2822 ("Tue, 03 Jun 2025 10:00:00 GMT"), "June 30, 2025", "30 June 2025 10:00 PM EST",
// "30-Jun-2025", JavaScript's Date#toString ("Tue Jun 03 2025 10:00:00 GMT+0200 (CEST)").
function fromText(s: string): string | undefined {
  const raw = s.replace(PARENS, ' ').trim().split(TOKEN_SPLIT);
  const tokens: string[] = [];
  for (const t of raw) {
    if (t === '') continue;
    const lower = t.toLowerCase();
    // "30-Jun-2025" splits into parts; a signed offset ("-0500", "GMT+02:00") stays whole.
    if (lower.indexOf('-') > 0 && !OFFSET.test(lower)) for (const p of lower.split('-')) { if (p !== '') tokens.push(p); }
    else tokens.push(lower);
  }
  let month = 0, year = -1, day = -1, h = 0, mi = 0, sec = 0, ms = 0, offset = 0;
  let ampm: string | undefined;
  let spareNumber = -1;
  for (let t of tokens) {
    if (t.endsWith('.') && t.length > 1 && !DAY.test(t)) t = t.slice(0, -1);
    const mon = MONTHS.get(t);
    if (mon !== undefined) { if (month !== 0) return undefined; month = mon; continue; }
    if (WEEKDAYS.has(t) || FILLER.has(t)) continue;
    if (t === 'am' || t === 'pm' || t === 'a.m.' || t === 'p.m.' || t === 'a.m' || t === 'p.m') { ampm = t; continue; }
    const time = TIME.exec(t);
    if (time !== null) {
      h = Number(time[1]); mi = Number(time[2]); sec = time[3] === undefined ? 0 : Number(time[3]);
      ms = fractionMs(time[4]);
      if (time[5] !== undefined) ampm = time[5];
      continue;
    }
    if (t.length === 4 && NUMBER.test(t)) { if (year !== -1) return undefined; year = Number(t); continue; }
    const dm = DAY.exec(t);
    if (dm !== null) {
      if (day === -1) day = Number(dm[1]);
      else if (spareNumber === -1) spareNumber = Number(dm[1]);
      else return undefined;
      continue;
    }
    const off = offsetMinutes(t);
    if (!Number.isNaN(off)) { offset = off; continue; }
    return undefined;
  }
  // RFC 2822 allows a two-digit year after the day ("03 Jun 25").
  if (year === -1 && spareNumber !== -1) { year = twoDigitYear(spareNumber); spareNumber = -1; }
  if (month === 0 || year === -1 || day === -1 || spareNumber !== -1) return undefined;
  return build(year, month, day, hour12(h, ampm), mi, sec, ms, offset);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Minutes east of UTC that the IANA zone `tz` has at the given local wall-clock time (DST included). */
export function zoneOffsetMinutes(tz: string, y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  let f = zoneFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    zoneFormats.set(tz, f);
  }
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  // Two rounds converge for every wall time except the skipped hour of a DST change.
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const p = Object.fromEntries(f.formatToParts(new Date(guess)).map((x) => [x.type, x.value]));
    const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
    guess = wall - (local - guess);
  }
  return Math.round((wall - guess) / 60000);
}

/** Shared parser: ISO string, Empty (a "no date" marker) or Invalid. `timeZone` (IANA) applies to zone-less input. */
export function toUtcIsoStatus(v: unknown, timeZone?: string): string | ParseStatus {
  if (v === null || v === undefined) return ParseStatus.Empty;
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isNaN(t) ? ParseStatus.Invalid : fromEpochMs(t) ?? ParseStatus.Invalid;
  }
  if (typeof v === 'number') {
    if (v === 0) return ParseStatus.Empty;
    return Number.isFinite(v) ? fromEpoch(v) ?? ParseStatus.Invalid : ParseStatus.Invalid;
  }
  if (typeof v !== 'string') return ParseStatus.Invalid;
  const s = v.trim();
  if (s === '' || s.startsWith('0000-00-00') || NO_DATE.has(s.toLowerCase())) return ParseStatus.Empty;
  let out: string | undefined;
  const c0 = s.charCodeAt(0);
  if (NUMBER.test(s)) {
    out = (s.length === 8 || s.length === 14) && (s.startsWith('19') || s.startsWith('20') || s.startsWith('21'))
      ? fromCompact(s) ?? fromEpoch(Number(s))
      : fromEpoch(Number(s));
  } else if (c0 >= 48 && c0 <= 57) {
    let m = ISO.exec(s);
    if (m !== null) {
      const [y, mo, d, h, mi, sec] = [Number(m[1]), Number(m[3]), Number(m[4]), m[5] === undefined ? 0 : Number(m[5]), m[6] === undefined ? 0 : Number(m[6]), m[7] === undefined ? 0 : Number(m[7])];
      const offset = m[9] === undefined && timeZone ? zoneOffsetMinutes(timeZone, y, mo, d, h, mi, sec) : offsetMinutes(m[9]);
      out = build(y, mo, d, h, mi, sec, fractionMs(m[8]), offset);
    } else if ((m = NUMERIC_DMY.exec(s)) !== null) {
      const a = Number(m[1]), b = Number(m[3]);
      // "/" and "-" read month first (US) unless the first number cannot be a month; "." reads day first.
      const dayFirst = m[2] === '.' ? b <= 12 || a > 12 : a > 12 && b <= 12;
      const year = m[4].length === 2 ? twoDigitYear(Number(m[4])) : Number(m[4]);
      const h = m[5] === undefined ? 0 : hour12(Number(m[5]), m[9]);
      const [mo, d, mi, sec] = [dayFirst ? b : a, dayFirst ? a : b, m[6] === undefined ? 0 : Number(m[6]), m[7] === undefined ? 0 : Number(m[7])];
      const offset = m[10] === undefined && timeZone ? zoneOffsetMinutes(timeZone, year, mo, d, h, mi, sec) : offsetMinutes(m[10]);
      out = build(year, mo, d, h, mi, sec, fractionMs(m[8]), offset);
    } else out = fromText(s);
  } else out = fromText(s);
  return out ?? ParseStatus.Invalid;
}

/**
 * ISO 8601 UTC ("2025-06-30T00:00:00.000Z") from a Date, epoch seconds/ms (number or numeric string), ISO with or
 * without zone (none = UTC), "2025-01-02 10:00:00", RFC 2822, month-name dates, "06/30/2025" (US, month first
 * unless impossible) and "30.06.2025" (day first). Undefined for "no date" markers (0, "0000-00-00") and garbage.
 */
export function toUtcIso(v: unknown, timeZone?: string): string | undefined {
  const r = toUtcIsoStatus(v, timeZone);
  return typeof r === 'string' ? r : undefined;
}
