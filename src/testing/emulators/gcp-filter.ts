// The list filter language of Secret Manager (Google's AIP-160 subset): restrictions `field<op>value` with
// ops `:` (has: substring, `*` wildcard, `:*` presence), `=`, `!=`, `<`, `<=`, `>`, `>=`; juxtaposition and
// `AND`; `OR` (which binds tighter than AND in AIP-160); `NOT` or `-`; parentheses; quoted values. Values
// run to the next space or `)` so timestamps such as `create_time>2021-01-01T06:00:00Z` need no quotes.

/** A field's value for filtering: a string, several strings (repeated fields), a time (ms) or absent.
 *
 * @example
 * ```ts
 * const resolve: FilterResolver = (field) => (field === 'labels.env' ? 'prod' : undefined);
 * ```
 */
export type FilterValue = string | readonly string[] | { time: number } | undefined;

/** Looks up a field path (e.g. `labels.env`); `null` means the field is unknown, which is an error. */
export type FilterResolver = (field: string) => FilterValue | null;

/** A compiled filter. Throws {@link FilterError} for unknown fields or bad values while evaluating. */
export type FilterPredicate = (resolve: FilterResolver) => boolean;

/** A filter that does not parse or names an unknown field.
 *
 * @example
 * ```ts
 * try { compileFilter('labels.env=(')(() => undefined); } catch (e) { console.log(e instanceof FilterError); }
 * ```
 */
export class FilterError extends Error {}

type Op = ':' | '=' | '!=' | '<' | '<=' | '>' | '>=';
type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'restriction'; field: string; op: Op; value: string }
  | { kind: 'bare'; value: string };

const OPS: Op[] = ['<=', '>=', '!=', ':', '=', '<', '>'];
const FIELD = /^[A-Za-z_][A-Za-z0-9_.-]*/;

class Parser {
  #i = 0;
  constructor(readonly text: string) {}

  parse(): Node {
    const node = this.#and();
    this.#space();
    if (this.#i < this.text.length)
      throw new FilterError(`unexpected "${this.text.slice(this.#i, this.#i + 20)}"`);
    return node;
  }

  #space(): void {
    while (this.#i < this.text.length && /\s/.test(this.text[this.#i]!)) this.#i++;
  }

  #keyword(word: string): boolean {
    this.#space();
    const rest = this.text.slice(this.#i);
    if (rest.startsWith(word) && (rest.length === word.length || /[\s(]/.test(rest[word.length]!))) {
      this.#i += word.length;
      return true;
    }
    return false;
  }

  #atEnd(): boolean {
    this.#space();
    return this.#i >= this.text.length || this.text[this.#i] === ')';
  }

  #and(): Node {
    const items = [this.#or()];
    for (;;) {
      if (this.#keyword('AND')) items.push(this.#or());
      else if (!this.#atEnd()) items.push(this.#or());
      else break;
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  #or(): Node {
    const items = [this.#term()];
    while (this.#keyword('OR')) items.push(this.#term());
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  #term(): Node {
    if (this.#keyword('NOT')) return { kind: 'not', item: this.#simple() };
    this.#space();
    if (this.text[this.#i] === '-') {
      this.#i++;
      return { kind: 'not', item: this.#simple() };
    }
    return this.#simple();
  }

  #simple(): Node {
    this.#space();
    if (this.text[this.#i] === '(') {
      this.#i++;
      const inner = this.#and();
      this.#space();
      if (this.text[this.#i] !== ')') throw new FilterError('missing ")"');
      this.#i++;
      return inner;
    }
    const rest = this.text.slice(this.#i);
    const field = FIELD.exec(rest)?.[0];
    if (field) {
      this.#i += field.length;
      const op = OPS.find((o) => this.text.startsWith(o, this.#i));
      if (op) {
        this.#i += op.length;
        return { kind: 'restriction', field, op, value: this.#value() };
      }
      return { kind: 'bare', value: field };
    }
    if (rest.startsWith('"')) return { kind: 'bare', value: this.#value() };
    throw new FilterError(rest ? `unexpected "${rest.slice(0, 20)}"` : 'the filter ends too early');
  }

  #value(): string {
    if (this.text[this.#i] === '"') {
      let out = '';
      for (this.#i++; this.#i < this.text.length; this.#i++) {
        const c = this.text[this.#i]!;
        if (c === '\\' && this.#i + 1 < this.text.length) out += this.text[++this.#i];
        else if (c === '"') {
          this.#i++;
          return out;
        } else out += c;
      }
      throw new FilterError('unterminated quoted value');
    }
    const start = this.#i;
    while (this.#i < this.text.length && !/[\s()]/.test(this.text[this.#i]!)) this.#i++;
    if (this.#i === start) throw new FilterError('a restriction needs a value');
    return this.text.slice(start, this.#i);
  }
}

function wildcard(pattern: string, anchored: boolean): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(anchored ? `^${body}$` : body);
}

function compare(actual: FilterValue, op: Op, value: string): boolean {
  if (op === ':' && value === '*') {
    return (
      actual !== undefined && (typeof actual !== 'object' || !Array.isArray(actual) || actual.length > 0)
    );
  }
  if (actual === undefined) return op === '!=';
  if (typeof actual === 'object' && 'time' in actual) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new FilterError(`"${value}" is not an RFC 3339 time`);
    const a = actual.time;
    switch (op) {
      case '<':
        return a < t;
      case '<=':
        return a <= t;
      case '>':
        return a > t;
      case '>=':
        return a >= t;
      case '!=':
        return a !== t;
      default:
        return a === t;
    }
  }
  const values = typeof actual === 'string' ? [actual] : (actual as readonly string[]);
  switch (op) {
    case ':':
      return values.some((v) => wildcard(value, false).test(v));
    case '=':
      return values.some((v) => v === value);
    case '!=':
      return values.every((v) => v !== value);
    case '<':
      return values.some((v) => v < value);
    case '<=':
      return values.some((v) => v <= value);
    case '>':
      return values.some((v) => v > value);
    case '>=':
      return values.some((v) => v >= value);
  }
}

function evaluate(node: Node, resolve: FilterResolver): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((n) => evaluate(n, resolve));
    case 'or':
      return node.items.some((n) => evaluate(n, resolve));
    case 'not':
      return !evaluate(node.item, resolve);
    case 'bare': {
      const name = resolve('name');
      return compare(name ?? undefined, ':', node.value);
    }
    case 'restriction': {
      const actual = resolve(node.field);
      if (actual === null) throw new FilterError(`unknown field "${node.field}"`);
      return compare(actual, node.op, node.value);
    }
  }
}

/**
 * Compiles a Secret Manager list filter. An empty filter matches everything.
 *
 * @example
 * ```ts
 * const match = compileFilter('labels.env=prod AND NOT name:legacy');
 * console.log(match((f) => ({ 'labels.env': 'prod', name: 'projects/1/secrets/api' })[f] ?? null)); // true
 * ```
 */
export function compileFilter(text: string): FilterPredicate {
  if (text.trim() === '') return () => true;
  const node = new Parser(text).parse();
  return (resolve) => evaluate(node, resolve);
}
