import type { CliEmulator } from '../../testing/emulator-kit/cli-contract.js';
import { parseInteger } from '../args.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK, UsageError } from '../exit-codes.js';

// One loader per service, each imported only when asked for, so no emulator (and nothing the emulators
// need) is on the start-up path of the other commands.
const EMULATOR_LOADERS = {
  aws: async () => (await import('../../testing/emulators/aws.js')).cliEmulator,
  azure: async () => (await import('../../testing/emulators/azure.js')).cliEmulator,
  vault: async () => (await import('../../testing/emulators/vault.js')).cliEmulator,
  kubernetes: async () => (await import('../../testing/emulators/kubernetes.js')).cliEmulator,
  gcp: async () => (await import('../../testing/emulators/gcp.js')).cliEmulator,
} satisfies Record<string, () => Promise<CliEmulator>>;

/** The services `emulator` knows. */
export const EMULATED_SERVICES = Object.keys(EMULATOR_LOADERS) as (keyof typeof EMULATOR_LOADERS)[];

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

function loadEmulator(service: string): Promise<CliEmulator> {
  return EMULATOR_LOADERS[service as keyof typeof EMULATOR_LOADERS]();
}
