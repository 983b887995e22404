import type { StorageProvider } from '../core/provider.js';
import { createStorageProvider } from '../providers/factory.js';
import type { StorageConfig } from '../providers/registry.js';
import type { ParsedOptions } from './args.js';
import { type CliConfig, settingOrigins } from './config.js';
import type { CliIo, CliOutput } from './io.js';
import { type OpenedKey, openKeySource } from './keys.js';
import { debugLogger, warningLogger, withActivity } from './output.js';

/** What a command receives. */
export interface CommandContext {
  io: CliIo;
  args: string[];
  options: ParsedOptions;
  debug: boolean;
}

/** Connects to the backend of `config`, with the debug logger when asked. */
export async function openStorage(ctx: CommandContext, config: CliConfig): Promise<StorageProvider> {
  // Standard error is reached through the getter only when a warning is written: in the binary, touching
  // process.stderr builds a stream (a pipe's loads node:net) that a quiet `get` never uses.
  const { io } = ctx;
  const stderr: CliOutput = {
    write: (chunk) => io.stderr.write(chunk),
    get isTTY() {
      return io.stderr.isTTY;
    },
    get columns() {
      return io.stderr.columns;
    },
  };
  const logger = ctx.debug ? debugLogger(io.stderr) : warningLogger(stderr);
  const storage = { ...config.storage, logger } as StorageConfig;
  if (ctx.debug) {
    const line = (fields: Record<string, unknown>) =>
      ctx.io.stderr.write(`${JSON.stringify({ level: 'debug', ...fields })}\n`);
    line({ message: 'config', source: config.source, provider: config.storage.provider });
    for (const { path, ...origin } of settingOrigins(config, ctx.io.env)) {
      line({ message: 'setting', option: path, ...origin });
    }
  }
  return ctx.io.openStorage ? ctx.io.openStorage(storage) : createStorageProvider(storage);
}

/** The key for `config` (key file or passphrase), and where it came from. */
export function openKey(ctx: CommandContext, config: CliConfig): Promise<OpenedKey> {
  return openKeySource(config.encryption, ctx.io);
}

/** Runs `fn` with an open provider and closes it afterwards, whatever happens. */
export async function withStorage<T>(
  ctx: CommandContext,
  config: CliConfig,
  fn: (provider: StorageProvider) => Promise<T>,
): Promise<T> {
  const provider = await openStorage(ctx, config);
  try {
    return await fn(provider);
  } finally {
    await provider.close().catch(() => {});
  }
}

/**
 * Runs `work` under an activity line on standard error when it is a terminal (connecting included, which
 * can take as long as the work); not under `--debug`, whose log lines share standard error.
 */
export function showActivity<T>(ctx: CommandContext, label: string, work: () => Promise<T>): Promise<T> {
  return ctx.debug ? work() : withActivity(ctx.io.stderr, label, work);
}
