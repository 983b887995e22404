import { StorageError } from '../../core/errors.js';
import { EMULATORS } from '../../providers/registry.js';
import type { RunningCliEmulator } from '../../testing/emulator-kit/cli-contract.js';
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
  const port = parseInteger(ctx.options.port, 'port', 'emulator');
  const module = await registered.load();
  // Listening for SIGINT/SIGTERM before starting: a signal that arrives during start-up still stops the
  // emulator (and removes its temporary files) once it is up.
  const stopping = ctx.io.waitForStop ? ctx.io.waitForStop() : Promise.resolve('end');
  let running: RunningCliEmulator;
  try {
    running = await module.start({ port, http: ctx.options.http === true });
  } catch (error) {
    throw listenFailure(error, service) ?? error;
  }
  ctx.io.stdout.write(`${JSON.stringify(running.info)}\n`);
  const stop = await stopping;
  await running.stop();
  if (ctx.debug) ctx.io.stderr.write(`emulator stopped (${stop})\n`);
  return EXIT_OK;
}

/** A listen error (by its `code`, `port` and `address` fields) as the option mistake it is. */
function listenFailure(error: unknown, service: string): StorageError | undefined {
  const e = error as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  const where = `port ${e?.port} on ${e?.address ?? '127.0.0.1'}`;
  const hint = 'choose another --port (0 picks a free one)';
  const message =
    e?.code === 'EADDRINUSE'
      ? `${where} is already in use, so the ${service} emulator cannot listen there; stop what holds it, or ${hint}`
      : e?.code === 'EACCES'
        ? `the ${service} emulator is not allowed to listen on ${where} (ports below 1024 need privileges); ${hint}`
        : undefined;
  return message === undefined
    ? undefined
    : new StorageError({ code: 'InvalidConfig', message, operation: 'configure', cause: error });
}
