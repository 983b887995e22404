import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedTextFile, readDeadline } from '../core/files.js';
import { DEFAULT_TIMEOUTS } from '../core/options.js';
import { nearestName, type SettingOrigin, type SettingSource } from '../core/options-schema.js';
import { findProvider, PROVIDER_NAMES, type StorageConfig } from '../providers/registry.js';
import type { ParsedOptions } from './args.js';
import { parsePairs } from './args.js';
import { UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';

/** Environment variable holding a config file path, or the config itself as inline JSON. */
export const CONFIG_ENV = 'NEBULA_CREDENTIAL_CONFIG';
/** Environment variable naming the key file (overrides the config file's `encryption`). */
export const KEY_FILE_ENV = 'NEBULA_CREDENTIAL_KEY_FILE';
/** Environment variable holding the passphrase, for scripts (a terminal is prompted instead). */
export const PASSPHRASE_ENV = 'NEBULA_CREDENTIAL_PASSPHRASE';

/** Where the CLI keeps its own files: `~/.nebula`. */
export interface NebulaPaths {
  root: string;
  /** Written by `init`; read when no other config is given. */
  config: string;
  /** The random key (`init`), 0600. */
  key: string;
  /** Salt, Argon2id parameters and key check of the passphrase (`init --passphrase`), 0600. */
  passphrase: string;
  /** The local provider's default directory. */
  credentials: string;
}

/** The CLI's files under the user's home directory. */
export function nebulaPaths(home: string): NebulaPaths {
  const root = join(home, '.nebula');
  return {
    root,
    config: join(root, 'config.json'),
    key: join(root, 'key'),
    passphrase: join(root, 'passphrase.json'),
    credentials: join(root, 'credentials'),
  };
}

/** Where the encryption key comes from, as the config file states it. */
export type EncryptionSetting = { keyFile: string } | { passphraseFile: string };

/** Where the options of a CLI config were written, for `--debug`. */
export interface CliSettingOrigin {
  source: SettingSource;
  /** The file, flag or variable. */
  from: string;
}

/** A backend and its encryption, ready for use. */
export interface CliConfig {
  /** The `createStorageProvider` config (without the CLI's `encryption` member). */
  storage: StorageConfig;
  /** The key source named by the config or flags; `undefined` means: look in `~/.nebula`. */
  encryption: EncryptionSetting | undefined;
  /** Where the config came from, for messages. */
  source: string;
  /** Where the options in `storage` were written (a file, inline JSON, the CLI's default)... */
  origin: CliSettingOrigin;
  /** ...except these top-level options, set by flags (`--dir`, `--option`). */
  flags: Record<string, string>;
}

const invalid = (message: string, details?: Record<string, unknown>) =>
  new StorageError({ code: 'InvalidConfig', message, operation: 'configure', details });

/** Expands `~` and resolves a relative path against `baseDir`. */
export function expandPath(path: string, baseDir: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/**
 * Reads a config given as a file path or as inline JSON (a value starting with `{`), the form
 * `--config`, `--from`, `--to` and `NEBULA_CREDENTIAL_CONFIG` accept.
 */
export async function loadConfigSpec(spec: string, io: CliIo, label: string): Promise<CliConfig> {
  const trimmed = spec.trim();
  if (trimmed.startsWith('{')) {
    return normalizeConfig(parseJson(trimmed, label), io.cwd, io, label, { source: 'option', from: label });
  }
  const path = expandPath(trimmed, io.cwd, io.home);
  const deadline = readDeadline(DEFAULT_TIMEOUTS.connectMs, 'reading the config file');
  let text: string;
  try {
    text = await readBoundedTextFile(path, {
      maxBytes: FILE_SIZE_LIMITS.configFile,
      what: 'the config file',
      option: label,
      signal: deadline.signal,
    });
  } finally {
    deadline.clear();
  }
  return normalizeConfig(parseJson(text, `${label} (${path})`), dirname(path), io, `${label} (${path})`, {
    source: 'file',
    from: path,
  });
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the text around the error, which may be a token: say only where it is.
    const where = jsonErrorLocation(text, (error as Error).message);
    const at = where ? `: the error is at line ${where.line}, column ${where.column}` : '';
    throw invalid(`the config from ${label} is not valid JSON${at}`, where ? { ...where } : undefined);
  }
}

/**
 * Line and column (from 1) of a JSON.parse error, from the position V8 reports: "at position N" (Node 20),
 * "(line L column C)" (Node 22 and later), or the end of the text for input that stops early.
 */
export function jsonErrorLocation(
  text: string,
  message: string,
): { line: number; column: number } | undefined {
  const reported = /line (\d+) column (\d+)/.exec(message);
  if (reported) return { line: Number(reported[1]), column: Number(reported[2]) };
  const position = /at position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined;
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Resolves the path options of a provider's config (those its options schema marks as paths, nested ones
 * included: `directory`, `tls.caFile`, `kubeconfigPath`, ...) against `baseDir`, with `~` expanded.
 */
export function resolveConfigPaths(
  storage: Record<string, unknown>,
  baseDir: string,
  home: string,
): Record<string, unknown> {
  const schema = findProvider(storage['provider'])?.options;
  return schema ? schema.mapPaths(storage, (path) => expandPath(path, baseDir, home)) : storage;
}

/**
 * Splits the CLI's `encryption` member off a config object and resolves its paths (every path option of
 * the provider, `encryption.keyFile`, `encryption.passphraseFile`) against `baseDir`, with `~` expanded.
 */
export function normalizeConfig(
  raw: unknown,
  baseDir: string,
  io: CliIo,
  source: string,
  origin: CliSettingOrigin = { source: 'file', from: source },
): CliConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(`the config from ${source} must be a JSON object with a "provider" member`);
  }
  const { encryption, ...storage } = raw as Record<string, unknown>;
  if (typeof storage['provider'] !== 'string') {
    throw invalid(
      `the config from ${source} needs "provider": one of ${PROVIDER_NAMES.map((p) => `"${p}"`).join(', ')}`,
      { issues: [{ path: 'provider', message: 'required' }] },
    );
  }
  return {
    storage: resolveConfigPaths(storage, baseDir, io.home) as unknown as StorageConfig,
    encryption: encryption === undefined ? undefined : parseEncryption(encryption, baseDir, io, source),
    source,
    origin,
    flags: {},
  };
}

