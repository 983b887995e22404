import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeType, describeValue } from './arguments.js';
import { type ConfigIssue, StorageError } from './errors.js';
import { SecretString } from './secret-string.js';

/**
 * Where a setting's value came from: the options object, an environment variable, a file the provider
 * reads by convention (such as `~/.vault-token`), or the default.
 *
 * @example
 * ```ts
 * const source: SettingSource = 'environment'; // e.g. address from VAULT_ADDR
 * ```
 */
export type SettingSource = 'option' | 'environment' | 'file' | 'default';

/**
 * One resolved setting and where it came from, as `--debug` prints it. Secret settings never carry their
 * value.
 *
 * @example
 * ```ts
 * const origin: SettingOrigin = { path: 'address', source: 'environment', from: 'VAULT_ADDR', secret: false };
 * ```
 */
export interface SettingOrigin {
  /** Dotted path of the option, e.g. `tls.caFile`. */
  path: string;
  source: SettingSource;
  /** The environment variable or file the value came from. */
  from?: string | undefined;
  /** A secret: its value is never shown. */
  secret: boolean;
  /** The value of a plain setting (text, number, boolean, path); absent for secrets and objects. */
  value?: string | number | boolean | undefined;
}

type Kind =
  | 'string'
  | 'number'
  | 'boolean'
  | 'enum'
  | 'path'
  | 'secret'
  | 'map'
  | 'list'
  | 'object'
  | 'exclusive'
  | 'tagged'
  | 'custom';

/** Marks values the parse step refused (the issue is already recorded). */
const INVALID: unique symbol = Symbol('invalid');
type Parsed<T> = T | typeof INVALID;

interface ParseContext {
  issues: ConfigIssue[];
  env: Readonly<Record<string, string | undefined>>;
  origins: SettingOrigin[];
  secrets: SecretString[];
}

/** A default fixed in the declaration, or computed from the already resolved sibling settings. */
type DefaultOf<Out> = Out | ((siblings: Readonly<Record<string, unknown>>) => Out);

/** What a field declaration carries at run time. */
export interface FieldSpec {
  readonly kind: Kind;
  /** One line for the docs table: what the option means. */
  readonly doc: string;
  /** Missing is an issue; a string says what to give (`the Vault URL, e.g. https://vault:8200`). */
  readonly required?: true | string | undefined;
  /** Environment variables read, in order, when the option is absent. */
  readonly env?: readonly string[] | undefined;
  /** A conventional file used when neither the option nor the environment gives a value. */
  readonly file?: { readonly path: string; readonly value: (path: string) => unknown } | undefined;
  readonly default?: unknown;
  /** How the docs table words the default, when the value alone would not say it. */
  readonly defaultDoc?: string | undefined;
  /** Nested fields of an object, or the alternatives of an exclusive or tagged field. */
  readonly fields?: Shape | undefined;
  readonly variants?: Readonly<Record<string, Shape>> | undefined;
  readonly tag?: string | undefined;
  /** An object that stays undefined when absent. */
  readonly optionalObject?: boolean | undefined;
  /** Turns the option's value into the resolved one; records issues under `path`. */
  parse(value: unknown, path: string, ctx: ParseContext): Parsed<unknown>;
  /** Turns an environment variable's text into an option value. */
  fromEnv?: ((text: string) => unknown) | undefined;
  /** Sibling options whose presence turns the environment fallback off. */
  readonly envUnless?: readonly string[] | undefined;
}

declare const FIELD_TYPES: unique symbol;

/**
 * A declared option: `In` is what callers pass, `Out` what the provider gets; `Optional` says whether
 * callers may leave it out (true when it has a default, an environment fallback, or is not needed), and
 * `Filled` whether the resolved value is always present.
 */
export interface Field<In, Out, Optional extends boolean, Filled extends boolean> extends FieldSpec {
  readonly [FIELD_TYPES]?: [In, Out, Optional, Filled];
}

// biome-ignore lint/suspicious/noExplicitAny: the widest field type, for constraints only.
export type AnyField = Field<any, any, boolean, boolean>;
/** Named fields: the options of a provider, or of one nested object. */
export type Shape = Readonly<Record<string, AnyField>>;

