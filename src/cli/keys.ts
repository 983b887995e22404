import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { ARGON2ID_PARAMETERS, EncryptionManager } from '../core/crypto.js';
import { isStorageError, StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedTextFile, readDeadline } from '../core/files.js';
import { DEFAULT_TIMEOUTS } from '../core/options.js';
import { readKeyFile } from '../core/store.js';
import { type EncryptionSetting, KEY_FILE_ENV, nebulaPaths, PASSPHRASE_ENV } from './config.js';
import type { CliIo } from './io.js';
import { canPrompt, promptHidden } from './prompt.js';

/** `format` of the passphrase file. */
export const PASSPHRASE_FILE_FORMAT = 'nebula-credential/passphrase';
const SALT_BYTES = 32;

/**
 * The passphrase file: what Argon2id needs besides the passphrase, and the key id of the derived key, so a
 * wrong passphrase is refused before anything is written with the wrong key. The key id is an HMAC of the
 * key; it lets a thief test guesses offline no faster than any stored ciphertext already does.
 */
export interface PassphraseFile {
  format: typeof PASSPHRASE_FILE_FORMAT;
  version: 1;
  kdf: 'argon2id';
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  /** Base64, 32 random bytes. */
  salt: string;
  keyId: string;
}

/** Writes a new random 32-byte key as 64 hex characters, mode 0600; refuses to overwrite. */
export async function createKeyFile(path: string): Promise<void> {
  const key = randomBytes(32);
  try {
    await writeFile(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } finally {
    key.fill(0);
  }
}

/** Derives the key from `passphrase` with a fresh salt and writes the passphrase file, mode 0600. */
export async function createPassphraseFile(path: string, passphrase: string): Promise<void> {
  const salt = randomBytes(SALT_BYTES);
  const manager = await EncryptionManager.fromPassphrase(passphrase, salt);
  const file: PassphraseFile = {
    format: PASSPHRASE_FILE_FORMAT,
    version: 1,
    kdf: 'argon2id',
    memoryKiB: ARGON2ID_PARAMETERS.memoryKiB,
    iterations: ARGON2ID_PARAMETERS.iterations,
    parallelism: ARGON2ID_PARAMETERS.parallelism,
    salt: salt.toString('base64'),
    keyId: manager.keyId,
  };
  manager.dispose();
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

async function readPassphraseFile(path: string, signal: AbortSignal): Promise<PassphraseFile> {
  const text = await readBoundedTextFile(path, {
    signal,
    maxBytes: FILE_SIZE_LIMITS.keyFile,
    what: 'the passphrase file',
    option: 'encryption.passphraseFile',
    missingHint: 'create one with "nebula-credential init --passphrase"',
  });
  let file: Partial<PassphraseFile>;
  try {
    file = JSON.parse(text) as Partial<PassphraseFile>;
  } catch {
    file = {};
  }
  if (
    file.format !== PASSPHRASE_FILE_FORMAT ||
    typeof file.salt !== 'string' ||
    typeof file.keyId !== 'string'
  ) {
    throw new StorageError({
      code: 'Corrupted',
      message: `the passphrase file ${path} is not one "nebula-credential init --passphrase" wrote`,
      operation: 'configure',
      details: { path },
    });
  }
  const p = ARGON2ID_PARAMETERS;
  if (
    file.memoryKiB !== p.memoryKiB ||
    file.iterations !== p.iterations ||
    file.parallelism !== p.parallelism
  ) {
    throw new StorageError({
      code: 'Unsupported',
      message: `the passphrase file ${path} uses Argon2id parameters this release does not derive keys with`,
      operation: 'configure',
      details: { path },
    });
  }
  return file as PassphraseFile;
}

/** Reads the passphrase from `NEBULA_CREDENTIAL_PASSPHRASE`, or asks on the terminal. */
export async function readPassphrase(io: CliIo, question: string): Promise<string> {
  const fromEnv = io.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!canPrompt(io)) {
    throw new StorageError({
      code: 'AuthenticationFailed',
      message: `a passphrase is needed: set ${PASSPHRASE_ENV} or run on a terminal to be asked`,
      operation: 'configure',
    });
  }
  return promptHidden(io, question);
}

/**
 * The key source for a command: the config's `encryption`, else `~/.nebula/key`, else
 * `~/.nebula/passphrase.json`, else an error that says to run `init`.
 */
export async function discoverEncryption(setting: EncryptionSetting | undefined, io: CliIo) {
  if (setting) return setting;
  const paths = nebulaPaths(io.home);
  if (await isFile(paths.key)) return { keyFile: paths.key };
  if (await isFile(paths.passphrase)) return { passphraseFile: paths.passphrase };
  throw new StorageError({
    code: 'InvalidConfig',
    message: `no encryption key: run "nebula-credential init" (creates ${paths.key}), or give --key-file, ${KEY_FILE_ENV} or "encryption" in the config`,
    operation: 'configure',
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** An open key and where it came from, in the words the user gave it (`the key file ~/.nebula/key`). */
export interface OpenedKey {
  manager: EncryptionManager;
  /** The key source, for messages: names a path, never holds a key. */
  source: string;
}

/** `~/...` for paths under the home directory: how the user wrote them. */
function homeRelative(path: string, home: string): string {
  return path === home || !path.startsWith(`${home}/`) ? path : `~/${path.slice(home.length + 1)}`;
}

/**
 * How `setting` is named in messages: "the key file ~/.nebula/key", "the passphrase of
 * ~/.nebula/passphrase.json".
 */
export function describeKeySource(setting: EncryptionSetting, home: string): string {
  return 'keyFile' in setting
    ? `the key file ${homeRelative(setting.keyFile, home)}`
    : `the passphrase of ${homeRelative(setting.passphraseFile, home)}`;
}

/** Finds and opens the key a command needs, remembering where it came from for {@link explainKeyFailure}. */
export async function openKeySource(setting: EncryptionSetting | undefined, io: CliIo): Promise<OpenedKey> {
  const source = await discoverEncryption(setting, io);
  return { manager: await openEncryption(source, io), source: describeKeySource(source, io.home) };
}

/**
 * Rewords a `DecryptionFailed` of credential `id` for the command line: which key the credential was
 * stored with, which key was used and where that key came from, and how to give the right one. Other
 * errors pass through unchanged.
 */
export function explainKeyFailure(error: unknown, id: string, key: OpenedKey): unknown {
  if (!isStorageError(error, 'DecryptionFailed')) return error;
  const stored = error.details['dataKeyId'];
  const used = error.details['keyId'] ?? key.manager.keyId;
  const message =
    typeof stored === 'string' && stored !== used
      ? `cannot decrypt "${id}": it was stored with key ${stored}, but ${key.source} is key ${String(used)}; give the key it was stored with (--key-file, ${KEY_FILE_ENV} or "encryption" in the config)`
      : `cannot decrypt "${id}" with ${key.source} (key ${String(used)}, the one it was stored with): the stored data was altered or damaged`;
  return new StorageError({
    code: 'DecryptionFailed',
    message,
    provider: error.provider,
    operation: error.operation,
    credentialId: error.credentialId ?? id,
    details: error.details,
    cause: error,
  });
}

/** Opens the key for `setting`; a passphrase that does not match the one chosen at `init` is refused. */
export async function openEncryption(
  setting: EncryptionSetting | undefined,
  io: CliIo,
): Promise<EncryptionManager> {
  const source = await discoverEncryption(setting, io);
  const deadline = readDeadline(DEFAULT_TIMEOUTS.connectMs, 'reading the key source');
  let file: PassphraseFile;
  try {
    if ('keyFile' in source) {
      return EncryptionManager.fromKey(await readKeyFile(source.keyFile, { signal: deadline.signal }));
    }
    file = await readPassphraseFile(source.passphraseFile, deadline.signal);
  } finally {
    deadline.clear();
  }
  const passphrase = await readPassphrase(io, 'Passphrase: ');
  const manager = await EncryptionManager.fromPassphrase(passphrase, Buffer.from(file.salt, 'base64'));
  if (manager.keyId !== file.keyId) {
    manager.dispose();
    throw new StorageError({
      code: 'AuthenticationFailed',
      message: `wrong passphrase: it does not match the one set by "nebula-credential init --passphrase" (${source.passphraseFile})`,
      operation: 'configure',
      details: { path: source.passphraseFile },
    });
  }
  return manager;
}
