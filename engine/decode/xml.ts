/**
 * XML documents and streamed XML records.
 *
 * Safety: documents that declare entities in a DOCTYPE are rejected outright (billion-laughs expansion,
 * external entities); nothing is ever fetched. Text and attribute values get the five predefined
 * entities and numeric character references decoded, nothing more. Values stay strings so ids like
 * "00123" survive.
 *
 * Streaming (`record_tag`): a small lexer walks the text, skipping comments, CDATA, processing
 * instructions and quoted attribute values, and cuts out each <record_tag …>…</record_tag> element (same-name
 * nesting counted). The cut elements are parsed a batch at a time, so memory holds one batch, not the feed.
 */
import { XMLParser, XMLValidator, type X2jOptions } from 'fast-xml-parser';
import { decodeXML } from 'entities';
import { BATCH_SIZE, MAX_RECORD_CHARS, collectText, isBlank, isPlainObject, lineColumn, type Rec } from './common.ts';
import { DecodeError, type DecodePosition } from './errors.ts';

export interface XmlSpec {
  arrays?: string[];
  record_tag?: string;
  attribute_prefix?: string;
  text_key?: string;
}

/** Synthetic root wrapped around a batch of records so the batch parses in one call. */
const WRAP = 'offerfeed-record-batch';

const ENTITY_DECL_MESSAGE =
  'document declares entities in its DOCTYPE; refused to guard against entity expansion and external entities';

/** Entity handling for fast-xml-parser: predefined + numeric references only, declared entities are an error. */
const safeEntityDecoder = {
  setExternalEntities(): void {},
  addInputEntities(entities: Record<string, string>): void {
    if (Object.keys(entities).length > 0) throw new DecodeError('xml', ENTITY_DECL_MESSAGE);
  },
  reset(): void {},
  decode: (text: string): string => (text.includes('&') ? decodeXML(text) : text),
  setXmlVersion(): void {},
};

function parserOptions(spec: XmlSpec, wrapped: boolean): X2jOptions {
  const names = new Set<string>();
  const paths = new Set<string>();
  // A plain name matches the tag anywhere; a dotted entry is a path (from the root, or from the record tag when streaming).
  for (const a of spec.arrays ?? []) (a.includes('.') ? paths : names).add(a);
  const recordPath = wrapped && spec.record_tag ? `${WRAP}.${spec.record_tag}` : undefined;
  const strip = wrapped ? WRAP.length + 1 : 0;
  return {
    ignoreAttributes: false,
    attributeNamePrefix: spec.attribute_prefix ?? '@_',
    textNodeName: spec.text_key ?? '#text',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    entityDecoder: safeEntityDecoder,
    htmlEntities: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    isArray: (name: string, jPath: unknown, _leaf: boolean, isAttribute: boolean): boolean => {
      if (isAttribute) return false;
      if (names.has(name)) return true;
      const path = String(jPath);
      if (path === recordPath) return true;
      return paths.size > 0 && paths.has(path.slice(strip));
    },
  };
}

// ---------------------------------------------------------------------------------------------- documents

export async function decodeXmlDocument(text: AsyncIterable<string>, spec: XmlSpec = {}): Promise<unknown> {
  const doc = await collectText(text, 'xml', 'whole; set xml.record_tag to stream it');
  if (isBlank(doc)) throw new DecodeError('xml', 'empty body, expected an XML document', { line: 1, column: 1 });
  assertNoEntityDeclarations(doc);
  const opts = parserOptions(spec, false);
  const valid = XMLValidator.validate(doc, { allowBooleanAttributes: false });
  if (valid !== true) {
    throw new DecodeError('xml', validatorMessage(valid.err.msg), { line: valid.err.line, column: valid.err.col });
  }
  try {
    return new XMLParser(opts).parse(doc);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError('xml', `cannot parse document (${(err as Error).message})`, undefined, { cause: err });
  }
}

/** Rejects entity declarations in the prolog (the only place a DOCTYPE may stand). */
function assertNoEntityDeclarations(doc: string): void {
  const root = firstElementStart(doc);
  const prolog = root === -1 ? doc : doc.slice(0, root);
  const dt = prolog.indexOf('<!DOCTYPE');
  if (dt === -1) return;
  const decl = prolog.indexOf('<!ENTITY', dt);
  if (decl !== -1) throw new DecodeError('xml', ENTITY_DECL_MESSAGE, lineColumn(doc, decl));
}

function firstElementStart(s: string): number {
  let i = s.indexOf('<');
  while (i !== -1) {
    const c = s.charCodeAt(i + 1);
    if (isNameStart(c)) return i;
    i = s.indexOf('<', i + 1);
  }
  return -1;
}

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58 || c > 127;
}