type InOf<F> = F extends Field<infer In, unknown, boolean, boolean> ? In : never;
type OutOf<F> = F extends Field<unknown, infer Out, boolean, boolean> ? Out : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends Field<unknown, unknown, true, boolean> ? K : never;
}[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;

/**
 * The options type callers write, inferred from a shape.
 *
 * @example
 * ```ts
 * import { option, type InputOf } from 'nebula-credential';
 * const fields = { region: option.string({ doc: 'AWS region' }) };
 * const given: InputOf<typeof fields> = { region: 'eu-west-1' };
 * ```
 */
export type InputOf<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: InOf<S[K]> } & { [K in OptionalKeys<S>]?: InOf<S[K]> | undefined }
>;

/**
 * The resolved settings type, inferred from a shape: defaults applied, secrets as `SecretString`.
 *
 * @example
 * ```ts
 * import { option, type OutputOf } from 'nebula-credential';
 * const fields = { mount: option.string({ doc: 'KV mount', default: 'secret' }) };
 * const resolved: OutputOf<typeof fields> = { mount: 'secret' };
 * ```
 */
export type OutputOf<S extends Shape> = Simplify<{
  [K in keyof S]: S[K] extends Field<unknown, infer Out, boolean, true> ? Out : OutOf<S[K]> | undefined;
}>;

interface BaseConfig<Out> {
  /** What the option means, for the docs table. */
  doc: string;
  required?: true | string | undefined;
  env?: string | readonly string[] | undefined;
  default?: DefaultOf<Out> | undefined;
  defaultDoc?: string | undefined;
  /** A conventional file (`~/.vault-token`) used when neither the option nor the environment is set. */
  file?: { path: string; value: (path: string) => unknown } | undefined;
  /** Turns an environment variable's text into an option value (e.g. `VAULT_TOKEN` into `{ token }`). */
  fromEnv?: ((text: string) => unknown) | undefined;
  /** Sibling options that, when given, make the environment fallback not apply (explicit beats environment). */
  envUnless?: readonly string[] | undefined;
}
type OptionalFlag<C> = C extends { required: true | string }
  ? C extends { env: string | readonly string[] }
    ? true
    : C extends { file: object }
      ? true
      : false
  : true;
type FilledFlag<C> = C extends { required: true | string }
  ? true
  : C extends { default: unknown }
    ? true
    : C extends { file: object }
      ? true
      : false;
type FieldFor<In, Out, C> = Field<In, Out, OptionalFlag<C>, FilledFlag<C>>;

function field<In, Out, C extends BaseConfig<Out>>(
  kind: Kind,
  config: C,
  parse: (value: unknown, path: string, ctx: ParseContext) => Parsed<Out>,
  extra: Partial<FieldSpec> = {},
): FieldFor<In, Out, C> {
  const env =
    config.env === undefined ? undefined : typeof config.env === 'string' ? [config.env] : config.env;
  return {
    kind,
    doc: config.doc,
    required: config.required,
    env,
    default: config.default,
    defaultDoc: config.defaultDoc,
    file: config.file,
    envUnless: config.envUnless,
    parse,
    ...extra,
    fromEnv: config.fromEnv ?? extra.fromEnv,
  } as FieldFor<In, Out, C>;
}

function refuse(ctx: ParseContext, path: string, message: string): typeof INVALID {
  ctx.issues.push({ path, message });
  return INVALID;
}

interface StringConfig<Out> extends BaseConfig<Out> {
  /** Accept the empty string (default: refused). */
  allowEmpty?: boolean | undefined;
  maxLength?: number | undefined;
  pattern?: RegExp | undefined;
  /** The rule in words, for messages (`an AWS region such as eu-west-1`). */
  rule?: string | undefined;
  /** A further check; returns what is wrong, or undefined. */
  check?: ((value: string) => string | undefined) | undefined;
}

