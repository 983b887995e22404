import { StorageError } from '../../core/errors.js';
import type { CliEmulator } from '../../testing/emulator-kit/cli-contract.js';
import { parseInteger } from '../args.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';

/** The services `emulator` knows, each a module `src/testing/emulators/<service>.ts` exporting `cliEmulator`. */
export const EMULATED_SERVICES = ['aws', 'azure', 'vault', 'kubernetes'] as const;

/** `emulator <service>`: start it, print its JSON line, run until SIGINT/SIGTERM, stop it. */
export async function emulator(ctx: CommandContext): Promise<number> {
  const [service, ...rest] = ctx.args;
  if (service === undefined || rest.length > 0) {
    throw new UsageError(`"emulator" takes one service: ${EMULATED_SERVICES.join(', ')}`, 'emulator');
  }
  if (!(EMULATED_SERVICES as readonly string[]).includes(service)) {
    throw new UsageError(
      `unknown service "${service}": the emulators are ${EMULATED_SERVICES.join(', ')}`,
      'emulator',
    );
  }
  const port = parseInteger(ctx.options.port, '--port', 0, 65535);
  const module = await loadEmulator(service);
  const running = await module.start({ port, http: ctx.options.http === true });
  ctx.io.stdout.write(`${JSON.stringify(running.info)}\n`);
  const stop = ctx.io.waitForStop ? await ctx.io.waitForStop() : 'end';
  await running.stop();
  if (ctx.debug) ctx.io.stderr.write(`emulator stopped (${stop})\n`);
  return EXIT_OK;
}

async function loadEmulator(service: string): Promise<CliEmulator> {
  let module: { cliEmulator?: CliEmulator };
  try {
    // A variable specifier keeps every emulator (and the SDK types they mimic) out of the start-up path.
    module = (await import(`../../testing/emulators/${service}.js`)) as { cliEmulator?: CliEmulator };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') {
      throw new StorageError({
        code: 'Unsupported',
        message: `the ${service} emulator is not part of this build`,
        operation: 'emulator',
      });
    }
    throw error;
  }
  if (!module.cliEmulator || typeof module.cliEmulator.start !== 'function') {
    throw new StorageError({
      code: 'Internal',
      message: `the ${service} emulator module does not export cliEmulator`,
      operation: 'emulator',
    });
  }
  return module.cliEmulator;
}
