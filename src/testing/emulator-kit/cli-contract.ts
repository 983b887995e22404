/** Arguments the `nebula-credential emulator <service>` command passes to an emulator. */
export interface CliEmulatorArgs {
  /** Port to listen on (0 or undefined: a free one). */
  port?: number | undefined;
  /** Serve plain http where the service allows it (AWS, Vault); https is the default where it is required. */
  http?: boolean | undefined;
}

/** A running emulator, as the CLI sees it. */
export interface RunningCliEmulator {
  /**
   * The one JSON line printed on stdout: service, endpoint and credentials, plus `config`, the
   * `createStorageProvider` config that connects to this emulator (accepted as it is by `--config`).
   */
  info: { service: string; config: Record<string, unknown>; [key: string]: unknown };
  stop(): Promise<void>;
}

/**
 * What each emulator module (`src/testing/emulators/<service>.ts`) exports as `cliEmulator`, so the CLI can
 * start any of them the same way.
 */
export interface CliEmulator {
  /** The name `nebula-credential emulator <name>` takes (the provider registry's emulator name). */
  service: string;
  start(args: CliEmulatorArgs): Promise<RunningCliEmulator>;
}

/**
 * Starts `emulator`; when that fails (its port is taken, say), stops it before rethrowing, so nothing it set
 * up (a server already listening, CA files) outlives the failure and keeps the process alive.
 *
 * @example
 * ```ts
 * import { KubernetesEmulator, startOrStop } from 'nebula-credential/testing';
 * const emulator = new KubernetesEmulator({ port: 6443 });
 * await startOrStop(emulator); // a busy port rejects with Node's EADDRINUSE error, nothing left running
 * ```
 */
export async function startOrStop<T>(emulator: { start(): Promise<T>; stop(): Promise<void> }): Promise<T> {
  try {
    return await emulator.start();
  } catch (error) {
    await emulator.stop().catch(() => {});
    throw error;
  }
}