function validatorMessage(msg: string): string {
  // fast-xml-parser messages name tags and attributes, not values; keep them but drop a trailing period.
  return msg.replace(/\.$/, '');
}

// ---------------------------------------------------------------------------------------------- streaming

export interface RawRecord {
  text: string;
  /** Line and column of the record's '<' in the whole document. */
  line: number;
  column: number;
  /** 1-based ordinal of the record in the document. */
  index: number;
}

/**
 * Incremental splitter: push text chunks, collect complete record elements. Also checks the skeleton
 * around the records (tags outside records must nest and close), so a body cut between two records is
 * detected as truncated instead of silently yielding fewer records.
 *
 * Work stays linear in the input even for huge records or CDATA sections: scanned text of an open
 * record moves to `recParts`, and an unfinished comment/CDATA/PI is remembered as a mode, so only a few
 * trailing characters are ever looked at twice.
 */
export class XmlRecordSplitter {
  /** Unscanned text, plus the start of an unfinished tag or the tail of an unfinished comment/CDATA/PI. */
  private buf = '';
  /** Unfinished comment, CDATA section or processing instruction whose terminator is still awaited. */
  private mode: Pending | undefined;
  private inRecord = false;
  /** Index in `buf` where the open record's text continues (0 once earlier text moved to recParts). */
  private recStart = 0;
  private recParts: string[] = [];
  private recChars = 0;
  private depth = 0;
  private readonly stack: string[] = [];
  private rootSeen = false;
  private rootClosed = false;
  private count = 0;
  private recLine = 0;
  private recColumn = 0;
  // Newlines in `buf` are counted lazily up to lineIdx; lineStart goes negative once `buf` is cut.
  private lineNo = 1;
  private lineIdx = 0;
  private lineStart = 0;

  constructor(private readonly tag: string) {
    checkRecordTag(tag);
  }

  push(chunk: string, out: RawRecord[]): void {
    this.buf = this.buf.length > 0 ? this.buf + chunk : chunk;
    this.cut(this.scan(out, false));
  }

  end(out: RawRecord[]): void {
    this.scan(out, true);
    if (this.inRecord) {
      throw new DecodeError('xml', `unexpected end of input inside <${this.tag}> record (truncated body?)`, {
        line: this.recLine,
        column: this.recColumn,
        record: this.count + 1,
      });
    }
    if (this.stack.length > 0) {
      throw new DecodeError('xml', `unexpected end of input: <${this.stack[this.stack.length - 1]}> is not closed (truncated body?)`, this.at(this.buf.length));
    }
    if (!this.rootSeen) throw new DecodeError('xml', 'no root element found', { line: this.lineNo });
  }