function parseString(value: unknown, path: string, ctx: ParseContext, c: StringConfig<unknown>) {
  if (typeof value !== 'string') return refuse(ctx, path, `must be a string (got ${describeType(value)})`);
  if (value.length === 0 && !c.allowEmpty) return refuse(ctx, path, 'must not be empty');
  if (c.maxLength !== undefined && value.length > c.maxLength) {
    return refuse(ctx, path, `must be at most ${c.maxLength} characters (got ${value.length})`);
  }
  if (c.pattern && !c.pattern.test(value)) return refuse(ctx, path, `must be ${c.rule ?? String(c.pattern)}`);
  const problem = c.check?.(value);
  return problem ? refuse(ctx, path, problem) : value;
}

/**
 * Expands a leading `~` to the home directory; other paths are left as given.
 *
 * @example
 * ```ts
 * import { expandHome } from 'nebula-credential';
 * console.log(expandHome('~/.kube/config')); // /home/me/.kube/config
 * ```
 */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(home, path.slice(2));
  return path;
}

function parseSecret(value: unknown, path: string, ctx: ParseContext): Parsed<SecretString> {
  // Always a copy: the caller keeps (and disposes) its own object; the provider disposes only this one.
  let copy: SecretString | undefined;
  if (value instanceof SecretString) {
    if (value.disposed) return refuse(ctx, path, 'is a disposed SecretString');
    copy = value.useBytes((bytes) => new SecretString(bytes));
  } else if (typeof value === 'string' && value.length > 0) copy = new SecretString(value);
  if (!copy || copy.length === 0) {
    copy?.dispose();
    return refuse(ctx, path, 'must be a non-empty string or SecretString');
  }
  ctx.secrets.push(copy);
  return copy;
}

interface NumberConfig<Out> extends BaseConfig<Out> {
  min?: number | undefined;
  max?: number | undefined;
  integer?: boolean | undefined;
}

interface InstanceCheck<T> {
  /** Whether `value` is an instance (a ready `TokenCredential`, a logger). */
  is: (value: unknown) => value is T;
  /** What it must be, for messages. */
  rule: string;
}

interface ObjectConfig<S extends Shape> {
  /** One line for the docs table, when the object's fields need an introduction. */
  doc?: string | undefined;
  /** Absent stays undefined instead of resolving to the fields' defaults. */
  optional?: boolean | undefined;
  /** Checks across the object's fields, after each was resolved. */
  check?: ((values: OutputOf<S>, report: (path: string, message: string) => void) => void) | undefined;
}

type ExclusiveIn<A extends Shape> = { [K in keyof A]: { [P in K]: InOf<A[K]> } }[keyof A];
type ExclusiveOut<A extends Shape> = { [K in keyof A]: { [P in K]: OutOf<A[K]> } }[keyof A];
type TaggedIn<T extends string, V extends Record<string, Shape>> = {
  [K in keyof V]: Simplify<{ [P in T]: K } & InputOf<V[K]>>;
}[keyof V];
type TaggedOut<T extends string, V extends Record<string, Shape>> = {
  [K in keyof V]: Simplify<{ [P in T]: K } & OutputOf<V[K]>>;
}[keyof V];

/**
 * The field builders of an options declaration. Each returns a field whose TypeScript types (what callers
 * pass, what the provider gets) are inferred, so one declaration gives the options type, validation,
 * defaults, environment fallbacks and the docs table.
 *
 * @example
 * ```ts
 * import { option } from 'nebula-credential';
 * const fields = {
 *   address: option.string({ doc: 'Vault URL', env: 'VAULT_ADDR', required: 'the Vault URL' }),
 *   mount: option.string({ doc: 'KV v2 mount', default: 'secret' }),
 *   token: option.secret({ doc: 'Vault token', env: 'VAULT_TOKEN' }),
 *   tls: option.object({ caFile: option.path({ doc: 'CA bundle (PEM file)', env: 'VAULT_CACERT' }) }),
 * };
 * ```
 */
