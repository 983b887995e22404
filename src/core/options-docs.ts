import { COMMON_OPTION_NAMES } from './options.js';
import { type FieldSpec, type OptionsSchema, type Shape, walk } from './options-schema.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';

/**
 * The comments that enclose a provider page's options table, which {@link renderOptionsTable} writes.
 *
 * @example
 * ```ts
 * import { OPTIONS_TABLE_MARKERS } from 'nebula-credential';
 * console.log(OPTIONS_TABLE_MARKERS.begin); // <!-- options-table:begin (generated from the options schema) -->
 * ```
 */
export const OPTIONS_TABLE_MARKERS = Object.freeze({
  begin: '<!-- options-table:begin (generated from the options schema) -->',
  end: '<!-- options-table:end -->',
});

const code = (text: string) => `\`${text}\``;

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value === '' ? "`''`" : code(value);
  if (typeof value === 'number' || typeof value === 'boolean') return code(String(value));
  return code(JSON.stringify(value));
}

function defaultCell(spec: FieldSpec): string {
  if (spec.defaultDoc !== undefined) return spec.defaultDoc;
  const env = (spec.env ?? []).map(code).join(', then ');
  if (spec.required) return env ? `required (or ${env})` : 'required';
  const fallback =
    spec.default === undefined
      ? 'none'
      : typeof spec.default === 'function'
        ? 'computed'
        : formatValue(spec.default);
  return env ? `${env}, else ${fallback}` : fallback;
}

/** Rows of the table: every documented field, nested ones under their dotted path. */
function rows(fields: Shape, common: ReadonlySet<string>): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const [path, spec] of walk(fields, '')) {
    const top = path.split('.')[0]!;
    if (common.has(top)) continue;
    // Objects without a doc of their own are documented by their fields; a tagged union's variants are
    // described in the page's prose.
    if ((spec.kind === 'object' && !spec.doc) || isInsideTagged(fields, path)) continue;
    out.push([code(path), defaultCell(spec), spec.doc]);
  }
  return out;
}

function isInsideTagged(fields: Shape, path: string): boolean {
  const parts = path.split('.');
  let shape: Shape | undefined = fields;
  for (const part of parts.slice(0, -1)) {
    const spec: FieldSpec | undefined = shape?.[part];
    if (!spec) return false;
    if (spec.kind === 'tagged') return true;
    shape = spec.fields;
  }
  return false;
}

function commonRow(fields: Shape): [string, string, string] {
  const maxRetries = (fields['retry']?.fields?.['maxRetries']?.default ??
    DEFAULT_RETRY_POLICY.maxRetries) as number;
  const differs =
    maxRetries !== DEFAULT_RETRY_POLICY.maxRetries ? `, but \`retry.maxRetries\` ${maxRetries}` : '';
  return [
    COMMON_OPTION_NAMES.map(code).join(', '),
    `core defaults${differs}`,
    'as for every provider: deadlines, retries, metrics, logging, clock (see [concepts](../concepts.md))',
  ];
}

/**
 * The options table of a provider's docs page, generated from its schema: one row per option (nested
 * options by dotted path) with its default (environment variables and files first) and meaning, and one
 * row for the common options. Cells are padded so the Markdown source reads as a table too.
 *
 * @example
 * ```ts
 * import { renderOptionsTable, defineProviderOptions, option } from 'nebula-credential';
 * const schema = defineProviderOptions('kv', { url: option.string({ doc: 'service URL', required: true }) });
 * console.log(renderOptionsTable(schema));
 * ```
 */
export function renderOptionsTable(schema: OptionsSchema<Shape>): string {
  const common = new Set<string>(COMMON_OPTION_NAMES);
  const body = [...rows(schema.fields, common), commonRow(schema.fields)].map((row) =>
    row.map((cell) => cell.replace(/\|/g, '\\|')),
  );
  const header = ['option', 'default', 'meaning'];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/**
 * `markdown` with the text between {@link OPTIONS_TABLE_MARKERS} replaced by `table`; undefined when the
 * page has no markers.
 *
 * @example
 * ```ts
 * import { replaceOptionsTable, OPTIONS_TABLE_MARKERS } from 'nebula-credential';
 * const page = `${OPTIONS_TABLE_MARKERS.begin}\nold\n${OPTIONS_TABLE_MARKERS.end}`;
 * console.log(replaceOptionsTable(page, '| new |'));
 * ```
 */
export function replaceOptionsTable(markdown: string, table: string): string | undefined {
  const begin = markdown.indexOf(OPTIONS_TABLE_MARKERS.begin);
  const end = markdown.indexOf(OPTIONS_TABLE_MARKERS.end);
  if (begin < 0 || end < begin) return undefined;
  return `${markdown.slice(0, begin + OPTIONS_TABLE_MARKERS.begin.length)}\n\n${table}\n\n${markdown.slice(end)}`;
}