  /** Scans `buf` and returns the index from which it must be kept. */
  private scan(out: RawRecord[], final: boolean): number {
    const b = this.buf;
    const n = b.length;
    const tag = this.tag;
    let i = 0;
    if (this.mode) {
      const end = b.indexOf(this.mode.terminator, 0);
      if (end === -1) {
        if (final) throw new DecodeError('xml', `unexpected end of input inside ${this.mode.what}${this.where()} (truncated body?)`, this.mode.position);
        // Keep just enough to recognise a terminator split across chunks.
        return Math.max(0, n - this.mode.terminator.length + 1);
      }
      i = end + this.mode.terminator.length;
      this.mode = undefined;
    }
    for (;;) {
      const lt = b.indexOf('<', i);
      if (lt === -1) return n;
      if (lt + 1 >= n) {
        if (final) throw new DecodeError('xml', 'unexpected end of input after "<"', this.at(lt, true));
        return lt;
      }
      const c1 = b.charCodeAt(lt + 1);
      if (c1 === 33 /* ! */) {
        if (b.startsWith('<!--', lt)) {
          const end = b.indexOf('-->', lt + 4);
          if (end === -1) return this.suspend(lt, lt + 4, '-->', 'a comment', final);
          i = end + 3;
        } else if (b.startsWith('<![CDATA[', lt)) {
          const end = b.indexOf(']]>', lt + 9);
          if (end === -1) return this.suspend(lt, lt + 9, ']]>', 'a CDATA section', final);
          i = end + 3;
        } else if (b.startsWith('<!DOCTYPE', lt)) {
          const end = doctypeEnd(b, lt + 9);
          if (end === -1) return this.wait(lt, 'the DOCTYPE', final);
          if (this.rootSeen) throw new DecodeError('xml', 'DOCTYPE after the root element', this.at(lt, true));
          const decl = b.indexOf('<!ENTITY', lt);
          if (decl !== -1 && decl < end) throw new DecodeError('xml', ENTITY_DECL_MESSAGE, this.at(decl, true));
          i = end;
        } else if (n - lt < 9 && MARKUP_OPENERS.some((m) => m.startsWith(b.slice(lt)))) {
          return this.wait(lt, 'markup', final); // the chunk ended inside "<!--", "<![CDATA[" or "<!DOCTYPE"
        } else {
          throw new DecodeError('xml', 'unexpected markup "<!"', this.at(lt, true));
        }
      } else if (c1 === 63 /* ? */) {
        const end = b.indexOf('?>', lt + 2);
        if (end === -1) return this.suspend(lt, lt + 2, '?>', 'a processing instruction', final);
        i = end + 2;
      } else if (c1 === 47 /* / */) {
        const end = b.indexOf('>', lt + 2);
        if (end === -1) return this.wait(lt, 'a closing tag', final);
        const name = b.slice(lt + 2, end).trim();
        i = end + 1;
        if (this.inRecord) {
          if (name === tag && --this.depth === 0) this.emit(i, out);
        } else {
          const open = this.stack.pop();
          if (open === undefined) throw new DecodeError('xml', `closing tag </${name}> without an open element`, this.at(lt, true));
          if (open !== name) throw new DecodeError('xml', `expected closing tag </${open}>, found </${name}>`, this.at(lt, true));
          if (this.stack.length === 0) this.rootClosed = true;
        }
      } else {
        const end = startTagEnd(b, lt + 1);
        if (end === -1) return this.wait(lt, 'a start tag', final);
        let nameEnd = lt + 1;
        while (nameEnd < end) {
          const c = b.charCodeAt(nameEnd);
          if (c === 32 || c === 9 || c === 10 || c === 13 || c === 47 || c === 62) break;
          nameEnd++;
        }
        const name = b.slice(lt + 1, nameEnd);
        if (name === '' || !isNameStart(name.charCodeAt(0))) throw new DecodeError('xml', 'invalid start tag', this.at(lt, true));
        const selfClosing = b.charCodeAt(end - 1) === 47;
        i = end + 1;
        if (this.inRecord) {
          if (name === tag && !selfClosing) this.depth++;
          continue;
        }
        if (this.rootClosed) throw new DecodeError('xml', `element <${name}> after the root element closed`, this.at(lt, true));
        this.rootSeen = true;
        if (name === tag) {
          this.countLines(lt);
          this.recLine = this.lineNo;
          this.recColumn = lt - this.lineStart + 1;
          this.inRecord = true;
          this.recStart = lt;
          this.depth = 1;
          if (selfClosing) this.emit(i, out);
        } else if (!selfClosing) {
          this.stack.push(name);
        } else if (this.stack.length === 0) {
          this.rootClosed = true;
        }
      }
    }
  }

  /** An unfinished comment/CDATA/PI: remember it and keep only a possible partial terminator. */
  private suspend(lt: number, bodyStart: number, terminator: string, what: string, final: boolean): number {
    const position = this.at(lt, true);
    if (final) throw new DecodeError('xml', `unexpected end of input inside ${what}${this.where()} (truncated body?)`, position);
    this.mode = { terminator, what, position };
    return Math.max(bodyStart, this.buf.length - terminator.length + 1);
  }

  /** An unfinished tag: keep it from its '<' and rescan when more text arrives (tags are short). */
  private wait(lt: number, what: string, final: boolean): number {
    if (final) throw new DecodeError('xml', `unexpected end of input inside ${what}${this.where()} (truncated body?)`, this.at(lt, true));
    if (this.buf.length - lt > MAX_RECORD_CHARS) throw new DecodeError('xml', `${what} longer than ${MAX_RECORD_CHARS} characters`, this.at(lt, true));
    return lt;
  }

  private where(): string {
    return this.inRecord ? ` in <${this.tag}> record` : '';
  }

  private emit(end: number, out: RawRecord[]): void {
    this.count++;
    const tail = this.buf.slice(this.recStart, end);
    const text = this.recParts.length > 0 ? this.recParts.join('') + tail : tail;
    out.push({ text, line: this.recLine, column: this.recColumn, index: this.count });
    this.inRecord = false;
    this.recParts = [];
    this.recChars = 0;
    this.depth = 0;
    if (this.stack.length === 0) this.rootClosed = true; // the record was the root element itself
  }

  private countLines(to: number): void {
    const b = this.buf;
    let nl = b.indexOf('\n', this.lineIdx);
    while (nl !== -1 && nl < to) {
      this.lineNo++;
      this.lineStart = nl + 1;
      nl = b.indexOf('\n', nl + 1);
    }
    if (to > this.lineIdx) this.lineIdx = to;
  }

  private at(idx: number, inRecord = false): DecodePosition {
    this.countLines(idx);
    const p: DecodePosition = { line: this.lineNo, column: idx - this.lineStart + 1 };
    if (inRecord && this.inRecord) p.record = this.count + 1;
    return p;
  }