export const option = {
  /** Text; `map` turns it into another type (a URL, a trimmed path). */
  string<const C extends StringConfig<string>>(config: C): FieldFor<string, string, C> {
    return field('string', config, (v, p, ctx) => parseString(v, p, ctx, config) as Parsed<string>);
  },

  /** Text turned into another value by `map` (which may refuse it by returning a message via `check`). */
  text<Out, const C extends StringConfig<Out> & { map: (value: string) => Out }>(
    config: C,
  ): FieldFor<string, Out, C> {
    return field('string', config, (v, p, ctx) => {
      const text = parseString(v, p, ctx, config as StringConfig<unknown>);
      return text === INVALID ? INVALID : config.map(text as string);
    });
  },

  /** A number, optionally whole and within bounds. */
  number<const C extends NumberConfig<number>>(config: C): FieldFor<number, number, C> {
    return field(
      'number',
      config,
      (value, path, ctx) => {
        const range = `${config.integer ? 'a whole number' : 'a number'}${config.min !== undefined ? ` from ${config.min}` : ''}${
          config.max !== undefined ? ` to ${config.max}` : ''
        }`;
        if (
          typeof value !== 'number' ||
          !Number.isFinite(value) ||
          (config.integer && !Number.isInteger(value)) ||
          (config.min !== undefined && value < config.min) ||
          (config.max !== undefined && value > config.max)
        ) {
          return refuse(ctx, path, `must be ${range} (got ${describeValue(value)})`);
        }
        return value;
      },
      { fromEnv: (text) => (/^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text) },
    );
  },

  boolean<const C extends BaseConfig<boolean>>(config: C): FieldFor<boolean, boolean, C> {
    return field(
      'boolean',
      config,
      (value, path, ctx) =>
        typeof value === 'boolean'
          ? value
          : refuse(ctx, path, `must be true or false (got ${describeType(value)})`),
      { fromEnv: (text) => ({ true: true, '1': true, false: false, '0': false })[text.trim()] ?? text },
    );
  },

  /** One of a fixed list of strings. */
  enum<const V extends string, const C extends BaseConfig<V>>(
    values: readonly V[],
    config: C,
  ): FieldFor<V, V, C> {
    const list = values.map((a) => `"${a}"`).join(', ');
    return field('enum', config, (value, path, ctx) =>
      values.includes(value as V)
        ? (value as V)
        : refuse(ctx, path, `must be one of ${list} (got ${describeValue(value)})`),
    );
  },

  /**
   * A file or directory path. `~` is the home directory; a CLI config file resolves relative paths
   * against its own directory.
   */
  path<const C extends StringConfig<string>>(config: C): FieldFor<string, string, C> {
    return field('path', config, (value, path, ctx) => {
      const text = parseString(value, path, ctx, config as StringConfig<unknown>);
      if (text === INVALID) return INVALID;
      if ((text as string).includes('\0')) return refuse(ctx, path, 'must not contain a NUL character');
      return expandHome(text as string);
    });
  },

  /**
   * A secret (token, client secret, passphrase): a string or `SecretString`. The provider always gets its
   * own copy, disposed on `close()`; the caller's object is never disposed. Never shown by `--debug`.
   */
  secret<const C extends BaseConfig<SecretString>>(
    config: C,
  ): FieldFor<string | SecretString, SecretString, C> {
    return field('secret', config, parseSecret);
  },

  /** An object of string values (tags, labels). */
  stringMap<const C extends BaseConfig<Record<string, string>>>(
    config: C,
  ): FieldFor<Record<string, string>, Record<string, string>, C> {
    return field('map', config, (value, path, ctx) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return refuse(ctx, path, 'must be an object of string values');
      }
      let ok = true;
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') ok = refuse(ctx, `${path}.${k}`, 'must be a string') !== INVALID;
      }
      return ok ? { ...(value as Record<string, string>) } : INVALID;
    });
  },

  /** A list of strings. */
  stringList<const C extends BaseConfig<string[]>>(config: C): FieldFor<string[], string[], C> {
    return field('list', config, (value, path, ctx) =>
      Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? [...(value as string[])]
        : refuse(ctx, path, 'must be an array of strings'),
    );
  },

  /**
   * A nested object with its own fields: unknown keys, defaults and environment fallbacks apply inside.
   * Absent, it resolves to its fields' defaults; with `optional: true` it stays undefined (for objects
   * whose fields are required once the object is given, such as explicit credentials).
   */
  object<const S extends Shape, const C extends ObjectConfig<S> = ObjectConfig<S>>(
    fields: S,
    config?: C,
  ): Field<InputOf<S>, OutputOf<S>, true, C extends { optional: true } ? false : true> {
    const check = config?.check as ShapeCheck | undefined;
    return {
      kind: 'object',
      doc: config?.doc ?? '',
      fields,
      optionalObject: config?.optional === true,
      parse: (value, path, ctx) => resolveShape(fields, value, path, ctx, check),
    } as FieldSpec as Field<InputOf<S>, OutputOf<S>, true, C extends { optional: true } ? false : true>;
  },

  /** Exactly one of several alternatives, each under its own key: `{ token }` or `{ appRole: {...} }`. */
  exclusive<const A extends Shape, const C extends BaseConfig<ExclusiveOut<A>>>(
    alternatives: A,
    config: C,
  ): FieldFor<ExclusiveIn<A>, ExclusiveOut<A>, C> {
    const names = Object.keys(alternatives);
    const list = names.map((n) => `"${n}"`).join(', ');
    return field(
      'exclusive',
      config,
      (value, path, ctx) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return refuse(ctx, path, `must be an object with one of ${list}`);
        }
        const keys = Object.keys(value);
        const chosen = keys.filter((k) => names.includes(k));
        for (const key of keys) if (!names.includes(key)) unknownKey(ctx, path, key, names);
        if (chosen.length !== 1) return refuse(ctx, path, `must have exactly one of ${list}`);
        const key = chosen[0]!;
        const inner = resolveValue(
          alternatives[key]!,
          (value as Record<string, unknown>)[key],
          `${path}.${key}`,
          ctx,
          {},
          {},
        );
        return inner === INVALID ? INVALID : ({ [key]: inner } as ExclusiveOut<A>);
      },
      { fields: alternatives },
    ) as FieldFor<ExclusiveIn<A>, ExclusiveOut<A>, C>;
  },

  /**
   * Objects told apart by a `tag` member (`{ type: 'client-secret', ... }`), each variant with its own
   * fields; `instance` also accepts a ready object (a `TokenCredential`) as it is.
   */
  tagged<
    const T extends string,
    const V extends Record<string, Shape>,
    I = never,
    const C extends BaseConfig<unknown> = BaseConfig<unknown>,
  >(
    tag: T,
    variants: V,
    config: C & { instance?: InstanceCheck<I> },
  ): FieldFor<TaggedIn<T, V> | I, TaggedOut<T, V> | I, C> {
    const names = Object.keys(variants);
    return field<unknown, unknown, BaseConfig<unknown>>(
      'tagged',
      config,
      (value, path, ctx) => {
        if (config.instance?.is(value)) return value;
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return refuse(
            ctx,
            path,
            `must be an object with "${tag}"${config.instance ? ` or ${config.instance.rule}` : ''}`,
          );
        }
        const given = (value as Record<string, unknown>)[tag];
        if (!names.includes(given as string)) {
          return refuse(
            ctx,
            `${path}.${tag}`,
            `${given === undefined ? 'is required' : `is not a known type (got ${describeValue(given)})`}: one of ${names.map((n) => `"${n}"`).join(', ')}`,
          );
        }
        const { [tag]: _tag, ...rest } = value as Record<string, unknown>;
        const inner = resolveShape(variants[given as string]!, rest, path, ctx, undefined);
        return inner === INVALID ? INVALID : { [tag]: given, ...inner };
      },
      { variants, tag },
    ) as FieldFor<TaggedIn<T, V> | I, TaggedOut<T, V> | I, C>;
  },

  /** Any value that passes `is` (a logger, a clock, a metrics instance), used as it is. */
  instance<T, const C extends BaseConfig<T>>(check: InstanceCheck<T>, config: C): FieldFor<T, T, C> {
    return field('custom', config, (value, path, ctx) =>
      check.is(value) ? value : refuse(ctx, path, `must be ${check.rule}`),
    );
  },
};

