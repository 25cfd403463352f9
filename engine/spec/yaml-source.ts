// YAML parsing that keeps source positions, so every spec error can name file, line and column.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';

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
    // A small alias budget defuses "billion laughs" alias bombs.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    const err = this.doc.errors[0];
    if (err) {
      const pos = this.lines.linePos(err.pos[0]);
      throw new SpecError(file, pos.line, pos.col, `YAML syntax error: ${err.message.split('\n')[0]}`);
    }
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