  /** Drops scanned text before `keep`, moving an open record's share of it to recParts. */
  private cut(keep: number): void {
    if (keep <= 0) return;
    this.countLines(keep);
    if (this.inRecord) {
      this.recParts.push(this.buf.slice(this.recStart, keep));
      this.recChars += keep - this.recStart;
      this.recStart = 0;
      if (this.recChars > MAX_RECORD_CHARS) {
        throw new DecodeError('xml', `<${this.tag}> record longer than ${MAX_RECORD_CHARS} characters`, {
          line: this.recLine,
          column: this.recColumn,
          record: this.count + 1,
        });
      }
    }
    this.buf = keep >= this.buf.length ? '' : this.buf.slice(keep);
    this.lineIdx -= keep;
    this.lineStart -= keep;
  }
}

const MARKUP_OPENERS = ['<!--', '<![CDATA[', '<!DOCTYPE'];

interface Pending {
  terminator: string;
  what: string;
  position: DecodePosition;
}

export function checkRecordTag(tag: string): void {
  if (!/^[^\s<>/"'=!?&]+$/.test(tag) || !isNameStart(tag.charCodeAt(0))) {
    throw new DecodeError('xml', `record_tag ${JSON.stringify(tag)} is not a valid element name`);
  }
}

/** Index of the '>' closing a start tag, ignoring '>' inside quoted attribute values; -1 if incomplete. */
function startTagEnd(b: string, from: number): number {
  let quote = 0;
  for (let i = from; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) {
      quote = c;
    } else if (c === 62) {
      return i;
    }
  }
  return -1;
}

/** Index just past the '>' ending a DOCTYPE declaration (internal subset and quoted literals skipped); -1 if incomplete. */
function doctypeEnd(b: string, from: number): number {
  let quote = 0;
  let bracket = 0;
  for (let i = from; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) {
      quote = c;
    } else if (c === 91) {
      bracket++;
    } else if (c === 93) {
      bracket--;
    } else if (c === 62 && bracket <= 0) {
      return i + 1;
    }
  }
  return -1;
}

export class XmlRecordParser {
  private readonly parser: XMLParser;
  private readonly textKey: string;

  constructor(private readonly spec: XmlSpec & { record_tag: string }) {
    this.parser = new XMLParser(parserOptions(spec, true));
    this.textKey = spec.text_key ?? '#text';
  }

  parse(records: RawRecord[]): Rec[] {
    if (records.length === 0) return [];
    const joined = `<${WRAP}>${records.map((r) => r.text).join('')}</${WRAP}>`;
    if (XMLValidator.validate(joined, { allowBooleanAttributes: false }) !== true) throw this.locate(records);
    let parsed: unknown;
    try {
      parsed = this.parser.parse(joined);
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError('xml', `cannot parse <${this.spec.record_tag}> records (${(err as Error).message})`, { record: records[0].index }, { cause: err });
    }
    const root = (parsed as Record<string, unknown>)[WRAP];
    const values = isPlainObject(root) ? root[this.spec.record_tag] : undefined;
    if (!Array.isArray(values) || values.length !== records.length) {
      throw new DecodeError('xml', `parsed ${Array.isArray(values) ? values.length : 0} <${this.spec.record_tag}> records, expected ${records.length}`, { record: records[0].index });
    }
    return values.map((v) => (isPlainObject(v) ? v : v === '' || v === undefined ? {} : { [this.textKey]: v }));
  }

  /** Validates records one by one to report the first bad one with its position in the whole document. */
  private locate(records: RawRecord[]): DecodeError {
    for (const r of records) {
      const v = XMLValidator.validate(r.text, { allowBooleanAttributes: false });
      if (v !== true) {
        const line = r.line + v.err.line - 1;
        const column = v.err.line === 1 ? r.column + v.err.col - 1 : v.err.col;
        return new DecodeError('xml', validatorMessage(v.err.msg), { line, column, record: r.index });
      }
    }
    return new DecodeError('xml', `malformed <${this.spec.record_tag}> records`, { record: records[0].index });
  }
}

export async function* xmlRecordBatches(
  text: AsyncIterable<string>,
  spec: XmlSpec & { record_tag: string },
  batchSize = BATCH_SIZE,
): AsyncGenerator<Rec[]> {
  const splitter = new XmlRecordSplitter(spec.record_tag);
  const parser = new XmlRecordParser(spec);
  let pending: RawRecord[] = [];
  for await (const chunk of text) {
    splitter.push(chunk, pending);
    while (pending.length >= batchSize) {
      const take = pending.slice(0, batchSize);
      pending = pending.slice(batchSize);
      yield parser.parse(take);
    }
  }
  // end() throws on a truncated body before the last partial batch is handed out.
  splitter.end(pending);
  while (pending.length > 0) {
    const take = pending.slice(0, batchSize);
    pending = pending.slice(batchSize);
    yield parser.parse(take);
  }
}