type ShapeCheck = (values: Record<string, unknown>, report: (path: string, message: string) => void) => void;

// Option names are identifiers; a key that is not one may be a value typed in the wrong place, so it is
// never echoed.
const SAFE_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/;

function unknownKey(ctx: ParseContext, parent: string, key: string, known: readonly string[]): void {
  const shown = SAFE_KEY.test(key) ? key : '(a key with unusual characters)';
  const near = SAFE_KEY.test(key) ? suggest(key, known) : undefined;
  ctx.issues.push({
    path: parent ? `${parent}.${shown}` : shown,
    message: `unknown option${near ? ` (did you mean "${near}"?)` : ''}`,
  });
}

/**
 * The name in `known` that `name` is most likely a typo of: case ignored, at most 2 edits away.
 *
 * @example
 * ```ts
 * import { nearestName } from 'nebula-credential';
 * nearestName('adress', ['address', 'auth']); // 'address'
 * ```
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(candidate.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The known option name to suggest for an unknown `key`: a typo ({@link nearestName}), else the one name
 * containing it or contained in it (`read` for `readMs`, `retries` for `maxRetries`).
 *
 * @example
 * ```ts
 * import { suggest } from 'nebula-credential';
 * suggest('retries', ['maxRetries', 'baseDelayMs']); // 'maxRetries'
 * ```
 */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const typo = nearestName(key, known);
  if (typo) return typo;
  const k = key.toLowerCase();
  const containing = known.filter((name) => {
    const n = name.toLowerCase();
    return Math.min(k.length, n.length) >= 3 && (n.includes(k) || k.includes(n));
  });
  return containing.sort((x, y) => Math.abs(x.length - key.length) - Math.abs(y.length - key.length))[0];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function isContainer(kind: Kind): boolean {
  return (
    kind === 'object' ||
    kind === 'exclusive' ||
    kind === 'tagged' ||
    kind === 'custom' ||
    kind === 'map' ||
    kind === 'list'
  );
}

