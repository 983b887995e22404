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
  service: 'aws' | 'azure' | 'vault' | 'kubernetes' | 'gcp';
  start(args: CliEmulatorArgs): Promise<RunningCliEmulator>;
}
