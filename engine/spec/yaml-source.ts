// YAML parsing that keeps source positions, so every spec error can name file, line and column.
import { Lexer, LineCounter, parseDocument, isMap, isPair, isSeq, isScalar, type Document, type Node } from 'yaml';

/** Deepest nesting of mappings and sequences a spec may have (the shipped ones nest 7 levels). The YAML
 *  composer recurses per level and runs out of stack near a thousand, so deeper text is refused first. */
export const MAX_SPEC_NESTING = 64;

export interface SourcePos { file: string; line: number; column: number }

export class SpecError extends Error {
  constructor(readonly file: string, readonly line: number, readonly column: number, readonly detail: string) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.name = 'SpecError';
  }
}

export class YamlSource {
  readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(readonly file: string, readonly text: string) {
    this.lines = new LineCounter();
    const flow = deepFlowAt(text);
    if (flow !== undefined) throw this.at(flow, `YAML nests deeper than ${MAX_SPEC_NESTING} levels`);
    // A small alias budget defuses "billion laughs" alias bombs.
    try {
      this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    } catch (e) {
      if (e instanceof RangeError) throw new SpecError(file, 1, 1, `YAML nests too deeply to be parsed (limit ${MAX_SPEC_NESTING} levels)`);
      throw e;
    }
    const err = this.doc.errors[0];
    if (err) {
      const pos = this.lines.linePos(err.pos[0]);
      // the parser reports running out of stack as a syntax error
      const detail = /call stack/i.test(err.message) ? `YAML nests too deeply to be parsed (limit ${MAX_SPEC_NESTING} levels)` : `YAML syntax error: ${err.message.split('\n')[0]}`;
      throw new SpecError(file, pos.line, pos.col, detail);
    }
    const deep = this.deepNode();
    if (deep !== undefined) throw this.at(deep, `YAML nests deeper than ${MAX_SPEC_NESTING} levels`);
  }

  /** An error at a character offset (the line counter is filled by the parser; this works before it). */
  private at(offset: number, detail: string): SpecError {
    const before = this.text.slice(0, offset);
    const line = before.split('\n').length;
    return new SpecError(this.file, line, offset - before.lastIndexOf('\n'), detail);
  }

  /** Offset of the first mapping or sequence nested deeper than MAX_SPEC_NESTING (block or flow). */
  private deepNode(): number | undefined {
    const stack: Array<[unknown, number]> = [[this.doc.contents, 1]];
    while (stack.length) {
      const [node, depth] = stack.pop()!;
      if (!isMap(node) && !isSeq(node)) continue;
      if (depth > MAX_SPEC_NESTING) return node.range?.[0] ?? 0;
      for (const item of node.items as unknown[]) {
        if (isPair(item)) { stack.push([item.key, depth + 1], [item.value, depth + 1]); } else stack.push([item, depth + 1]);
      }
    }
    return undefined;
  }

  toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new SpecError(this.file, 1, 1, (e as Error).message);
    }
  }

  /** The node at a JSON-pointer-like path (["streams", 0, "map"]); with `key`, the key node of the last segment. */
  node(path: Array<string | number>, key = false): Node | undefined {
    let cur: unknown = this.doc.contents;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(cur)) {
        const pair = cur.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) return cur as Node;
        if (key && i === path.length - 1) return pair.key as Node;
        cur = pair.value;
      } else if (isSeq(cur)) {
        const item = cur.items[Number(seg)];
        if (item === undefined) return cur as Node;
        cur = item;
      } else return cur as Node | undefined;
    }
    return cur as Node | undefined;
  }

  pos(path: Array<string | number>, key = false): SourcePos {
    const n = this.node(path, key);
    const offset = n?.range?.[0] ?? 0;
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, column: p.col };
  }

  /** Position of character `index` inside the string value at `path` (block scalars included). */
  posInString(path: Array<string | number>, index: number): SourcePos {
    const n = this.node(path);
    const base = this.pos(path);
    if (!n || !isScalar(n) || typeof n.value !== 'string') return base;
    const before = n.value.slice(0, index).split('\n');
    const lineInValue = before.length - 1;
    const colInLine = before[before.length - 1].length;
    if (n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED') {
      const firstContentLine = base.line + 1;
      const sourceLine = this.text.split('\n')[firstContentLine - 1 + lineInValue] ?? '';
      const indent = sourceLine.length - sourceLine.trimStart().length;
      return { file: this.file, line: firstContentLine + lineInValue, column: indent + colInLine + 1 };
    }
    const quoteOffset = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE' ? 1 : 0;
    return lineInValue === 0
      ? { file: this.file, line: base.line, column: base.column + quoteOffset + colInLine }
      : { file: this.file, line: base.line + lineInValue, column: colInLine + 1 };
  }

  error(path: Array<string | number>, detail: string, key = false): SpecError {
    const p = this.pos(path, key);
    return new SpecError(this.file, p.line, p.column, detail);
  }
}

/** Offset where flow collections ([ ] and { }) nest deeper than MAX_SPEC_NESTING; the lexer is iterative,
 *  so this runs on any input, and brackets inside quoted or block scalars are part of scalar tokens. */
function deepFlowAt(text: string): number | undefined {
  if (!/[[{]/.test(text)) return undefined;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > MAX_SPEC_NESTING) return offset;
    } else if ((token === ']' || token === '}') && depth > 0) depth--;
    // control characters mark document and scalar boundaries; they are not part of the text
    if (token.length > 1 || token.charCodeAt(0) >= 0x20 || token === '\n' || token === '\t' || token === '\r') offset += token.length;
  }
  return undefined;
}