function record(
  ctx: ParseContext,
  spec: FieldSpec,
  path: string,
  source: SettingSource,
  value: unknown,
  from?: string,
) {
  if (spec.kind === 'object') return;
  // Text options mapped to another type (a URL) are shown as text.
  const shown = spec.kind === 'string' && typeof value === 'object' && value !== null ? String(value) : value;
  const plain = typeof shown === 'string' || typeof shown === 'number' || typeof shown === 'boolean';
  ctx.origins.push({
    path,
    source,
    ...(from ? { from } : {}),
    secret: spec.kind === 'secret' || containsSecret(spec),
    ...(plain && spec.kind !== 'secret' && !isContainer(spec.kind) ? { value: shown } : {}),
  });
}

function containsSecret(spec: FieldSpec): boolean {
  const shapes = [spec.fields, ...Object.values(spec.variants ?? {})].filter(Boolean) as Shape[];
  return shapes.some((s) => Object.values(s).some((f) => f.kind === 'secret' || containsSecret(f)));
}

/** Resolves one field: the option, else the environment, else the conventional file, else the default. */
function resolveValue(
  spec: FieldSpec,
  given: unknown,
  path: string,
  ctx: ParseContext,
  siblings: Record<string, unknown>,
  rawSiblings: Record<string, unknown>,
): Parsed<unknown> {
  if (given !== undefined) return parseFrom(spec, given, path, ctx, 'option');
  const envApplies = !spec.envUnless?.some((key) => rawSiblings[key] !== undefined);
  for (const name of envApplies ? (spec.env ?? []) : []) {
    const text = ctx.env[name];
    if (text === undefined || text === '') continue;
    const before = ctx.issues.length;
    const value = parseFrom(spec, spec.fromEnv ? spec.fromEnv(text) : text, path, ctx, 'environment', name);
    for (const issue of ctx.issues.slice(before)) issue.message = `(from ${name}) ${issue.message}`;
    return value;
  }
  if (spec.file) {
    return parseFrom(spec, spec.file.value(expandHome(spec.file.path)), path, ctx, 'file', spec.file.path);
  }
  if (spec.kind === 'object' && !spec.optionalObject) return spec.parse({}, path, ctx);
  if (spec.default !== undefined) {
    const value =
      typeof spec.default === 'function' ? (spec.default as (s: unknown) => unknown)(siblings) : spec.default;
    if (value === undefined) return value;
    const resolved = spec.kind === 'path' && typeof value === 'string' ? expandHome(value) : value;
    record(ctx, spec, path, 'default', resolved);
    return resolved;
  }
  if (spec.required) {
    const rule = typeof spec.required === 'string' ? ` (${spec.required})` : '';
    const env = spec.env?.length ? `; or set ${spec.env.join(' or ')}` : '';
    return refuse(ctx, path, `is required${rule}${env}`);
  }
  return undefined;
}