const ENCRYPTION_KEYS = ['keyFile', 'passphraseFile'];

function parseEncryption(value: unknown, baseDir: string, io: CliIo, source: string): EncryptionSetting {
  const e = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const keys = Object.keys(e);
  if (keys.length === 1 && typeof e['keyFile'] === 'string') {
    return { keyFile: expandPath(e['keyFile'], baseDir, io.home) };
  }
  if (keys.length === 1 && typeof e['passphraseFile'] === 'string') {
    return { passphraseFile: expandPath(e['passphraseFile'], baseDir, io.home) };
  }
  const unknown = keys.filter((k) => !ENCRYPTION_KEYS.includes(k));
  // A key name is quoted back only when it looks like a name, never when it could be pasted text.
  const typos = unknown
    .map((k) => ({ k, near: /^[A-Za-z][\w-]{0,40}$/.test(k) ? nearestName(k, ENCRYPTION_KEYS) : undefined }))
    .filter((t): t is { k: string; near: string } => t.near !== undefined);
  const secretLike = unknown.filter(
    (k) => /passphrase|password|secret|key$/i.test(k) && !typos.some((t) => t.k === k),
  );
  let hint = '';
  if (secretLike.length > 0) {
    hint = ` (a key or passphrase never goes in the config: use a key file, or ${PASSPHRASE_ENV})`;
  } else if (typos.length > 0) {
    hint = `: ${typos.map(({ k, near }) => `"encryption.${k}" is unknown (did you mean "encryption.${near}"?)`).join('; ')}`;
  }
  throw invalid(
    `"encryption" in the config from ${source} must be {"keyFile": "<path>"} or {"passphraseFile": "<path>"}${hint}`,
    {
      issues:
        typos.length > 0 && secretLike.length === 0
          ? typos.map(({ k, near }) => ({
              path: `encryption.${k}`,
              message: `unknown (did you mean "${near}"?)`,
            }))
          : [{ path: 'encryption', message: 'must be {keyFile} or {passphraseFile}' }],
    },
  );
}

/** The built-in default: the local provider in `~/.nebula/credentials`. */
export function defaultConfig(io: CliIo): CliConfig {
  return {
    storage: { provider: 'local', directory: nebulaPaths(io.home).credentials } as StorageConfig,
    encryption: undefined,
    source: 'the default (local provider in ~/.nebula/credentials)',
    origin: { source: 'default', from: 'the command' },
    flags: {},
  };
}

/** Something is at `path` (a FIFO or a directory too: reading it then says what is wrong with it). */
async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backend for one command: `--config`, else `NEBULA_CREDENTIAL_CONFIG`, else `~/.nebula/config.json`
 * (written by `init`), else the default; then `--provider`, `--dir`, `--option` and `--key-file` on top.
 */
