import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { StorageError } from '../../core/errors.js';
import { expandPath, nebulaPaths, PASSPHRASE_ENV } from '../config.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';
import { createKeyFile, createPassphraseFile } from '../keys.js';
import { canPrompt, promptNewSecret } from '../prompt.js';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `init`: ~/.nebula with the credentials directory, a key file or passphrase file, and config.json. */
export async function init(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 0) throw new UsageError('"init" takes no arguments', 'init');
  for (const flag of ['config', 'provider', 'option', 'key-file'] as const) {
    if (ctx.options[flag] !== undefined) {
      throw new UsageError(`"init" sets up the local default; --${flag} does not apply`, 'init');
    }
  }
  const { io } = ctx;
  const paths = nebulaPaths(io.home);
  const directory = ctx.options.dir ? expandPath(ctx.options.dir, io.cwd, io.home) : paths.credentials;
  const mode = ctx.options.passphrase ? 'passphrase' : 'key';
  const keyPath = mode === 'key' ? paths.key : paths.passphrase;
  const otherPath = mode === 'key' ? paths.passphrase : paths.key;

  if (await exists(otherPath)) {
    throw new StorageError({
      code: 'Conflict',
      message: `${otherPath} already exists: this home was set up ${mode === 'key' ? 'with a passphrase' : 'with a key file'}; init never replaces a key (move it away first if you really mean to, and keep it: it decrypts your credentials)`,
      operation: 'configure',
    });
  }
  if (await exists(keyPath)) {
    io.stdout.write(`Already initialised: ${keyPath} exists (nothing changed).\n`);
    return EXIT_OK;
  }

  const passphrase = mode === 'passphrase' ? await choosePassphrase(ctx) : undefined;
  const createdRoot = !(await exists(paths.root));
  await mkdir(paths.root, { recursive: true, mode: 0o700 });
  if (createdRoot) await chmod(paths.root, 0o700);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  if (passphrase === undefined) await createKeyFile(keyPath);
  else await createPassphraseFile(keyPath, passphrase);

  const tilde = (path: string) => {
    const rel = relative(io.home, path);
    return rel.startsWith('..') || rel.startsWith(sep) ? path : `~/${rel.split(sep).join('/')}`;
  };
  const config = {
    provider: 'local',
    directory: tilde(directory),
    encryption: mode === 'key' ? { keyFile: tilde(keyPath) } : { passphraseFile: tilde(keyPath) },
  };
  let wroteConfig = false;
  if (!(await exists(paths.config))) {
    await writeFile(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    wroteConfig = true;
  }
  const rows: [string, string][] = [
    [tilde(directory), 'credentials directory (mode 0700)'],
    mode === 'key'
      ? [
          tilde(keyPath),
          'random 256-bit key (mode 0600): back it up; without it the credentials cannot be read',
        ]
      : [
          tilde(keyPath),
          `Argon2id salt and key check (mode 0600); the passphrase is asked for, or read from ${PASSPHRASE_ENV}`,
        ],
    [
      tilde(paths.config),
      wroteConfig ? 'backend config {"provider": "local", ...}: edit it to switch backend' : 'kept as it was',
    ],
  ];
  const width = Math.max(...rows.map(([p]) => p.length));
  const lines = [
    `Initialised ${tilde(paths.root)} (mode 0700):`,
    ...rows.map(([p, what]) => `  ${p.padEnd(width)}  ${what}`),
    '',
    'Next: printf %s "$TOKEN" | nebula-credential put my_token && nebula-credential get my_token',
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

async function choosePassphrase(ctx: CommandContext): Promise<string> {
  const short = (p: string) => {
    if (p.length < 8) throw new UsageError('the passphrase must be at least 8 characters', 'init');
    return p;
  };
  const fromEnv = ctx.io.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return short(fromEnv);
  if (!canPrompt(ctx.io)) {
    throw new UsageError(`--passphrase needs a terminal to ask, or ${PASSPHRASE_ENV}`, 'init');
  }
  return promptNewSecret(ctx.io, {
    question: 'New passphrase: ',
    repeat: 'Repeat it: ',
    what: 'passphrases',
    command: 'init',
    confirm: true,
    check: short,
  });
}