/** Parses a value and records its origin; nested settings it produced take the same origin. */
function parseFrom(
  spec: FieldSpec,
  given: unknown,
  path: string,
  ctx: ParseContext,
  source: SettingSource,
  from?: string,
): Parsed<unknown> {
  const before = ctx.origins.length;
  const value = spec.parse(given, path, ctx);
  if (value === INVALID) return value;
  const nested = ctx.origins.splice(before);
  if (nested.length === 0) record(ctx, spec, path, source, value, from);
  else ctx.origins.push(...nested.map((o) => (source === 'option' ? o : { ...o, source, from })));
  return value;
}

function resolveShape(
  fields: Shape,
  given: unknown,
  path: string,
  ctx: ParseContext,
  check: ShapeCheck | undefined,
  extraKeys: readonly string[] = [],
): Parsed<Record<string, unknown>> {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
    return refuse(ctx, path, `must be an object (got ${describeType(given)})`);
  }
  const raw = (given ?? {}) as Record<string, unknown>;
  const at = (key: string) => (path ? `${path}.${key}` : key);
  const names = Object.keys(fields);
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(fields, key) && !extraKeys.includes(key)) unknownKey(ctx, path, key, names);
  }
  const out: Record<string, unknown> = {};
  let valid = true;
  // Computed defaults read their siblings, so they are resolved after every other field.
  const later = (n: string) => raw[n] === undefined && typeof fields[n]!.default === 'function';
  const ordered = [...names.filter((n) => !later(n)), ...names.filter(later)];
  for (const key of ordered) {
    const value = resolveValue(fields[key]!, raw[key], at(key), ctx, out, raw);
    if (value === INVALID) valid = false;
    else out[key] = value;
  }
  if (check) check(out, (p, message) => ctx.issues.push({ path: at(p), message }));
  return valid ? out : INVALID;
}

/** What {@link OptionsSchema.resolve} returns. */
export interface ResolvedOptionSet<S extends Shape> {
  /** Every setting, defaults applied. */
  values: OutputOf<S>;
  /** The provider's own copies of the secrets given; it disposes them on `close()`. */
  secrets: SecretString[];
  /** Where each setting came from. */
  origins: SettingOrigin[];
}

/** Options of {@link OptionsSchema.resolve}. */
export interface ResolveOptions {
  /** Environment read for fallbacks. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * A provider's options, declared once: {@link OptionsSchema.resolve} validates them (every problem at once,
 * nested objects included), applies environment fallbacks and defaults, copies secrets, and records where
 * each setting came from; the docs table and the CLI's path handling read the same declaration.
 *
 * @example
 * ```ts
 * import { optionsSchema, option } from 'nebula-credential';
 * const schema = optionsSchema('example', { url: option.string({ doc: 'service URL', required: true }) });
 * const { values } = schema.resolve({ url: 'https://example.com' });
 * console.log(values.url);
 * ```
 */
export class OptionsSchema<S extends Shape> {
  /** The provider the options are for, named in every error. */
  readonly provider: string;
  /** The declared fields (the common ones included for a provider schema). */
  readonly fields: S;
  readonly #check: ShapeCheck | undefined;

  /** A schema of `fields` for `provider`; `check` runs across fields once each was resolved. */
  constructor(
    provider: string,
    fields: S,
    check?: (values: OutputOf<S>, report: (path: string, message: string) => void) => void,
  ) {
    this.provider = provider;
    this.fields = fields;
    this.#check = check as ShapeCheck | undefined;
  }

