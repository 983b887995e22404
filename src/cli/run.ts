import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandName, parseCommandLine } from './args.js';
import type { CommandContext } from './context.js';
import { EXIT_OK, EXIT_USAGE, exitCodeFor, UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';
import { formatError } from './output.js';

type Command = (ctx: CommandContext) => Promise<number>;

// Each command's module is loaded only when it runs: `get` never parses the copy or init code.
const COMMANDS: Record<Exclude<CommandName, 'help'>, () => Promise<Command>> = {
  put: async () => (await import('./commands/credentials.js')).put,
  get: async () => (await import('./commands/credentials.js')).get,
  list: async () => (await import('./commands/credentials.js')).list,
  describe: async () => (await import('./commands/credentials.js')).describe,
  delete: async () => (await import('./commands/credentials.js')).remove,
  exists: async () => (await import('./commands/credentials.js')).exists,
  init: async () => (await import('./commands/init.js')).init,
  copy: async () => (await import('./commands/copy.js')).copy,
  emulator: async () => (await import('./commands/emulator.js')).emulator,
};

/** The package version, from the package.json above this file (in dist/ or .build/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'nebula-credential' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/**
 * Runs one command line and returns the exit status. Errors are written to `io.stderr` (with a stack
 * only under `--debug`); nothing is thrown. The command's own entry point, not part of the package's
 * exports: applications run the `nebula-credential` binary, and tests call this with their own `CliIo`.
 *
 * @example
 * ```ts
 * // src/cli/main.ts
 * import { processIo } from './io.js';
 * import { runCli } from './run.js';
 * process.exitCode = await runCli(process.argv.slice(2), processIo());
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const { command, args, options } = parseCommandLine(argv);
    if (options.version && command === undefined) {
      io.stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    }
    if (command === undefined || command === 'help') {
      const topic = command === 'help' ? args[0] : undefined;
      if (topic !== undefined && !(topic in COMMANDS)) throw new UsageError(`unknown command "${topic}"`);
      const { helpText } = await import('./help.js');
      if (command === undefined && !options.help) {
        io.stderr.write(helpText());
        return EXIT_USAGE;
      }
      io.stdout.write(helpText(topic as CommandName | undefined));
      return EXIT_OK;
    }
    if (options.help) {
      const { helpText } = await import('./help.js');
      io.stdout.write(helpText(command));
      return EXIT_OK;
    }
    const run = await COMMANDS[command]();
    return await run({ io, args, options, debug: options.debug === true });
  } catch (error) {
    io.stderr.write(formatError(error, debug));
    return exitCodeFor(error);
  }
}
