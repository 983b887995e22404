import { EMULATORS } from '../../providers/registry.js';
import { parseInteger } from '../args.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';

/** The services `emulator` knows: the provider registry's emulators, each loaded only when asked for. */
export const EMULATED_SERVICES: readonly string[] = EMULATORS.map((e) => e.name);

/** `emulator <service>`: start it, print its JSON line, run until SIGINT/SIGTERM, stop it. */
export async function emulator(ctx: CommandContext): Promise<number> {
  const [service, ...rest] = ctx.args;
  if (service === undefined || rest.length > 0) {
    throw new UsageError(`"emulator" takes one service: ${EMULATED_SERVICES.join(', ')}`, 'emulator');
  }
  const registered = EMULATORS.find((e) => e.name === service);
  if (!registered) {
    throw new UsageError(
      `unknown service "${service}": the emulators are ${EMULATED_SERVICES.join(', ')}`,
      'emulator',
    );
  }
  const port = parseInteger(ctx.options.port, '--port', 0, 65535);
  const module = await registered.load();
  const running = await module.start({ port, http: ctx.options.http === true });
  ctx.io.stdout.write(`${JSON.stringify(running.info)}\n`);
  const stop = ctx.io.waitForStop ? await ctx.io.waitForStop() : 'end';
  await running.stop();
  if (ctx.debug) ctx.io.stderr.write(`emulator stopped (${stop})\n`);
  return EXIT_OK;
}