  /** Validates `options`; throws one `InvalidConfig` listing every problem (`details.issues`). */
  resolve(options: unknown, resolveOptions: ResolveOptions = {}): ResolvedOptionSet<S> {
    const ctx: ParseContext = {
      issues: [],
      env: resolveOptions.env ?? process.env,
      origins: [],
      secrets: [],
    };
    const given = options === undefined ? {} : options;
    let values: Parsed<Record<string, unknown>> = INVALID;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      ctx.issues.push({ path: '', message: 'options must be an object' });
    } else {
      values = resolveShape(this.fields, given, '', ctx, this.#check, ['provider']);
    }
    if (ctx.issues.length > 0 || values === INVALID) {
      for (const secret of ctx.secrets) secret.dispose();
      const list = ctx.issues.map((i) => `${i.path || '(options)'}: ${i.message}`).join('; ');
      throw new StorageError({
        code: 'InvalidConfig',
        message: `invalid options for ${this.provider}: ${list}`,
        provider: this.provider,
        operation: 'configure',
        details: { issues: ctx.issues },
      });
    }
    return { values: values as OutputOf<S>, secrets: ctx.secrets, origins: ctx.origins };
  }

  /** Where each setting of `options` would come from, without keeping any secret. Throws like `resolve`. */
  explain(options: unknown, resolveOptions: ResolveOptions = {}): SettingOrigin[] {
    const { secrets, origins } = this.resolve(options, resolveOptions);
    for (const secret of secrets) secret.dispose();
    return origins;
  }

  /**
   * A copy of `options` with every path option passed through `map` (nested objects and variants
   * included): the CLI resolves a config file's relative paths against the file this way.
   */
  mapPaths(options: Record<string, unknown>, map: (path: string) => string): Record<string, unknown> {
    return mapShapePaths(this.fields, options, map);
  }

  /** The dotted names of every path option (variants included), for documentation and tests. */
  pathOptions(): string[] {
    return walk(this.fields, '')
      .filter(([, f]) => f.kind === 'path')
      .map(([p]) => p);
  }

  /** The dotted names of every secret option. */
  secretOptions(): string[] {
    return walk(this.fields, '')
      .filter(([, f]) => f.kind === 'secret')
      .map(([p]) => p);
  }
}

function mapShapePaths(fields: Shape, value: Record<string, unknown>, map: (path: string) => string) {
  const out: Record<string, unknown> = { ...value };
  for (const [key, spec] of Object.entries(fields)) {
    const v = out[key];
    if (v === undefined || v === null) continue;
    if (spec.kind === 'path' && typeof v === 'string') out[key] = map(v);
    else if (typeof v === 'object' && !Array.isArray(v)) {
      if (spec.kind === 'object') out[key] = mapShapePaths(spec.fields!, v as Record<string, unknown>, map);
      else if (spec.kind === 'exclusive') {
        out[key] = mapExclusive(spec.fields!, v as Record<string, unknown>, map);
      } else if (spec.kind === 'tagged') {
        const variant = spec.variants?.[(v as Record<string, unknown>)[spec.tag!] as string];
        if (variant) out[key] = mapShapePaths(variant, v as Record<string, unknown>, map);
      }
    }
  }
  return out;
}

function mapExclusive(alternatives: Shape, value: Record<string, unknown>, map: (path: string) => string) {
  return mapShapePaths(alternatives, value, map);
}

/**
 * How messages name a setting: the environment variable it came from (`AWS_CA_BUNDLE`), else its option
 * path (`tls.caFile`).
 *
 * @example
 * ```ts
 * import { settingLabel } from 'nebula-credential';
 * settingLabel([{ path: 'tls.caFile', source: 'environment', from: 'VAULT_CACERT', secret: false }], 'tls.caFile'); // 'VAULT_CACERT'
 * ```
 */
export function settingLabel(origins: readonly SettingOrigin[], path: string): string {
  const origin = origins.find((o) => o.path === path);
  return origin?.source === 'environment' && origin.from ? origin.from : path;
}

/** Every field with its dotted path, depth first (variants under their parent's path). */
export function walk(fields: Shape, prefix: string): [string, FieldSpec][] {
  const out: [string, FieldSpec][] = [];
  for (const [key, spec] of Object.entries(fields)) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.push([path, spec]);
    if (spec.fields) out.push(...walk(spec.fields, path));
    for (const variant of Object.values(spec.variants ?? {})) out.push(...walk(variant, path));
  }
  return out;
}
