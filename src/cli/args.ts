import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  provider: { type: 'string' },
  dir: { type: 'string' },
  option: { type: 'string', short: 'o', multiple: true },
  'key-file': { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies OptionSpec;

/** Each command's own options. */
export const COMMAND_OPTIONS = {
  put: {
    tag: { type: 'string', short: 't', multiple: true },
    'rotation-days': { type: 'string' },
    'from-file': { type: 'string' },
    'no-confirm': { type: 'boolean' },
    new: { type: 'boolean' },
  },
  get: { json: { type: 'boolean' } },
  list: {
    tag: { type: 'string', short: 't', multiple: true },
    'created-after': { type: 'string' },
    'created-before': { type: 'string' },
    json: { type: 'boolean' },
  },
  describe: { json: { type: 'boolean' } },
  delete: { force: { type: 'boolean', short: 'f' } },
  exists: {},
  init: { passphrase: { type: 'boolean' } },
  copy: {
    from: { type: 'string' },
    to: { type: 'string' },
    tag: { type: 'string', short: 't', multiple: true },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  emulator: { port: { type: 'string', short: 'p' }, http: { type: 'boolean' } },
  watch: {
    tag: { type: 'string', short: 't', multiple: true },
    interval: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: {},
} as const satisfies Record<string, OptionSpec>;

/** The options that take a whole number, with their range, for `parseInteger` and the parse errors. */
export const NUMBER_OPTIONS = {
  'rotation-days': { min: 1, max: 36500, unit: 'days' },
  port: { min: 0, max: 65535, unit: '' },
} as const satisfies Record<string, { min: number; max: number; unit: string }>;

/** The command names. */
export type CommandName = keyof typeof COMMAND_OPTIONS;

/** Every option value a command can receive, after parsing. */
export interface ParsedOptions {
  config?: string;
  provider?: string;
  dir?: string;
  option?: string[];
  'key-file'?: string;
  debug?: boolean;
  help?: boolean;
  version?: boolean;
  tag?: string[];
  'rotation-days'?: string;
  'from-file'?: string;
  'no-confirm'?: boolean;
  new?: boolean;
  json?: boolean;
  'created-after'?: string;
  'created-before'?: string;
  force?: boolean;
  passphrase?: boolean;
  from?: string;
  to?: string;
  'dry-run'?: boolean;
  port?: string;
  http?: boolean;
  interval?: string;
}

/** The result of parsing a command line. */
export interface ParsedCommandLine {
  command: CommandName | undefined;
  /** Positional arguments after the command name. */
  args: string[];
  options: ParsedOptions;
}

const ALL_OPTIONS: OptionSpec = Object.assign({}, GLOBAL_OPTIONS, ...Object.values(COMMAND_OPTIONS));

/** True when `name` is a command. */
export function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMAND_OPTIONS, name);
}

/**
 * Parses in two passes: first against every option of every command (so an option may come before the
 * command name and a value is never mistaken for the command), then against the global options plus the
 * chosen command's, so an option of another command is refused by name.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  // Only for messages: the first pass fails before it knows the command, and the hint should name it.
  const likelyCommand = argv.find((word) => isCommand(word));
  const first = parse(argv, ALL_OPTIONS, likelyCommand);
  const [name, ...args] = first.positionals;
  if (name === undefined) return { command: undefined, args: [], options: first.values as ParsedOptions };
  if (!isCommand(name)) {
    throw new UsageError(`unknown command "${name}"`);
  }
  const second = parse(argv, { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[name] }, name);
  return { command: name, args, options: second.values as ParsedOptions };
}

function parse(argv: readonly string[], options: OptionSpec, command: string | undefined) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(describeParseError(error as Error, argv, command), command);
    }
    throw error;
  }
}

function describeParseError(error: Error, argv: readonly string[], command: string | undefined): string {
  // parseArgs messages quote the offending token, which could be a secret typed in the wrong place: name the
  // option only.
  const quoted = /'(-{1,2}[A-Za-z0-9-]+)/.exec(error.message)?.[1];
  const code = (error as { code?: string }).code;
  const where = command ? ` for "${command}"` : '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted ?? ''}${where}`.trim();
  if (code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `cannot parse the command line${where}`;
  // The message names the option by its short form first ("-t, --tag <value>"): prefer the long name.
  const option = /(--[A-Za-z0-9-]+)/.exec(error.message)?.[1] ?? quoted ?? '';
  if (/does not take an argument/.test(error.message)) return `option ${option} takes no value${where}`;
  if (/ambiguous/.test(error.message)) {
    const next = argv[argv.indexOf(option) + 1];
    const numeric = NUMBER_OPTIONS[option.slice(2) as keyof typeof NUMBER_OPTIONS];
    // "--rotation-days -3" reaches here: the value looks like an option. Say what is wrong with the number.
    if (numeric && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      return `${option} takes ${rangeText(numeric)} (${next} is negative)`;
    }
    return `option ${option} needs a value${where}; a value that starts with "-" is written ${option}=<value>`;
  }
  return `option ${option} needs a value${where}`;
}

function rangeText(range: { min: number; max: number; unit: string }): string {
  return `a whole number${range.unit ? ` of ${range.unit}` : ''} from ${range.min} to ${range.max}`;
}

/** Parses repeated `key=value` pairs (tags, provider options). */
export function parsePairs(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of values ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new UsageError(`${flag} takes key=value (got a value without "=" or with an empty key)`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Parses a date option (`2026-01-31` or a full ISO-8601 time). */
export function parseDate(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (value.trim() === '' || Number.isNaN(date.getTime())) {
    throw new UsageError(`${flag} takes a date such as 2026-01-31 or 2026-01-31T12:00:00Z`);
  }
  return date;
}

/** Parses one of the {@link NUMBER_OPTIONS}, saying what is wrong with a bad value. */
export function parseInteger(
  value: string | undefined,
  option: keyof typeof NUMBER_OPTIONS,
  command?: string,
): number | undefined {
  if (value === undefined) return undefined;
  const range = NUMBER_OPTIONS[option];
  const text = value.trim();
  const n = Number(text);
  // Only a number is quoted back: anything else could be a value typed in the wrong place.
  let problem: string | undefined;
  if (!/^[-+]?\d+(\.\d+)?$/.test(text)) problem = 'got something that is not a number';
  else if (!Number.isInteger(n)) problem = `${text} is not a whole number`;
  else if (n < 0 && range.min >= 0) problem = `${text} is negative`;
  else if (n < range.min) problem = `${text} is less than ${range.min}`;
  else if (n > range.max) problem = `${text} is more than ${range.max}`;
  if (problem) throw new UsageError(`--${option} takes ${rangeText(range)} (${problem})`, command);
  return n;
}

/** Exactly one positional id, or a usage error. */
export function requireId(args: readonly string[], command: string): string {
  if (args.length !== 1 || args[0] === undefined) {
    throw new UsageError(
      args.length === 0
        ? `"${command}" needs a credential id`
        : `"${command}" takes one credential id (got ${args.length} arguments; the value never goes on the command line)`,
      command,
    );
  }
  return args[0];
}