export async function resolveCliConfig(options: ParsedOptions, io: CliIo): Promise<CliConfig> {
  let config: CliConfig;
  const fromEnv = io.env[CONFIG_ENV];
  const homeConfig = nebulaPaths(io.home).config;
  if (options.config !== undefined) config = await loadConfigSpec(options.config, io, '--config');
  else if (fromEnv !== undefined && fromEnv.trim() !== '')
    config = await loadConfigSpec(fromEnv, io, CONFIG_ENV);
  else config = (await loadHomeConfig(homeConfig, io)) ?? defaultConfig(io);
  return applyFlags(config, options, io);
}

/**
 * `~/.nebula/config.json`, or `undefined` when nothing is there. Read first and asked about only when the
 * read fails (a stat before every read was one more thread-pool round trip for each command); the
 * answer is the one a stat first gave: a missing path means the default, anything else there is read
 * and its faults reported.
 */
async function loadHomeConfig(path: string, io: CliIo): Promise<CliConfig | undefined> {
  try {
    return await loadConfigSpec(path, io, '~/.nebula/config.json');
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    // An fs error code means the open or a read failed: nothing there (ENOENT, or a stat that fails too,
    // as for a symlink loop or an unsearchable directory) is the default, as before.
    if (code !== undefined && (code === 'ENOENT' || !(await fileExists(path)))) return undefined;
    throw error;
  }
}

/** Applies `--provider`, `--dir`, `--option` and `--key-file` to a config. */
export function applyFlags(config: CliConfig, options: ParsedOptions, io: CliIo): CliConfig {
  let storage = { ...(config.storage as unknown as Record<string, unknown>) };
  let source = config.source;
  let origin = config.origin;
  const flags = { ...config.flags };
  if (options.provider !== undefined && options.provider !== storage['provider']) {
    // Another provider's options would be invalid for this one: start from its name alone (its
    // environment variables and defaults supply the rest).
    storage = { provider: options.provider };
    source = '--provider';
    origin = { source: 'option', from: '--provider' };
  }
  if (options.dir !== undefined) {
    if (storage['provider'] !== 'local') {
      throw new UsageError(
        `--dir applies to the local provider only (this config uses "${storage['provider']}")`,
      );
    }
    storage['directory'] = expandPath(options.dir, io.cwd, io.home);
    flags['directory'] = '--dir';
  }
  const given: Record<string, unknown> = { provider: storage['provider'] };
  for (const [key, value] of Object.entries(parsePairs(options.option, '--option'))) {
    if (key === 'provider' || key === 'encryption') {
      throw new UsageError(`--option cannot set "${key}": use --provider or a config file`);
    }
    given[key] = parseOptionValue(value);
    flags[key] = '--option';
  }
  // Paths on the command line are relative to the current directory.
  const { provider: _provider, ...resolved } = resolveConfigPaths(given, io.cwd, io.home);
  Object.assign(storage, resolved);
  let encryption = config.encryption;
  const keyFile = options['key-file'] ?? io.env[KEY_FILE_ENV];
  if (keyFile !== undefined && keyFile !== '') encryption = { keyFile: expandPath(keyFile, io.cwd, io.home) };
  return { storage: storage as unknown as StorageConfig, encryption, source, origin, flags };
}

/** `--option timeouts={"readMs":2000}` and `--option port=8200` become JSON; anything else stays a string. */
function parseOptionValue(value: string): unknown {
  if (/^[[{"\d]|^(true|false|null)$|^-\d/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

const QUIET_DEFAULTS = new Set(['metrics', 'logger', 'clock']);

/**
 * Where each setting of `config` comes from, for `--debug`: a flag, the config file (or inline JSON, or the
 * command's default), an environment variable, a conventional file (`~/.vault-token`), or the provider's
 * default. Secrets carry no value. Empty when the options are invalid (creating the provider says why).
 */
export function settingOrigins(
  config: CliConfig,
  env: Readonly<Record<string, string | undefined>>,
): SettingOrigin[] {
  const schema = findProvider(config.storage.provider)?.options;
  if (!schema) return [];
  let origins: SettingOrigin[];
  try {
    origins = schema.explain(config.storage, { env });
  } catch {
    return [];
  }
  return origins
    .filter((o) => !(o.source === 'default' && QUIET_DEFAULTS.has(o.path)))
    .map((o) => {
      if (o.source !== 'option') return o;
      const flag = config.flags[o.path.split('.')[0]!];
      return flag ? { ...o, from: flag } : { ...o, source: config.origin.source, from: config.origin.from };
    });
}
